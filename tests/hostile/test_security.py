"""Security of the run: phone numbers never leave the warehouse unmasked, secrets are never
logged, SQL values are always bound, and names from input files are never trusted as paths."""
from __future__ import annotations

import ast
import csv
import json
import logging
import re
import zipfile
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from etl.ingest.base import ParseError
from etl.privacy import MaskingFilter, mask_text
from etl.quarantine import quarantine, safe_name
from tests.hostile import corpus

ROOT = Path(__file__).resolve().parents[2]
ELEVEN_DIGITS = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def texts_of(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` as searchable text: xlsx unzipped, Parquet read as values."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                found[str(path)] = " ".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
        elif path.suffix == ".parquet":
            found[str(path)] = json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False)
        else:
            found[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return found


def msisdn_day(day) -> tuple[set[str], str]:
    """The day's msisdns, one of them planted where bad values are echoed back: as an unknown
    channel (a warning, and a label in the product report), in a complaint's date field (a
    quarantine reason), in a survey comment (the product report's comments)."""
    with day.file("orders").open(encoding="utf-8") as fh:
        msisdns = {row["msisdn"] for row in csv.DictReader(fh)}
    victim = sorted(msisdns)[0]
    orders = day.file("orders")
    channel = corpus.column_index(corpus.lines(orders.read_bytes())[0], "channel", "utf-8")
    orders.write_bytes(corpus.replace_line(orders.read_bytes(), 3, lambda line: b",".join(
        victim.encode() if i == channel else f for i, f in enumerate(line.split(b",")))))
    complaints = day.file("complaints")
    complaints.write_bytes(corpus.replace_line(complaints.read_bytes(), 1, lambda line: b",".join(
        victim.encode() if i == 3 else f for i, f in enumerate(line.split(b",")))))
    surveys = day.file("surveys")
    surveys.write_bytes(corpus.replace_line(surveys.read_bytes(), 1, lambda line: line.rsplit(b",", 1)[0]
                                            + f',"please call {victim} now"'.encode()))
    return msisdns, victim


def leaks(msisdns: set[str], places: dict[str, str]) -> dict[str, list[str]]:
    found = {where: sorted(msisdns & set(ELEVEN_DIGITS.findall(text))) for where, text in places.items()}
    return {where: hits[:3] for where, hits in found.items() if hits}


class TestPhoneNumbersStayInTheWarehouse:
    """A day whose bad values are phone numbers: the breaks export, the run summary, the
    staging manifests, the quarantine reasons and the log messages hold none of the day's
    msisdns unmasked (with or without the logging filter). Staged Parquet and the quarantined
    files themselves are raw input, kept with the landing zone's access rights."""

    @pytest.fixture
    def hostile_run(self, day, caplog):
        msisdns, victim = msisdn_day(day)
        caplog.set_level(logging.DEBUG)
        summary = day.reports_on().run()
        assert any("unknown channel" in w for w in summary.warnings)  # the planted values were reached …
        assert any(q["source"] == "complaints" for q in summary.files_quarantined)
        assert victim[:3] + "****" + victim[-4:] in " ".join(summary.warnings)  # … and shown masked
        return msisdns, caplog.records

    def test_exports_summary_manifests_and_reasons(self, day, hostile_run):
        msisdns, _ = hostile_run
        out = texts_of(day.output)
        places = {**{k: v for k, v in out.items() if Path(k).name in ("breaks.csv", "breaks.parquet",
                                                                       "run_summary.json")},
                  **{k: v for k, v in texts_of(day.root / "staging").items() if k.endswith(".json")},
                  **{str(p): p.read_text("utf-8") for p in (day.root / "quarantine").rglob("*.reason.json")}}
        assert {"breaks.csv", "breaks.parquet", "run_summary.json"} <= {Path(k).name for k in places}
        assert any(k.endswith(".reason.json") for k in places) and any(k.endswith("manifest.json") for k in places)
        assert leaks(msisdns, places) == {}

    def test_log_messages(self, hostile_run):
        msisdns, records = hostile_run
        assert records
        assert leaks(msisdns, {"raw log": "\n".join(r.getMessage() for r in records)}) == {}
        through_filter = logging.Handler()
        through_filter.addFilter(MaskingFilter())
        for record in records:
            through_filter.filter(record)
        assert leaks(msisdns, {"filtered log": "\n".join(r.getMessage() for r in records)}) == {}

    def test_reports(self, day, hostile_run):
        msisdns, _ = hostile_run
        reports = {k: v for k, v in texts_of(day.output).items()
                   if Path(k).suffix in (".html", ".xlsx", ".csv") and Path(k).name != "breaks.csv"}
        assert reports and leaks(msisdns, reports) == {}

    def test_quarantine_reason_is_masked(self, tmp_path):
        landing = tmp_path / "landing"
        (landing / "d").mkdir(parents=True)
        bad = landing / "d" / "orders.csv"
        bad.write_text("x")
        record = quarantine(bad, landing, tmp_path / "q", date(2026, 11, 24), "orders",
                            ParseError(bad, 3, "column msisdn: bad value '13912345678x'"))
        text = Path(record.quarantine_path + ".reason.json").read_text("utf-8")
        assert "13912345678" not in text and "139****5678" in text
        assert record.reason == mask_text(record.reason)


def _sql_calls(tree: ast.AST):
    """(line, first argument) of every call that runs SQL."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("execute", "executemany", "sql", "query", "model", "rows", "scalar")
                and ast.unparse(node.func.value) not in ("pa", "pc", "np") and node.args):
            yield node.lineno, node.args[0]


def _sqlalchemy_statement(arg: ast.AST) -> bool:
    """A SQLAlchemy Core statement (``select(…).where(…)``, ``update(…)``, …): it binds every
    value as a parameter, whatever expressions build it."""
    node = arg
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
        "select", "update", "insert", "delete")


def _interpolated(arg: ast.AST) -> list[str]:
    """What an SQL argument builds its text from, other than string literals."""
    found = []
    if _sqlalchemy_statement(arg):
        return found
    if isinstance(arg, ast.JoinedStr):
        found += [ast.unparse(v.value) for v in arg.values if isinstance(v, ast.FormattedValue)]
    elif isinstance(arg, ast.BinOp):
        found += _interpolated(arg.left) + _interpolated(arg.right)
    elif isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "join":
        for a in arg.args:
            for sub in ast.walk(a):
                if isinstance(sub, ast.JoinedStr):
                    found += _interpolated(sub)
    elif not isinstance(arg, (ast.Constant, ast.Name)):
        found.append(ast.unparse(arg))
    return found


# Every expression formatted into SQL text, per file: identifiers and SQL fragments written in
# this repository (table/column names, model SQL, the COPY target path), never a value from a
# file, the configuration or the user. A new one must be bound as a $parameter instead, or,
# if it truly is an identifier, added here with the reason.
SQL_TEXT_ALLOWED = {
    "etl/export.py": {"BREAKS_SELECT", "sql_path(csv_path)", "sql_path(parquet_path)"},  # COPY cannot bind its path
    # the console's tables: its models from sql/console/, the masking macro's constant, COPY's path
    "etl/console_publish.py": {"MASK_SQL.format(col='msisdn')", "sql", "sql_path(path)"},
    "etl/console_story.py": {"model", "TOLD", "told", "ORDER"},  # sql/ text and constants; the file is $told_file
    "etl/extract/database.py": {"LOCAL_TZ", "plan.from_table", "plan.updated_expr", "plan.select", "condition",
                                "plan.amount_expr", "int(chunk_rows)"},  # plans are code; `condition` binds $n
    "etl/ingest/ledgers.py": {"_typed(c)", "_typed_name(c)", "every", "key", "repeated", "column", "col.name",
                              "which", "select", "sql", "_kept(names, wanted)", "absent", "typed",
                              "typed_key",  # its own column names and rules
                              # a view takes no parameters: the file's path and its header's names
                              # go in as quoted string literals (sql_literal doubles every quote)
                              "sql_literal(str(source))", "columns",
                              # the typing pass and the staged Parquet it wrote, which `checked` views
                              "typing", "_final_columns(columns, guarded)", "sql_literal(str(target))", "_typed_name(col)",
                              "STAGED_COMPRESSION"},
    "etl/ingest/stage.py": {"STAGED_COMPRESSION"},  # a constant codec name
    "etl/load.py": {"table", "c"},  # RAW_TABLE names; TOTALS_COLUMNS as $names
    # model/result table names, and a model's own SQL from sql/ (select_sql)
    "etl/match.py": {"Path(name).name", "target", "', '.join(columns)", "select", "select_sql", "model", "kind"},
    # KEY_HASH's tables and key expressions, the load's select of a staged Parquet (bound
    # $parameters), its own filters of earlier rows and temp table names
    "etl/redelivery.py": {"table", "key", "rows_sql", "new_rows_sql", "earlier", "temp",
                          "row_hashes.select_list(table)"},
    # raw table names and the hash expressions of row_hashes.STORED, all constants of the module
    "etl/row_hashes.py": {"STAMP", "table", "sets", "column", "expr"},
    # ARCHIVED's table and date-column names (qualified), the select of one date's rows (bound
    # $d) and the archive file's path as a literal (COPY cannot bind it)
    "etl/retention.py": {"column", "source", "rows", "target"},
    "etl/warehouse.py": {"sql", "table", "read_sql('warehouse/schema')"},  # sql/ files and their table names
    "reports/exports.py": {"select_sql", "sql_path(path)"},
    "reports/finance.py": {"queue"},
    "reports/marts.py": {"MASK_SQL.format(col='msisdn')", "SAFE_SQL.format(col='value')", "name", "macro"},
    # the console's audit page: `q` is a SQLAlchemy select(...) built above, which binds its values
    "console/app.py": {"q.order_by(AuditEntry.seq)",
                       "q.order_by(AuditEntry.seq.desc()).limit(size).offset((page_no - 1) * size)"},
    # the console's reads: its own in-memory table names (name, ranked, table, source, old, latest[1]),
    # their fixed select lists (_rows) and sorts (TABLE_ORDER, RANKS, SORT_COLUMNS, order_by()),
    # column names from fixed tuples (column, col, LOOKUP_COLUMNS, group), the SLA select whose
    # values are bound (base), and WHERE text of fixed fragments with $parameters (where,
    # condition, BREAKS_OF_ANY, parts); a file is always $file / $files
    "console/published.py": {"name", "base", "TABLE_ORDER", "old", "ranked", "RANKS", "SORT_COLUMNS", "column",
                             "where", "order", "self._rows(table, 'msisdn_hash')", "table", "f.order_by()",
                             "self._rows(latest[1])", "latest[1]", "source", "condition", "rows",
                             "BREAKS_OF_ANY", "LOOKUP_COLUMNS[column]", "col", "group", "' and '.join(parts)"},
}


class TestSqlValuesAreBound:
    """No SQL text is built from a value: an f-string (or concatenation) passed to execute()
    interpolates only allowlisted identifiers; values go in as $parameters."""

    def test_only_identifiers_are_formatted_into_sql(self):
        unexpected = []
        for folder in ("etl", "reports", "console", "dags", "plugins"):
            for path in sorted((ROOT / folder).rglob("*.py")):
                rel = str(path.relative_to(ROOT))
                allowed = SQL_TEXT_ALLOWED.get(rel, set())
                for line, arg in _sql_calls(ast.parse(path.read_text("utf-8"))):
                    unexpected += [f"{rel}:{line}: {{{e}}}" for e in _interpolated(arg) if e not in allowed]
        assert not unexpected, "values formatted into SQL text (bind them as $parameters):\n" + "\n".join(unexpected)

    def test_the_check_catches_a_formatted_value(self):
        tree = ast.parse("wh.execute(f\"delete from raw_orders where landing_date = '{business_date}'\")")
        [(_, arg)] = list(_sql_calls(tree))
        assert _interpolated(arg) == ["business_date"]


SENSITIVE = re.compile(r"pass|secret|token|private|api_?key|credential|pfx|uri", re.I)
HARD_CODED = re.compile(r"(password|passwd|secret|api_?key|private_?key|token)\w*\s*[:=]\s*[\"'][^\"']{4,}[\"']", re.I)


class TestSecrets:
    """Secrets come only from the environment or Airflow connections (etl/extract/credentials.py,
    tested in tests/extract/test_credentials.py): none is written in the code, and no log
    call is handed one (a URI only through redact_uri)."""

    def test_no_secret_literal_in_code(self):
        hits = [f"{p.relative_to(ROOT)}:{n}" for folder in ("etl", "dags", "reports", "bin")
                for p in (ROOT / folder).rglob("*.py")
                for n, line in enumerate(p.read_text("utf-8").splitlines(), 1) if HARD_CODED.search(line)]
        assert hits == []

    def test_no_log_call_is_handed_a_secret(self):
        hits = []
        for folder in ("etl", "dags", "reports"):
            for path in (ROOT / folder).rglob("*.py"):
                for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                    logs = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                            and node.func.attr in ("debug", "info", "warning", "error", "exception", "critical"))
                    if not logs:
                        continue
                    for arg in node.args:
                        if isinstance(arg, ast.Call) and ast.unparse(arg.func).endswith("redact_uri"):
                            continue
                        names = [ast.unparse(s) for s in ast.walk(arg) if isinstance(s, (ast.Name, ast.Attribute))]
                        hits += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names if SENSITIVE.search(n)]
        assert hits == []


class TestNamesFromInputAreNotPaths:
    """A name from input (a landing file's name) becomes a path component only through
    safe_name; zip member names never become paths (tests in test_zip_and_gzip.py)."""

    @pytest.mark.parametrize("name, safe", [
        ("../../etc/passwd", "_.._etc_passwd"),
        ("..", "unnamed"),
        (".hidden.csv", "hidden.csv"),
        ("a\\b\x00c\nd.csv", "a_b_c_d.csv"),
        ("\u202egpj.exe.csv", "_gpj.exe.csv"),
        ("支付宝_业务明细(汇总).csv", "支付宝_业务明细(汇总).csv"),
        ("订单（元）.csv", "订单（元）.csv"),
    ])
    def test_safe_name(self, name, safe):
        assert safe_name(name) == safe

    def test_long_names_fit_the_file_system(self):
        name = safe_name("明" * 300 + ".csv.zip")
        assert len(name.encode("utf-8")) <= 150 and name.endswith(".csv.zip")

    def test_a_name_never_overwrites_another_quarantined_file(self, tmp_path):
        landing = tmp_path / "landing"
        folder = landing / "2026-11-24" / "orders"
        folder.mkdir(parents=True)
        first, second = folder / "a b.csv", folder / "a_b.csv"
        first.write_text("first")
        second.write_text("second")
        one = quarantine(first, landing, tmp_path / "q", date(2026, 11, 24), "orders", "bad")
        two = quarantine(second, landing, tmp_path / "q", date(2026, 11, 24), "orders", "bad")
        assert Path(one.quarantine_path).name == "a_b.csv" and Path(two.quarantine_path).name == "a_b~2.csv"
        assert Path(one.quarantine_path).read_text() == "first" and Path(two.quarantine_path).read_text() == "second"

    def test_a_file_named_like_a_reason_file_is_not_taken_for_one(self, tmp_path):
        landing = tmp_path / "landing"
        (landing / "d").mkdir(parents=True)
        odd = landing / "d" / "x.reason.json"
        odd.write_text("{not json")
        record = quarantine(odd, landing, tmp_path / "q", date(2026, 11, 24), "orders", "bad")
        assert Path(record.quarantine_path).name == "x.reason.json_"
        from etl.quarantine import quarantined_for
        assert [q.source_file for q in quarantined_for(tmp_path / "q", date(2026, 11, 24))] == ["d/x.reason.json"]


def test_airflow_task_logs_are_masked_whatever_the_handler(caplog):
    """Airflow writes task logs through its own handlers: the record itself must be masked."""
    import logging

    import etl.orchestration  # noqa: F401  (installs the masking record factory)

    with caplog.at_level(logging.INFO):
        logging.getLogger("some.other.module").info("credit for %s failed", "13812345678")
    assert "13812345678" not in caplog.text and "138****5678" in caplog.text
