"""Re-delivered rows, flagged as they are loaded.

A row whose key (an order id, a statement row's provider/kind/transaction/refund id, a credit
id) is on more than one raw row is flagged ``repeats``. The match ranks only flagged rows to
decide which delivery counts (stg_orders_repeated, stg_payment_copies, stg_credit_copies); it
used to find them by grouping every row ever loaded, which grew with each night of history.

The flag may say "repeats" of a row whose twin has since been deleted (a date loaded again):
the match ranks it alone, and a row ranked first is no copy. It must never miss a repeat, so
the key is compared by its 64-bit hash here (two keys sharing a hash are both flagged, and the
match ranks by the exact key). The hash is stored with the row (``key_hash``, etl.row_hashes),
so that the earlier rows are probed by it without hashing their keys again each night.
"""
from __future__ import annotations

from etl import row_hashes
from etl.warehouse import Warehouse

# The key of each raw table whose re-delivered rows the match ranks, as a hash expression.
KEY_HASH = {table: hashes["key_hash"] for table, hashes in row_hashes.STORED.items()}


def insert_flagged(wh: Warehouse, table: str, rows_sql: str, params: dict, keys_unique: bool = False) -> None:
    """Insert ``rows_sql`` (the rows of one staged source, without ``repeats``) into ``table``
    with their flag, and flag the rows already loaded that share a key with them. Most of a
    night's rows repeat nothing: the work is one hash aggregate over the new rows' keys and,
    when the table holds earlier rows, one probe of those rows against the new keys. With
    ``keys_unique`` (the parse found each key on one row) the aggregate is skipped: two new keys
    sharing a hash are then not flagged, which they need not be (they are no copies)."""
    if table not in KEY_HASH:
        wh.execute(f"insert into {table} by name {rows_sql}", params)
        return
    key = KEY_HASH[table]
    _repeated_keys(wh, table, rows_sql, params, earlier="true", keys_unique=keys_unique)
    wh.execute(f"insert into {table} by name select *{row_hashes.select_list(table)}, "
               f"{key} in (select h from _repeated_keys) as repeats from ({rows_sql})", params)
    _drop_temps(wh)


def flag_unmarked(wh: Warehouse) -> None:
    """Flag rows that came in without a flag: warehouses made before flags were kept (once),
    and rows a test writes straight into the raw tables. Loaded rows always have one."""
    for table, key in KEY_HASH.items():
        if not wh.scalar(f"select exists (select 1 from {table} where repeats is null)"):
            continue
        _repeated_keys(wh, table, f"select * from {table} where repeats is null", {}, earlier="repeats is not null")
        wh.execute(f"update {table} set repeats = {key} in (select h from _repeated_keys) where repeats is null", {})
        _drop_temps(wh)


def _repeated_keys(wh: Warehouse, table: str, new_rows_sql: str, params: dict, earlier: str,
                   keys_unique: bool = False) -> None:
    """Temp table ``_repeated_keys``: the hashed keys of the new rows that repeat among them or
    on an earlier row of ``table`` (the rows ``earlier`` selects); those earlier rows are flagged
    here. The hash table holds the new keys only: the earlier rows are probed against it."""
    key = KEY_HASH[table]
    row_hashes.fill(wh, table)
    has_earlier = wh.scalar(f"select exists (select 1 from {table} where {earlier})")
    if has_earlier or not keys_unique:
        wh.execute(f"create or replace temp table _new_keys as select {key} as h from ({new_rows_sql})", params)
    if keys_unique:
        wh.execute("create or replace temp table _repeated_keys (h ubigint)", {})
    else:
        wh.execute("create or replace temp table _repeated_keys as "
                   "select h from _new_keys group by h having count(*) > 1", {})
    if has_earlier:
        wh.execute(f"create or replace temp table _twins as select rowid as row_id, key_hash as h "
                   f"from {table} semi join _new_keys as n on n.h = key_hash where {earlier}", {})
        wh.execute(f"update {table} set repeats = true where rowid in (select row_id from _twins) "
                   "and repeats is distinct from true", {})
        wh.execute("insert into _repeated_keys select distinct h from _twins", {})


def _drop_temps(wh: Warehouse) -> None:
    for temp in ("_new_keys", "_repeated_keys", "_twins"):
        wh.execute(f"drop table if exists temp.main.{temp}", {})
