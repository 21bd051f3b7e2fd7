"""The order and billing pulls, against the real PostgreSQL and MariaDB servers.

Each test builds its own small, deterministic ledger, loads it into a fresh table, pulls, and
compares the landed Parquet with the rows it generated, exactly.
"""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl.extract import database
from etl.extract.database import (
    LANDING_SCHEMAS, ChecksumMismatch, ExtractError, SourceTable, pull_billing, pull_orders,
)

pytestmark = pytest.mark.db

D1, D2, D3 = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)
CUTOFF = timedelta(hours=2)
EXACT = timedelta(0)  # no overlap: the delta holds exactly the rows changed since the watermark

ORDER_COLUMNS = {
    "order_id": "text", "created_at": "ts", "msisdn": "text", "province": "text", "channel": "text",
    "product_type": "text", "product_code": "text", "face_value": "money", "pay_amount": "money",
    "pay_method": "text", "status": "text", "updated_at": "ts",
}
BILLING_COLUMNS = {
    "credit_id": "text", "order_id": "text", "msisdn": "text", "amount": "money", "product_type": "text",
    "credited_at": "ts", "result": "text", "result_code": "text", "reverses_credit_id": "text", "updated_at": "ts",
}
PRODUCTS = [
    ("call_credit", "CC50", Decimal("50.00"), Decimal("49.80")),
    ("data", "DATA10G", Decimal("30.00"), Decimal("29.90")),
    ("plan", "PLAN5G129", Decimal("129.00"), Decimal("129.00")),
    ("call_credit", "CC100", Decimal("100.00"), Decimal("0.01")),
]
STATUSES = ["paid", "credited", "failed", "refunded", "created", "cancelled"]


# ---------------------------------------------------------------------------- the generator


def make_orders(day: date, n: int, *, first: int = 0) -> list[dict]:
    """``n`` orders created on ``day``, spread over the day with microseconds, deterministic."""
    rows = []
    for k in range(first, first + n):
        product_type, code, face, pay = PRODUCTS[k % len(PRODUCTS)]
        created = datetime.combine(day, time()) + timedelta(seconds=(k * 7919) % 86_000 + 60,
                                                            microseconds=(k * 104_729) % 1_000_000)
        rows.append({
            "order_id": f"T{day:%Y%m%d}{k:06d}",
            "created_at": created,
            "msisdn": f"1{3 + k % 7}{(k * 7_654_321) % 10**9:09d}",
            "province": None if k % 5 == 0 else ["GD", "BJ", "SH", "ZJ"][k % 4],
            "channel": ["web", "app", "alipay_mini", "wechat_mini", "京东"][k % 5],
            "product_type": product_type,
            "product_code": code,
            "face_value": face,
            "pay_amount": pay,
            "pay_method": ["alipay", "wechatpay", "unionpay"][k % 3],
            "status": STATUSES[k % len(STATUSES)],
            "updated_at": created + timedelta(minutes=3),
        })
    return rows


def edge_orders(day: date) -> list[dict]:
    """Orders at the very edges of the day, and the largest amount DECIMAL(18,2) holds."""
    start = datetime.combine(day, time())
    rows = make_orders(day, 3, first=900)
    rows[0].update(order_id=f"E{day:%Y%m%d}first", created_at=start, updated_at=start + timedelta(seconds=1))
    rows[1].update(order_id=f"E{day:%Y%m%d}last", created_at=start + timedelta(days=1, microseconds=-1),
                   updated_at=start + timedelta(days=1, seconds=5))
    rows[2].update(order_id=f"E{day:%Y%m%d}huge", face_value=Decimal("9999999999999999.99"),
                   pay_amount=Decimal("9999999999999999.99"))
    return rows


def make_billing(day: date, orders: list[dict]) -> list[dict]:
    """One credit per order, 4 minutes after it, plus a reversal and a credit with no order."""
    rows = []
    for k, order in enumerate(orders):
        at = order["created_at"] + timedelta(minutes=4)
        rows.append({
            "credit_id": f"C{order['order_id']}", "order_id": order["order_id"], "msisdn": order["msisdn"],
            "amount": order["face_value"], "product_type": order["product_type"], "credited_at": at,
            "result": "failed" if k % 9 == 4 else "success", "result_code": "E1021" if k % 9 == 4 else "0000",
            "reverses_credit_id": None, "updated_at": at,
        })
    first = rows[0]
    rows.append({**first, "credit_id": f"R{first['credit_id']}", "amount": -first["amount"], "result": "reversed",
                 "result_code": "0000", "reverses_credit_id": first["credit_id"],
                 "credited_at": first["credited_at"] + timedelta(hours=1),
                 "updated_at": first["credited_at"] + timedelta(hours=1)})
    rows.append({**first, "credit_id": f"P{day:%Y%m%d}promo", "order_id": None, "amount": Decimal("5.00"),
                 "credited_at": datetime.combine(day, time(12)), "updated_at": datetime.combine(day, time(12))})
    return rows


def landed(row: dict, kind: str) -> dict:
    """What a generated row looks like in the landing zone: landing columns, whole seconds."""
    out = {}
    for name in LANDING_SCHEMAS[kind].names:
        value = row.get(name)
        out[name] = value.replace(microsecond=0) if isinstance(value, datetime) else value
    return out


def read(path: Path) -> list[dict]:
    return sorted(pq.read_table(path).to_pylist(), key=lambda r: (r.get("order_id") or "", r.get("credit_id") or ""))


def expect(rows: list[dict], kind: str) -> list[dict]:
    return sorted((landed(r, kind) for r in rows), key=lambda r: (r.get("order_id") or "", r.get("credit_id") or ""))


def orders_table(db, rows: list[dict], columns: dict[str, str] = ORDER_COLUMNS) -> SourceTable:
    name = db.create("orders", columns)
    db.insert(name, rows)
    return SourceTable(table=name, date_column="created_at")


def written_schema(kind: str) -> pa.Schema:
    """The landing schema as Parquet stores it: it has no seconds unit, so timestamps come back in ms."""
    return pa.schema([f.with_type(pa.timestamp("ms")) if pa.types.is_timestamp(f.type) else f
                      for f in LANDING_SCHEMAS[kind]])


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------- behaviour


class TestDailyPull:
    """A pull for D lands exactly D's rows, as the generator made them."""

    def test_orders_file_holds_exactly_the_days_rows(self, db, tmp_path):
        day_rows = make_orders(D2, 40) + edge_orders(D2)
        table = orders_table(db, make_orders(D1, 10) + day_rows + make_orders(D3, 10))

        result = pull_orders(db.uri, D2, tmp_path / "landing", tmp_path / "state", table=table, chunk_rows=7)

        path = tmp_path / "landing" / "2026-11-24" / "orders" / "orders_2026-11-24.parquet"
        assert [f.path for f in result.files] == [path]
        assert files(path.parent) == ["orders_2026-11-24.parquet"]
        assert pq.read_schema(path).remove_metadata() == written_schema("orders")
        assert read(path) == expect(day_rows, "orders")
        assert result.files[0].rows == 43
        assert result.files[0].amount == sum(r["pay_amount"] for r in day_rows)

    def test_rows_are_streamed_in_chunks(self, db, tmp_path):
        table = orders_table(db, make_orders(D2, 40))
        path = pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table, chunk_rows=7).files[0].path
        assert pq.ParquetFile(path).metadata.num_row_groups >= 6  # 40 rows in chunks of at most 7

    def test_billing_is_taken_at_the_cutoff(self, db, tmp_path):
        orders = make_orders(D2, 12)
        rows = make_billing(D2, orders)
        start = datetime.combine(D2, time())
        edges = [  # credited_at → belongs to the export of …
            ("before", start + CUTOFF - timedelta(microseconds=1)),  # D1's export
            ("first", start + CUTOFF),  # D2's
            ("last", start + timedelta(days=1) + CUTOFF - timedelta(microseconds=1)),  # D2's
            ("after", start + timedelta(days=1) + CUTOFF),  # D3's
        ]
        for name, at in edges:
            rows.append({**rows[1], "credit_id": f"edge-{name}", "credited_at": at, "updated_at": at})
        name = db.create("billing", BILLING_COLUMNS)
        db.insert(name, rows)
        table = SourceTable(table=name, date_column="credited_at")

        path = pull_billing(db.uri, D2, tmp_path, tmp_path / "state", cutoff=CUTOFF, table=table).files[0].path

        assert path == tmp_path / "2026-11-24" / "billing" / "billing_2026-11-24.parquet"
        wanted = [r for r in rows if start + CUTOFF <= r["credited_at"] < start + timedelta(days=1) + CUTOFF]
        assert {"edge-first", "edge-last"} <= {r["credit_id"] for r in wanted}
        assert not {"edge-before", "edge-after"} & {r["credit_id"] for r in wanted}
        assert read(path) == expect(wanted, "billing")

    def test_a_day_without_rows_lands_an_empty_file(self, db, tmp_path):
        table = orders_table(db, make_orders(D1, 5))
        result = pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table)
        assert result.files[0].rows == 0
        assert pq.read_schema(result.files[0].path).remove_metadata() == written_schema("orders")


class TestLateStatusChange:
    """A status that changes after its day was pulled reaches the landing zone in the next pull."""

    def test_next_pull_picks_up_a_changed_order(self, db, tmp_path):
        d1, d2 = make_orders(D1, 20), make_orders(D2, 20)
        table = orders_table(db, d1 + d2)
        state = tmp_path / "state"
        first = pull_orders(db.uri, D1, tmp_path, state, table=table, overlap=EXACT)
        assert first.previous_watermark is None and len(first.files) == 1

        changed = {**d1[3], "status": "refunded", "updated_at": datetime(2026, 11, 25, 0, 40, 12, 345678)}
        db.update(table.table, "order_id", changed["order_id"], status="refunded", updated_at=changed["updated_at"])
        second = pull_orders(db.uri, D2, tmp_path, state, table=table, overlap=EXACT)

        folder = tmp_path / "2026-11-24" / "orders"
        assert files(folder) == ["orders_2026-11-24.parquet", "orders_2026-11-24_delta_1.parquet"]
        assert read(folder / "orders_2026-11-24.parquet") == expect(d2, "orders")
        assert read(folder / "orders_2026-11-24_delta_1.parquet") == expect([changed], "orders")
        assert second.watermark == changed["updated_at"]  # full precision, though the file keeps seconds
        assert json.loads((state / "orders.json").read_text())["watermark"] == "2026-11-25T00:40:12.345678"

    def test_nothing_changed_lands_no_delta(self, db, tmp_path):
        table = orders_table(db, make_orders(D1, 10) + make_orders(D2, 10))
        pull_orders(db.uri, D1, tmp_path, tmp_path / "state", table=table, overlap=EXACT)
        result = pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table, overlap=EXACT)
        assert [f.path.name for f in result.files] == ["orders_2026-11-24.parquet"]

    def test_each_later_change_lands_as_the_next_delta(self, db, tmp_path):
        d1 = make_orders(D1, 10)
        table = orders_table(db, d1 + make_orders(D2, 10))
        state = tmp_path / "state"
        pull_orders(db.uri, D1, tmp_path, state, table=table, overlap=EXACT)
        db.update(table.table, "order_id", d1[0]["order_id"], status="refunded", updated_at=datetime(2026, 11, 25, 1))
        pull_orders(db.uri, D2, tmp_path, state, table=table, overlap=EXACT)
        db.update(table.table, "order_id", d1[1]["order_id"], status="failed", updated_at=datetime(2026, 11, 25, 9))
        again = pull_orders(db.uri, D2, tmp_path, state, table=table, overlap=EXACT)  # the task run again later that day

        delta_2 = tmp_path / "2026-11-24" / "orders" / "orders_2026-11-24_delta_2.parquet"
        assert [f.path for f in again.files][1:] == [delta_2]
        assert read(delta_2) == expect([{**d1[1], "status": "failed", "updated_at": datetime(2026, 11, 25, 9)}], "orders")

    def test_overlap_sends_recent_changes_again(self, db, tmp_path):
        """Rows stamped shortly before the watermark may commit after the pull read it: the
        next pull looks back ``overlap`` and sends them again (the latest updated_at wins)."""
        d1 = make_orders(D1, 6)
        table = orders_table(db, d1 + make_orders(D2, 6))
        state = tmp_path / "state"
        pull_orders(db.uri, D1, tmp_path, state, table=table)
        db.update(table.table, "order_id", d1[0]["order_id"], status="refunded", updated_at=datetime(2026, 11, 25, 1))
        pull_orders(db.uri, D2, tmp_path, state, table=table)
        db.update(table.table, "order_id", d1[1]["order_id"], status="failed", updated_at=datetime(2026, 11, 25, 1, 2))
        again = pull_orders(db.uri, D2, tmp_path, state, table=table, overlap=timedelta(minutes=5))
        assert [r["order_id"] for r in read(again.files[1].path)] == [d1[0]["order_id"], d1[1]["order_id"]]

    def test_late_credit_of_an_earlier_day_reaches_the_billing_delta(self, db, tmp_path):
        rows = make_billing(D1, make_orders(D1, 6))
        name = db.create("billing", BILLING_COLUMNS)
        db.insert(name, rows)
        table = SourceTable(table=name, date_column="credited_at")
        pull_billing(db.uri, D1, tmp_path, tmp_path / "state", cutoff=CUTOFF, table=table, overlap=EXACT)
        late = {**rows[2], "credit_id": "C-late", "credited_at": datetime(2026, 11, 23, 23, 0),
                "updated_at": datetime(2026, 11, 25, 1, 30)}  # back-dated insert after D1's pull
        db.insert(name, [late])

        result = pull_billing(db.uri, D2, tmp_path, tmp_path / "state", cutoff=CUTOFF, table=table, overlap=EXACT)

        assert read(result.files[1].path) == expect([late], "billing")

    def test_backfill_of_an_earlier_day_keeps_the_watermark(self, db, tmp_path):
        d1, d2 = make_orders(D1, 10), make_orders(D2, 10)
        table = orders_table(db, d1 + d2 + make_orders(D3, 10))
        state = tmp_path / "state"
        pull_orders(db.uri, D2, tmp_path, state, table=table, overlap=EXACT)
        mark = json.loads((state / "orders.json").read_text())["watermark"]
        db.update(table.table, "order_id", d1[5]["order_id"], status="refunded", updated_at=datetime(2026, 11, 26, 3))

        backfill = pull_orders(db.uri, D1, tmp_path, state, table=table, overlap=EXACT)
        assert len(backfill.files) == 1 and read(backfill.files[0].path) == expect(
            [{**r, "status": "refunded", "updated_at": datetime(2026, 11, 26, 3)} if r is d1[5] else r for r in d1],
            "orders")
        assert json.loads((state / "orders.json").read_text())["watermark"] == mark

        result = pull_orders(db.uri, D3, tmp_path, state, table=table, overlap=EXACT)  # the change is not lost
        assert [r["order_id"] for r in read(result.files[1].path)] == [d1[5]["order_id"]]


class TestChecksum:
    """The file must add up to what the source says, or nothing lands."""

    def test_faulty_chunk_fails_the_pull_and_lands_nothing(self, db, tmp_path, monkeypatch):
        table = orders_table(db, make_orders(D2, 30))
        real = database._conform
        seen = []

        def drop_a_row_of_the_second_chunk(batch, landing, label):
            seen.append(batch.num_rows)
            out = real(batch, landing, label)
            return out.slice(1) if len(seen) == 2 else out

        monkeypatch.setattr(database, "_conform", drop_a_row_of_the_second_chunk)
        with pytest.raises(ChecksumMismatch, match=r"the source counts 30 rows .* the file written holds 29 rows"):
            pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table, chunk_rows=10)
        assert not (tmp_path / "2026-11-24" / "orders").exists()  # no file, no temp, no empty folder
        assert not (tmp_path / "state" / "orders.json").exists()

    def test_altered_amount_fails_the_pull(self, db, tmp_path, monkeypatch):
        table = orders_table(db, make_orders(D2, 12))
        real = database._conform

        def one_fen_off(batch, landing, label):
            out = real(batch, landing, label)
            amounts = pa.array([v + Decimal("0.01") if i == 0 else v
                                for i, v in enumerate(out.column("pay_amount").to_pylist())], landing.field("pay_amount").type)
            return out.set_column(out.schema.get_field_index("pay_amount"), landing.field("pay_amount"), amounts)

        monkeypatch.setattr(database, "_conform", one_fen_off)
        with pytest.raises(ChecksumMismatch, match="pay_amount summing to"):
            pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table)

    def test_failed_pull_keeps_the_watermark_for_the_retry(self, db, tmp_path, monkeypatch):
        d1 = make_orders(D1, 8)
        table = orders_table(db, d1 + make_orders(D2, 8))
        state = tmp_path / "state"
        pull_orders(db.uri, D1, tmp_path, state, table=table)
        before = (state / "orders.json").read_text()
        db.update(table.table, "order_id", d1[2]["order_id"], status="refunded", updated_at=datetime(2026, 11, 25, 2))
        real = database._conform
        monkeypatch.setattr(database, "_conform", lambda b, s, label: real(b, s, label).slice(1) if "delta" in label
                            else real(b, s, label))
        with pytest.raises(ChecksumMismatch):
            pull_orders(db.uri, D2, tmp_path, state, table=table)
        assert (state / "orders.json").read_text() == before
        assert not (tmp_path / "2026-11-24" / "orders").exists()

        monkeypatch.setattr(database, "_conform", real)  # the retry lands both files
        retry = pull_orders(db.uri, D2, tmp_path, state, table=table)
        assert [r["order_id"] for r in read(retry.files[1].path)] == [d1[2]["order_id"]]

    def test_mariadb_row_inserted_between_pull_and_check_fails_the_pull(self, mariadb, tmp_path, monkeypatch):
        table = orders_table(mariadb, make_orders(D2, 10))
        intruder = make_orders(D2, 1, first=500)
        real = database._MySQL.totals

        def insert_then_count(self, plan, where):
            mariadb.insert(table.table, intruder)
            return real(self, plan, where)

        monkeypatch.setattr(database._MySQL, "totals", insert_then_count)
        with pytest.raises(ChecksumMismatch, match="the source counts 11 rows"):
            pull_orders(mariadb.uri, D2, tmp_path, tmp_path / "state", table=table)

    def test_postgres_reads_rows_and_check_from_one_snapshot(self, pg, tmp_path, monkeypatch):
        """A row committed during the pull is not half-seen: the pull balances without it, and
        the next pull's delta brings it."""
        d2 = make_orders(D2, 10)
        table = orders_table(pg, d2)
        intruder = make_orders(D2, 1, first=500)[0]
        intruder["updated_at"] = max(r["updated_at"] for r in d2) - timedelta(minutes=1)  # stamped before it committed
        real = database._Postgres.totals

        def insert_then_count(self, plan, where):
            if not pg.execute(f"select 1 from {table.table} where order_id = %s", (intruder["order_id"],)):
                pg.insert(table.table, [intruder])
            return real(self, plan, where)

        monkeypatch.setattr(database._Postgres, "totals", insert_then_count)
        result = pull_orders(pg.uri, D2, tmp_path, tmp_path / "state", table=table)
        assert read(result.files[0].path) == expect(d2, "orders")

        monkeypatch.setattr(database._Postgres, "totals", real)
        following = pull_orders(pg.uri, D3, tmp_path, tmp_path / "state", table=table)
        # The intruder was stamped before the watermark, but within the overlap the next pull looks back.
        since = result.watermark - database.DEFAULT_OVERLAP
        assert intruder["updated_at"] < result.watermark
        assert read(following.files[1].path) == expect([r for r in d2 + [intruder] if r["updated_at"] > since], "orders")


class TestExactValues:
    """Money stays exact, times are Shanghai wall time, whatever the source's column types."""

    def test_amounts_are_exact_decimals(self, db, tmp_path):
        rows = make_orders(D2, 4)
        for row, amount in zip(rows, ["0.01", "1234567890123456.78", "49.80", "0.10"], strict=True):
            row["pay_amount"] = Decimal(amount)
        table = orders_table(db, rows)
        path = pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table).files[0].path
        assert pq.read_schema(path).field("pay_amount").type == pa.decimal128(18, 2)
        assert sorted(r["pay_amount"] for r in read(path)) == sorted(Decimal(a) for a in
                                                                     ["0.01", "1234567890123456.78", "49.80", "0.10"])

    def test_float_money_column_is_refused(self, db, tmp_path):
        table = orders_table(db, make_orders(D2, 3), {**ORDER_COLUMNS, "pay_amount": "float"})
        with pytest.raises(ExtractError, match="pay_amount arrives as double; money must be DECIMAL"):
            pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table)

    def test_amount_with_more_than_two_decimals_is_refused(self, db, tmp_path):
        rows = make_orders(D2, 3)
        rows[1]["face_value"] = Decimal("50.0050")
        table = orders_table(db, rows, {**ORDER_COLUMNS, "face_value": "wide_money"})
        with pytest.raises(ExtractError, match="column face_value .* at most 2 decimal places"):
            pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table)

    def test_zoned_timestamps_land_as_shanghai_wall_time(self, db, tmp_path):
        rows = make_orders(D2, 3)
        rows[0]["created_at"] = datetime(2026, 11, 24, 0, 30)  # 16:30 UTC the day before
        table = orders_table(db, rows, {**ORDER_COLUMNS, "created_at": "tstz", "updated_at": "tstz"})
        # Both test sessions write these naive values as Shanghai time: the server's zone differs.
        zone = "set time zone 'Asia/Shanghai'" if db.dialect == "postgresql" else "set time_zone = '+08:00'"
        db.execute(zone)
        db.execute(f"delete from {table.table}")
        db.insert(table.table, rows)
        path = pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table).files[0].path
        assert read(path) == expect(rows, "orders")


class TestConfiguredSource:
    """Table and column names come from configuration: mapped, qualified, and validated."""

    def test_mapped_columns_and_a_qualified_table(self, db, tmp_path):
        rows = make_orders(D2, 6)
        renamed = {"id": "text", "create_time": "ts", "phone": "text", "face_value": "money", "pay_amount": "money",
                   "state": "text", "modify_time": "ts"}
        name = db.create("legacy", renamed)
        db.insert(name, [{"id": r["order_id"], "create_time": r["created_at"], "phone": r["msisdn"],
                          "face_value": r["face_value"], "pay_amount": r["pay_amount"], "state": r["status"],
                          "modify_time": r["updated_at"]} for r in rows])
        schema_name = "public" if db.dialect == "postgresql" else "test"
        table = SourceTable(table=f"{schema_name}.{name}", date_column="create_time", updated_column="modify_time",
                            columns={"order_id": "id", "created_at": "create_time", "msisdn": "phone",
                                     "status": "state", "updated_at": "modify_time", "province": None,
                                     "channel": None, "product_type": None, "product_code": None,
                                     "pay_method": None})
        path = pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table).files[0].path
        blank = dict.fromkeys(["province", "channel", "product_type", "product_code", "pay_method"])
        assert read(path) == expect([{**r, **blank} for r in rows], "orders")

    def test_order_date_may_fall_back_across_columns(self, db, tmp_path):
        rows = make_orders(D1, 4)
        for row in rows:
            row["paid_at"] = None
        rows[0]["paid_at"] = datetime(2026, 11, 24, 0, 1)  # created 23:59 on D1, paid after midnight
        table = orders_table(db, rows, {**ORDER_COLUMNS, "paid_at": "ts"})
        table = SourceTable(table=table.table, date_column=("paid_at", "created_at"))
        path = pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table).files[0].path
        assert [r["order_id"] for r in read(path)] == [rows[0]["order_id"]]

    @pytest.mark.parametrize("table", [
        pytest.param(SourceTable(table="orders; drop table orders", date_column="created_at"), id="table"),
        pytest.param(SourceTable(table="orders", date_column="created_at) or (1=1"), id="date-column"),
        pytest.param(SourceTable(table="orders", date_column="created_at", updated_column="updated_at`"), id="updated"),
        pytest.param(SourceTable(table="orders", date_column="created_at", columns={"msisdn": 'phone" --'}), id="mapped"),
        pytest.param(SourceTable(table="a.b.c", date_column="created_at"), id="three-part-name"),
    ])
    def test_names_that_are_not_plain_identifiers_are_refused_before_connecting(self, table, tmp_path):
        with pytest.raises(ExtractError, match="not a plain identifier"):
            pull_orders("postgresql://nobody@127.0.0.1:1/none", D2, tmp_path, tmp_path / "state", table=table)

    def test_state_of_another_source_is_refused(self, db, tmp_path):
        table = orders_table(db, make_orders(D2, 2))
        pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table)
        other = SourceTable(table=table.table + "_other", date_column="created_at")
        with pytest.raises(ExtractError, match="this state belongs to"):
            pull_orders(db.uri, D3, tmp_path, tmp_path / "state", table=other)

    def test_missing_table_is_a_clear_error(self, db, tmp_path):
        table = SourceTable(table="recon_no_such_table", date_column="created_at")
        with pytest.raises(ExtractError, match="orders 2026-11-24: reading .* failed: .*recon_no_such_table"):
            pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table)
        assert not (tmp_path / "2026-11-24").exists() or not any((tmp_path / "2026-11-24").iterdir())

    def test_two_pulls_of_one_kind_do_not_run_at_once(self, db, tmp_path, monkeypatch):
        table = orders_table(db, make_orders(D2, 3))
        real = database._extract

        def pull_again_meanwhile(*args, **kwargs):
            with pytest.raises(ExtractError, match="another pull holds .*orders.lock"):
                pull_orders(db.uri, D1, tmp_path, tmp_path / "state", table=table)
            return real(*args, **kwargs)

        monkeypatch.setattr(database, "_extract", pull_again_meanwhile)
        assert pull_orders(db.uri, D2, tmp_path, tmp_path / "state", table=table).files[0].rows == 3

    def test_unsupported_database_is_named(self, tmp_path):
        with pytest.raises(ExtractError, match="unsupported database sqlite:"):
            pull_orders("sqlite:///x.db", D2, tmp_path, tmp_path / "state")


class TestSecretsStayOut:
    """Neither the database password nor a phone number reaches a log line, state or error."""

    def test_password_and_msisdn_never_logged(self, pg, tmp_path, caplog):
        rows = make_orders(D2, 5)
        table = orders_table(pg, rows)
        uri = pg.uri.replace("postgres@", "postgres:Sup3r%2FS3cret@")  # trust auth accepts any password
        caplog.set_level("DEBUG")
        pull_orders(uri, D2, tmp_path, tmp_path / "state", table=table)
        text = caplog.text + (tmp_path / "state" / "orders.json").read_text()
        assert "Sup3r" not in text
        assert not [r["msisdn"] for r in rows if r["msisdn"] in text]
        assert "postgresql://postgres@127.0.0.1:5432/test" in caplog.text

    @pytest.mark.parametrize("uri", [
        pytest.param("postgresql://postgres:Sup3rS3cret@127.0.0.1:1/test", id="postgresql"),
        pytest.param("mysql://root:Sup3rS3cret@127.0.0.1:1/test", id="mariadb"),
    ])
    def test_connection_failure_names_the_server_not_the_password(self, uri, tmp_path):
        with pytest.raises(ExtractError, match="cannot connect to .*@127.0.0.1:1/test") as failure:
            pull_orders(uri, D2, tmp_path, tmp_path / "state")
        assert "Sup3rS3cret" not in str(failure.value)
        assert not (tmp_path / "2026-11-24").exists() or not any((tmp_path / "2026-11-24").rglob("*"))
