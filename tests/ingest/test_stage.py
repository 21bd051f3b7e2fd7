"""Staging writes each source's accepted files, in file order and with their lineage, as the one
``<source>.parquet`` the load reads: the ledgers through DuckDB straight to Parquet, the
providers from Arrow. A file that fails leaves nothing behind, visible or hidden."""
from __future__ import annotations

import json
import shutil
from datetime import date

import pyarrow as pa
import pytest
import pyarrow.parquet as pq

from etl.config import load_settings
from etl.ingest import ledgers, stage
from etl.ingest.base import ParseError
from etl.ingest.stage import file_hash, parse_file, stage_source
from etl.schema import SOURCE_SCHEMAS
from tests.conftest import paths_env

DAY = date(2026, 11, 1)


def expected(landing, files, source) -> pa.Table:
    """What staging must hold: each file parsed on its own, with its lineage, in file order."""
    tables = []
    for path in files:
        rows = parse_file(path, source).rows.select(SOURCE_SCHEMAS[source].names)
        tables.append(rows.append_column("source_file", pa.array([str(path.relative_to(landing))] * rows.num_rows))
                          .append_column("file_hash", pa.array([file_hash(path)] * rows.num_rows)))
    return pa.concat_tables(tables)


def staged(manifest, source) -> pa.Table:
    table = pq.read_table(manifest.parquet)
    return table.cast(SOURCE_SCHEMAS[source].append(pa.field("source_file", pa.string()))
                      .append(pa.field("file_hash", pa.string())))


def hidden_files(root) -> list[str]:
    """Parts and temporary files left in staging (the spill folder aside)."""
    return [p.name for p in (root / "staging" / DAY.isoformat()).iterdir() if p.is_file() and p.name.startswith(".")]


def test_split_ledger_and_a_provider_staged_in_file_order(small_landing, tmp_path):
    shutil.copytree(small_landing, tmp_path / "landing")
    settings = load_settings(paths_env(tmp_path))
    folder = tmp_path / "landing" / DAY.isoformat() / "orders"
    [whole] = list(folder.iterdir())
    header, *rows = whole.read_bytes().splitlines(keepends=True)
    whole.unlink()
    for i, part in enumerate((rows[: len(rows) // 3], rows[len(rows) // 3:])):
        (folder / f"orders_{i}.csv").write_bytes(header + b"".join(part))
    for source in ("orders", "wechatpay"):
        manifest = stage_source(settings, DAY, source)
        files = stage.source_files(tmp_path / "landing" / DAY.isoformat() / source, source)
        assert [f.source_file for f in manifest.files] == [str(p.relative_to(tmp_path / "landing")) for p in files]
        assert staged(manifest, source).equals(expected(tmp_path / "landing", files, source))
    assert hidden_files(tmp_path) == []


def test_a_refused_ledger_leaves_no_part_behind(small_landing, tmp_path):
    shutil.copytree(small_landing, tmp_path / "landing")
    settings = load_settings(paths_env(tmp_path))
    [orders] = list((tmp_path / "landing" / DAY.isoformat() / "orders").iterdir())
    orders.write_bytes(orders.read_bytes().replace(b"\n", b"\nx,\x00\n", 1))
    manifest = stage_source(settings, DAY, "orders")
    assert manifest.files == [] and len(manifest.quarantined) == 1
    assert pq.read_table(manifest.parquet).num_rows == 0
    assert hidden_files(tmp_path) == []


def test_parts_left_by_a_killed_run_are_removed_when_the_source_is_staged_again(small_landing, tmp_path):
    shutil.copytree(small_landing, tmp_path / "landing")
    settings = load_settings(paths_env(tmp_path))
    folder = tmp_path / "staging" / DAY.isoformat()
    folder.mkdir(parents=True)
    # what a SIGKILL mid-stage leaves: a part of the source, and a half-written combined file
    for name in (".orders.parquet.4242.0.part", ".orders.parquet.4242.tmp"):
        (folder / name).write_bytes(b"PAR1 half written")
    (folder / ".billing.parquet.4242.0.part").write_bytes(b"another source's part: not this one's to remove")
    manifest = stage_source(settings, DAY, "orders")
    assert pq.read_table(manifest.parquet).num_rows == sum(f.rows for f in manifest.files) > 0
    assert hidden_files(tmp_path) == [".billing.parquet.4242.0.part"]


def test_the_load_leaves_its_rows_in_the_database_file_not_in_the_log(small_landing, tmp_path):
    """The load ends with a checkpoint: the match's commit no longer pays for writing the
    day's raw rows, and a crash after the load has no log to replay."""
    from etl.load import load_date
    from etl.warehouse import Warehouse

    shutil.copytree(small_landing, tmp_path / "landing")
    settings = load_settings(paths_env(tmp_path))
    manifests = [stage_source(settings, DAY, s) for s in ("orders", "alipay", "billing")]
    wal = settings.paths.warehouse.with_name(settings.paths.warehouse.name + ".wal")
    with Warehouse(settings) as wh:
        load_date(wh, settings, DAY, manifests)
        assert not wal.exists() or wal.stat().st_size == 0
        assert wh.scalar("select count(*) from raw_orders") == 600


def test_a_broken_row_stops_the_one_pass_staging_and_its_first_line_is_named(small_landing, tmp_path):
    """A ledger is typed, checked and written to Parquet in one pass; a row breaking a rule stops
    that pass half way. The half-written file is removed, and the error names the file's first
    broken line, as parsing it does."""
    [orders] = list((small_landing / DAY.isoformat() / "orders").iterdir())
    lines = orders.read_bytes().split(b"\n")
    column = lines[0].split(b",").index(b"face_value")

    def broken(line: bytes, value: bytes) -> bytes:
        fields = line.split(b",")
        return b",".join(value if i == column else f for i, f in enumerate(fields))

    lines[2], lines[6] = broken(lines[2], b"-5.00"), broken(lines[6], b"abc")  # file lines 3 and 7
    bad = tmp_path / "orders.csv"
    bad.write_bytes(b"\n".join(lines))
    target = tmp_path / "staged.parquet"
    with pytest.raises(ParseError) as staged:
        ledgers.stage(bad, "orders", target, "orders.csv", "hash")
    with pytest.raises(ParseError) as parsed:
        ledgers.parse(bad, "orders")
    assert staged.value.line == 3 and "column face_value: bad value '-5.00'" in staged.value.cause
    assert str(staged.value) == str(parsed.value)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["orders.csv"]


def test_sources_are_parsed_largest_first_and_reported_in_the_configured_order(small_landing, tmp_path, monkeypatch):
    """The parses are scheduled by the work they do: the bytes they read (a zip by what it holds)
    weighted by what a byte costs their parser, so the long ones start first (the largest
    statement first of all: etl.ingest.schedule); the manifests keep the configured order of the
    sources."""
    from etl import pipeline

    shutil.copytree(small_landing, tmp_path / "landing")
    settings = load_settings({**paths_env(tmp_path), "RECON_DUCKDB__THREADS": "1"})  # one worker: in turn
    day = tmp_path / "landing" / DAY.isoformat()
    work = {s: stage.parse_work(day / s, s) for s in settings.source_dirs()}
    [alipay_zip] = [p for p in (day / "alipay").iterdir() if p.suffix == ".zip"]
    assert stage.parse_bytes(day / "alipay", "alipay") > alipay_zip.stat().st_size  # counted uncompressed
    for source, weight in work.items():
        assert weight == stage.parse_bytes(day / source, source) * stage.PARSE_COST_PER_BYTE[source] > 0
    started: list[str] = []
    real = pipeline.stage_source
    monkeypatch.setattr(pipeline, "stage_source", lambda s, d, source: started.append(source) or real(s, d, source))
    manifests = pipeline.stage_all(settings, DAY)
    largest_first = sorted(work, key=lambda s: -work[s])
    statement = next(s for s in largest_first if s not in stage.LEDGER_SOURCES)
    assert started == [statement, *(s for s in largest_first if s != statement)]
    assert len(set(work.values())) == len(work)
    assert [m.source for m in manifests] == list(settings.source_dirs())


def test_a_zip_that_zipfile_cannot_list_is_quarantined_not_a_crash_of_the_schedule(small_landing, tmp_path):
    """Scheduling reads each zip's directory to weigh the parse; a zip that makes zipfile raise
    something other than BadZipFile (a member name flagged UTF-8 that is not) must still reach
    stage_source, which quarantines it, and the other sources are staged."""
    import io
    import struct
    import zipfile

    from etl import pipeline

    shutil.copytree(small_landing, tmp_path / "landing")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("ab.csv", "x,y\n1,2\n")
    data = bytearray(buf.getvalue())
    entry = data.find(b"PK\x01\x02")  # the central directory entry: flag the name UTF-8, make it not
    struct.pack_into("<H", data, entry + 8, struct.unpack_from("<H", data, entry + 8)[0] | 0x800)
    data[entry + 46:entry + 48] = b"\xff\xfe"
    folder = tmp_path / "landing" / DAY.isoformat() / "alipay"
    (folder / "20881234123412340156_20261101.csv.zip").write_bytes(bytes(data))
    (folder / "linked_20261101.csv.zip").symlink_to(tmp_path / "nowhere.zip")
    settings = load_settings(paths_env(tmp_path))
    with pytest.raises(UnicodeDecodeError):
        zipfile.ZipFile(io.BytesIO(bytes(data)))
    manifests = {m.source: m for m in pipeline.stage_all(settings, DAY)}
    quarantined = {q.source_file.rsplit("/", 1)[-1] for q in manifests["alipay"].quarantined}
    assert {"20881234123412340156_20261101.csv.zip", "linked_20261101.csv.zip"} <= quarantined
    assert all(m.files for s, m in manifests.items() if s != "alipay")


def test_a_provider_statement_is_staged_in_row_groups_the_load_can_share_out(small_landing, tmp_path, monkeypatch):
    """The load reads a staged Parquet one row group per DuckDB thread: a statement written as one
    row group (pyarrow's default holds 1M rows) would load on one core."""
    shutil.copytree(small_landing, tmp_path / "landing")
    settings = load_settings(paths_env(tmp_path))
    monkeypatch.setattr(stage, "PARQUET_ROW_GROUP", 50)
    manifest = stage_source(settings, DAY, "wechatpay")
    metadata = pq.ParquetFile(manifest.parquet).metadata
    assert metadata.num_rows > 100
    assert metadata.num_row_groups == -(-metadata.num_rows // 50)
    assert all(metadata.row_group(i).num_rows <= 50 for i in range(metadata.num_row_groups))


def test_a_ledger_value_is_staged_without_the_spaces_around_it(tmp_path):
    """Exports pad values (fixed-width tools, a full-width space typed in Excel): an order is the
    same order, a province the same province, with or without them. Spaces inside a value stay,
    and a value of spaces only is no value."""
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,created_at,msisdn,province,channel,product_type,product_code,face_value,pay_amount,"
        "pay_method,status,updated_at\n"
        '" T1 ",2026-11-01T10:00:00+08:00, 13800000000 ,\u3000BJ\u3000,web ,call_credit,CC 50, 50.00 ,50.00,'
        "alipay,paid,\n"
        "T2,2026-11-01T10:05:00,13800000001,   ,app,data,\u00a0D1\u00a0,10.00,10.00,wechatpay,credited,\n",
        "utf-8")
    target = tmp_path / "orders.parquet"
    rows, warnings, _ = ledgers.stage(path, "orders", target, "orders.csv", "h")
    got = pq.read_table(target).select(["order_id", "msisdn", "province", "channel", "product_code",
                                        "face_value"]).to_pylist()
    assert (rows, warnings) == (2, [])
    assert [(r["order_id"], r["msisdn"], r["province"], r["channel"], r["product_code"], str(r["face_value"]))
            for r in got] == [("T1", "13800000000", "BJ", "web", "CC 50", "50.00"),
                              ("T2", "13800000001", None, "app", "D1", "10.00")]


def test_a_ledger_with_nothing_to_trim_stages_as_if_every_value_were_trimmed(tmp_path, monkeypatch):
    """A file with no space and no non-ASCII byte skips the trim (base.TextShape.nothing_to_trim):
    its rows must be what trimming gives, control characters at a value's edges and quoted empty
    values included (trim drops spaces, Unicode's among them, and nothing else)."""
    path = tmp_path / "orders.csv"
    path.write_bytes(
        b"order_id,created_at,msisdn,province,channel,product_type,product_code,face_value,pay_amount,"
        b"pay_method,status,updated_at\n"
        b'T1,2026-11-01T10:00:00+08:00,13800000000,\tBJ\t,web,call_credit,"",50.00,50.00,alipay,paid,\n'
        b"T2,2026-11-01T10:05:00,13800000001,\x0bSH\x0c,app,data,D1\t,10.00,10.00,wechatpay,credited,\n")
    asked: list[bool] = []
    trimmed = ledgers._trimmed
    monkeypatch.setattr(ledgers, "_trimmed", lambda columns, trim=True: asked.append(trim) or trimmed(columns, trim))
    fast, slow = tmp_path / "fast.parquet", tmp_path / "slow.parquet"
    assert ledgers.stage(path, "orders", fast, "orders.csv", "h")[0] == 2
    monkeypatch.setattr(ledgers, "_trimmed", lambda columns, trim=True: asked.append(trim) or trimmed(columns, True))
    ledgers.stage(path, "orders", slow, "orders.csv", "h")
    assert asked == [False, False]  # both passes were offered the fast path; the second trimmed anyway
    assert pq.read_table(fast).equals(pq.read_table(slow))
    assert pq.read_table(fast).column("product_code").to_pylist() == [None, "D1\t"]


def test_the_manifest_says_whether_a_ledger_file_has_a_key_on_two_rows(small_landing, tmp_path):
    """The load trusts it to skip looking for repeats among a file's own rows: a file holding a
    copy of a row must say so, and a manifest written before the field existed says nothing."""
    shutil.copytree(small_landing, tmp_path / "landing")
    settings = load_settings(paths_env(tmp_path))
    [whole] = list((tmp_path / "landing" / DAY.isoformat() / "billing").iterdir())
    assert [f.keys_unique for f in stage_source(settings, DAY, "orders").files] == [True]
    whole.write_bytes(whole.read_bytes() + whole.read_bytes().splitlines(keepends=True)[-1])  # a copy of its last row
    manifest = stage_source(settings, DAY, "billing")
    assert [f.keys_unique for f in manifest.files] == [False]
    older = json.loads(stage_source(settings, DAY, "orders").to_json())
    del older["files"][0]["keys_unique"]
    assert stage.SourceManifest.from_json(json.dumps(older)).files[0].keys_unique is False


def test_the_key_a_ledger_parse_finds_unique_is_the_key_the_load_flags_repeats_by():
    """keys_unique lets the load skip grouping a file's key hashes: it must speak of that key."""
    from etl.load import RAW_TABLE
    from etl.redelivery import KEY_HASH

    flagged = [s for s in stage.LEDGER_SOURCES if RAW_TABLE[s] in KEY_HASH]
    assert flagged == ["orders", "billing"]
    for source in flagged:
        assert KEY_HASH[RAW_TABLE[source]] == f"hash({ledgers.LEDGERS[source][0].name})"
