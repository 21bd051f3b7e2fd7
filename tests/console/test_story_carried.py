"""A story the previous night told is carried from its file (etl/console_story.py): what the
console shows must equal the story told anew from the whole history."""
from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from etl import console_story
from etl.config import load_settings
from etl.console_publish import write_console_tables
from etl.warehouse import Warehouse
from tests.conftest import paths_env
from tests.matching.conftest import Ledger

D1, D2 = date(2026, 11, 24), date(2026, 11, 25)
COLUMNS = ("story_id, ledger, order_id, provider, provider_txn_id, refund_id, credit_id, reverses_credit_id, "
           "event_at, amount, source_file, source_line, landing_date")


def _publish(settings, wh: Warehouse, day: date) -> None:
    """The night's match is done: publish the console's tables and record the run, as the night does."""
    write_console_tables(settings, wh, day, settings.paths.output / day.isoformat() / "console")
    wh.execute("insert into run_log values ($d, $t, $t, 'ok', '{}')", {"d": day, "t": datetime(2026, 11, 26)})


def _published(settings, day: date) -> list[tuple]:
    path = settings.paths.output / day.isoformat() / "console" / "story.parquet"
    return duckdb.connect().execute(f"select {COLUMNS} from read_parquet('{path}') order by all").fetchall()


def _told_anew(settings, wh: Warehouse, day: date, monkeypatch) -> list[tuple]:
    with monkeypatch.context() as m:
        m.setattr(console_story, "previous_story", lambda *_: None)
        wh.con.execute("create or replace temp macro mask_msisdn(msisdn) as msisdn")
        select, params = console_story.story_select(settings, wh, day, {"run_date": day})
    return wh.execute(f"select {COLUMNS} from ({select}) order by all", params).fetchall()


@pytest.fixture
def night(tmp_path):
    settings = load_settings(paths_env(tmp_path, RECON_CONSOLE__SEARCH_KEY_FILE=str(tmp_path / "search.key")))
    with Warehouse(settings) as wh:
        yield settings, wh, Ledger(wh)


def test_a_carried_story_gets_the_rows_landing_since(night, monkeypatch):
    settings, wh, ledger = night
    ledger.order("T1").payment("T1")  # paid, never credited: MISSING_CREDIT, open both nights
    ledger.run(D1)
    _publish(settings, wh, D1)
    # the second night: a partial refund that names the payment's transaction, and no order
    ledger.refund(None, amount="5.00", txn="alipay-T1", at="2026-11-25 10:00:00")
    ledger.run(D2)
    _publish(settings, wh, D2)
    assert wh.rows("select story_id from story_carried") == [("T1",)]  # carried, not told anew
    rows = _published(settings, D2)
    assert sorted((r[1], r[2] or "") for r in rows if r[0] == "T1") == [
        ("order", "T1"), ("payment", "T1"), ("refund", "")]
    assert rows == _told_anew(settings, wh, D2, monkeypatch)


def test_a_story_that_names_a_new_transaction_is_told_anew(night, monkeypatch):
    """A refund of transaction X landed on the first night without an order id; on the second
    night a payment of T1 under X lands: T1's story now holds that earlier refund too."""
    settings, wh, ledger = night
    ledger.order("T1").payment("T1")
    ledger.refund(None, amount="49.80", txn="alipay-X", at="2026-11-24 12:00:00")
    ledger.run(D1)
    _publish(settings, wh, D1)
    ledger.payment("T1", txn="alipay-X", at="2026-11-25 09:00:00")
    ledger.run(D2)
    _publish(settings, wh, D2)
    assert wh.rows("select story_id from story_relinked") == [("T1",)]
    rows = _published(settings, D2)
    assert ("T1", "refund", None, "alipay", "alipay-X") in [r[:5] for r in rows]
    assert rows == _told_anew(settings, wh, D2, monkeypatch)


def test_a_date_loaded_again_tells_every_story_anew(night):
    settings, wh, ledger = night
    ledger.order("T1").payment("T1")
    ledger.run(D1)
    _publish(settings, wh, D1)
    assert console_story.previous_story(settings, wh, D2) is not None
    wh.execute("insert into loaded_files values ('h2', $d, 'orders', 'orders.csv', 1, $at)",
               {"d": D1, "at": datetime(2026, 11, 27)})  # D1 loaded again after its stories were told
    assert console_story.previous_story(settings, wh, D2) is None


def test_thirty_nights_carried_equal_the_stories_told_anew(month_run, monkeypatch):
    settings, _, dates = month_run
    with Warehouse(settings) as wh:
        for day in (dates[1], dates[-1]):
            assert console_story.previous_story(settings, wh, day) is not None  # the night carried stories
            told_anew = _told_anew(settings, wh, day, monkeypatch)
            assert len(told_anew) > 100
            assert _published(settings, day) == told_anew


def test_a_number_sealed_the_night_before_is_not_sealed_again(night, monkeypatch):
    """breaks.parquet's sealed numbers: taken from the previous night's file by the number's keyed
    hash (etl/console_publish.py), so AES-SIV runs only for numbers new tonight, and the file
    holds what sealing them anew gives."""
    from etl import console_publish

    settings, wh, ledger = night
    ledger.order("T1", msisdn="13800000001").payment("T1")  # MISSING_CREDIT, open both nights
    ledger.run(D1)
    _publish(settings, wh, D1)
    ledger.order("T2", msisdn="13800000002", at="2026-11-25 10:00:00").payment("T2", at="2026-11-25 10:00:10")
    ledger.run(D2)
    sealed = []
    seal = console_publish.Sealer.seal
    monkeypatch.setattr(console_publish.Sealer, "seal", lambda self, n: sealed.append(n) or seal(self, n))
    _publish(settings, wh, D2)
    assert set(sealed) == {"13800000002"}  # T1's number is not sealed again
    path = settings.paths.output / D2.isoformat() / "console" / "breaks.parquet"
    rows = duckdb.connect().execute(f"select order_id, msisdn_sealed from read_parquet('{path}') order by 1").fetchall()
    opener = console_publish.sealer(settings)
    assert {(o, opener.open(s)) for o, s in rows} == {("T1", "13800000001"), ("T2", "13800000002")}
    assert {s for o, s in rows if o == "T1"} == {seal(opener, "13800000001")}
