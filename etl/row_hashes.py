"""Hashes stored with the raw rows, so that the nightly probes of the history read 8 bytes of
each earlier row instead of hashing its texts again.

- ``key_hash``: the hash of the row's key (an order id, a statement row's provider, kind,
  transaction and refund id, a credit id). The load probes the earlier rows by it for
  re-delivered keys (etl.redelivery).
- ``order_hash`` (statement and billing rows): the hash of the order id the row carries. The
  match finds the earlier rows of the orders in scope by it (int_history_payments,
  int_history_credits); of raw_orders, ``key_hash`` is that hash already (int_scope_earlier).

A hash only finds candidates: every reader compares the exact key afterwards, so two keys
sharing a hash cost a row read, never a wrong result. A missing hash would lose a row, so the
hashes are filled before any probe reads them: as rows are loaded, and for rows loaded before
they were kept or written straight into the tables (tests), by ``fill``. DuckDB does not promise
that ``hash`` stays the same across its versions: the warehouse keeps the hash of a fixed text
(key_hash_stamp), and a DuckDB that hashes it differently hashes every row again.
"""
from __future__ import annotations

from etl.warehouse import Warehouse

STORED = {
    "raw_orders": {"key_hash": "hash(order_id)"},
    "raw_payments": {"key_hash": "hash(provider, kind, provider_txn_id, coalesce(refund_id, ''))",
                     "order_hash": "hash(order_id)"},
    "raw_billing": {"key_hash": "hash(credit_id)", "order_hash": "hash(order_id)"},
}

STAMP = "xor(hash('topup-recon key hash stamp'), hash('topup-recon', 'key', 'hash', ''))"


def select_list(table: str) -> str:
    """The stored hashes of ``table`` as select expressions over its rows (empty if none)."""
    return "".join(f", {expr} as {column}" for column, expr in STORED.get(table, {}).items())


def fill(wh: Warehouse, table: str) -> None:
    """Store the hashes of the rows of ``table`` that lack them; all of them again if the
    warehouse's were made by a DuckDB that hashes differently."""
    columns = STORED[table]
    stamp = wh.scalar(f"select {STAMP}")
    if wh.scalar("select stamp from key_hash_stamp where raw_table = $t", {"t": table}) != stamp:
        sets = ", ".join(f"{column} = {expr}" for column, expr in columns.items())
        wh.execute(f"update {table} set {sets}", {})
        wh.execute("delete from key_hash_stamp where raw_table = $t", {"t": table})
        wh.execute("insert into key_hash_stamp values ($t, $s)", {"t": table, "s": stamp})
        return
    for column, expr in columns.items():
        if wh.scalar(f"select exists (select 1 from {table} where {column} is null)"):
            wh.execute(f"update {table} set {column} = {expr} where {column} is null", {})


def fill_all(wh: Warehouse) -> None:
    for table in STORED:
        fill(wh, table)
