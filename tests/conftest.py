"""Fixtures shared by every test package."""
from __future__ import annotations

from pathlib import Path

import pytest

# shared/ sits beside the repository (here /work/main and /work/shared; in CI the clone and
# shared/ are checked out side by side the same way).
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "providers"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The providers' sample statements (shared/samples/providers). Missing means a broken
    checkout, so the tests that need it fail rather than skip."""
    if not SAMPLES.is_dir():
        pytest.fail(f"provider samples not found at {SAMPLES}: check out shared/ beside the repository")
    return SAMPLES
