"""docs/RELIABILITY.md and the tests agree: every test the table names exists, and every test
class of tests/hostile is in the table (a case tried is a case documented)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "RELIABILITY.md"
REFERENCE = re.compile(r"`(?:e2e )?([\w/]+\.py)::(\w+)(?:::(\w+))?`")


def references() -> set[tuple[str, str, str | None]]:
    return {(m.group(1).removeprefix("tests/"), m.group(2), m.group(3))
            for m in REFERENCE.finditer(DOC.read_text("utf-8"))}


def classes(path: Path) -> dict[str, set[str]]:
    """Test classes of a module and the test functions of each."""
    tree = ast.parse(path.read_text("utf-8"))
    found = {node.name: {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
             for node in tree.body if isinstance(node, ast.ClassDef) and node.name.startswith("Test")}
    # module-level test functions (tests/faults) are named like a class with no methods
    found.update({node.name: set() for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")})
    return found


class TestReliabilityTable:
    """The table in docs/RELIABILITY.md matches the tests."""

    def test_every_named_test_exists(self):
        missing = []
        for module, cls, function in references():
            path = ROOT / "tests" / module
            found = classes(path) if path.is_file() else {}
            if cls not in found or (function is not None and function not in found[cls]):
                missing.append(f"{module}::{cls}" + (f"::{function}" if function else ""))
        assert references() and missing == []

    def test_every_hostile_test_class_is_in_the_table(self):
        named = {(module, cls) for module, cls, _ in references()}
        undocumented = [f"hostile/{path.name}::{cls}" for path in sorted((ROOT / "tests" / "hostile").glob("test_*.py"))
                        if path.name != Path(__file__).name
                        for cls in classes(path) if (f"hostile/{path.name}", cls) not in named]
        assert undocumented == []
