"""Re-delivered rows are flagged as they are loaded (etl.redelivery): the match ranks only the
flagged rows, so a flag must never miss a row whose key is on another row."""
from __future__ import annotations

import random

from etl.redelivery import flag_unmarked, insert_flagged


def _rows(batch: list[tuple[str, str]]) -> str:
    """A select of credit rows (credit_id, landing date) in raw_billing's shape, as the load's is."""
    values = ", ".join(f"('{credit}', 'f{day}.csv', {i}, '{day}'::date)" for i, (credit, day) in enumerate(batch))
    return ("select credit_id, null::varchar as order_id, 50.00::decimal(18, 2) as amount, 'success' as result, source_file, "
            f"source_line::bigint as source_line, landing_date from (values {values}) "
            "as v(credit_id, source_file, source_line, landing_date)")


def _flags(wh) -> dict[str, set[bool]]:
    out: dict[str, set[bool]] = {}
    for credit, flag in wh.rows("select credit_id, repeats from raw_billing"):
        out.setdefault(credit, set()).add(flag)
    return out


def test_a_key_on_two_rows_is_flagged_on_both_whenever_the_second_comes(ledger):
    wh = ledger.wh
    insert_flagged(wh, "raw_billing", _rows([("C1", "2026-11-24"), ("C2", "2026-11-24")]), {})
    assert _flags(wh) == {"C1": {False}, "C2": {False}}
    insert_flagged(wh, "raw_billing", _rows([("C1", "2026-11-25"), ("C3", "2026-11-25"), ("C3", "2026-11-25")]), {})
    assert _flags(wh) == {"C1": {True}, "C2": {False}, "C3": {True}}


def test_rows_written_without_a_flag_get_one_before_the_match(ledger):
    wh = ledger.wh
    insert_flagged(wh, "raw_billing", _rows([("C1", "2026-11-24"), ("C2", "2026-11-24")]), {})
    # written straight into the table (a test's ledger, a warehouse older than the flag)
    wh.execute("insert into raw_billing (credit_id, source_file, source_line, landing_date) "
               "values ('C2', 'late.csv', 1, '2026-11-25'), ('C4', 'late.csv', 2, '2026-11-25')")
    flag_unmarked(wh)
    assert _flags(wh) == {"C1": {False}, "C2": {True}, "C4": {False}}


def test_no_repeated_key_is_ever_missed(ledger):
    wh, rng = ledger.wh, random.Random(7)
    for day in range(1, 6):  # five nights of loads, keys drawn from a small pool: many repeats
        batch = [(f"C{rng.randrange(60)}", f"2026-11-{day:02d}") for _ in range(rng.randrange(5, 30))]
        insert_flagged(wh, "raw_billing", _rows(batch), {})
    wh.execute("delete from raw_billing where landing_date = '2026-11-03'")  # a date loaded again
    insert_flagged(wh, "raw_billing", _rows([(f"C{rng.randrange(60)}", "2026-11-03") for _ in range(12)]), {})
    repeated = {c for (c,) in wh.rows("select credit_id from raw_billing group by 1 having count(*) > 1")}
    unflagged = {c for (c,) in wh.rows("select credit_id from raw_billing where not repeats")}
    assert repeated and not repeated & unflagged


def test_a_statement_row_is_keyed_by_provider_kind_transaction_and_refund(ledger):
    wh = ledger.wh

    def rows(batch: list[tuple], day: str) -> str:
        values = ", ".join(f"('{p}', '{k}', '{t}', {'null' if r is None else repr(r)}, {i}, '{day}'::date)"
                           for i, (p, k, t, r) in enumerate(batch))
        return ("select provider, kind, provider_txn_id, refund_id, null::varchar as order_id, 'f.csv' as source_file, "
                f"line::bigint as source_line, landing_date from (values {values}) "
                "as v(provider, kind, provider_txn_id, refund_id, line, landing_date)")

    insert_flagged(wh, "raw_payments", rows([("alipay", "payment", "T1", None), ("alipay", "refund", "T1", "R1"),
                                             ("wechatpay", "payment", "T2", None)], "2026-11-24"), {})
    insert_flagged(wh, "raw_payments", rows([("alipay", "payment", "T1", None),     # delivered again
                                             ("alipay", "refund", "T1", "R2"),      # another refund
                                             ("alipay", "payment", "T2", None)], "2026-11-25"), {})  # other provider
    flags = {(p, k, t, r, str(d)): f for p, k, t, r, d, f in wh.rows(
        "select provider, kind, provider_txn_id, refund_id, landing_date, repeats from raw_payments")}
    assert flags == {
        ("alipay", "payment", "T1", None, "2026-11-24"): True, ("alipay", "payment", "T1", None, "2026-11-25"): True,
        ("alipay", "refund", "T1", "R1", "2026-11-24"): False, ("alipay", "refund", "T1", "R2", "2026-11-25"): False,
        ("wechatpay", "payment", "T2", None, "2026-11-24"): False, ("alipay", "payment", "T2", None, "2026-11-25"): False,
    }


def test_an_earlier_row_without_a_stored_hash_is_still_found(ledger):
    wh = ledger.wh
    insert_flagged(wh, "raw_billing", _rows([("C1", "2026-11-24")]), {})
    # written straight into the table, flagged but without its hash (a warehouse older than it)
    wh.execute("insert into raw_billing (credit_id, source_file, source_line, landing_date, repeats) "
               "values ('C5', 'old.csv', 1, '2026-11-23', false)")
    insert_flagged(wh, "raw_billing", _rows([("C5", "2026-11-25")]), {})
    assert _flags(wh) == {"C1": {False}, "C5": {True}}
    assert wh.scalar("select count(*) from raw_billing where key_hash is null") == 0


def test_hashes_stored_by_a_duckdb_that_hashed_differently_are_made_again(ledger):
    wh = ledger.wh
    insert_flagged(wh, "raw_billing", _rows([("C1", "2026-11-24"), ("C2", "2026-11-24")]), {})
    # as if an earlier DuckDB had stored them: other hashes, and its stamp
    wh.execute("update raw_billing set key_hash = key_hash + 1")
    wh.execute("update key_hash_stamp set stamp = stamp + 1 where raw_table = 'raw_billing'")
    insert_flagged(wh, "raw_billing", _rows([("C2", "2026-11-25")]), {})
    assert _flags(wh) == {"C1": {False}, "C2": {True}}
    assert wh.scalar("select count(*) from raw_billing where key_hash <> hash(credit_id)") == 0


def test_a_file_whose_parse_found_its_keys_unique_still_finds_them_on_earlier_nights(ledger):
    """The load skips the grouping of a file's own keys when its parse found each on one row
    (StagedFile.keys_unique); its keys are still probed against every earlier row."""
    wh = ledger.wh
    insert_flagged(wh, "raw_billing", _rows([("C1", "2026-11-24"), ("C2", "2026-11-24")]), {}, keys_unique=True)
    assert _flags(wh) == {"C1": {False}, "C2": {False}}
    insert_flagged(wh, "raw_billing", _rows([("C1", "2026-11-25"), ("C3", "2026-11-25")]), {}, keys_unique=True)
    assert _flags(wh) == {"C1": {True}, "C2": {False}, "C3": {False}}
