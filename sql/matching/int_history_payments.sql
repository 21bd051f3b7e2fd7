-- int_history_payments: the statement rows landed before the run's date of the orders in scope
-- (int_scope: today's, and the earlier ones a row landing today names). With today's
-- rows they are all the statement rows of those orders, which the evaluation (int_order_eval)
-- and the break rows (order_breaks) read: found once, here, by one scan of the earlier rows. Few
-- rows (every kind, copies included; the readers filter): a payment landed before its order's
-- file, and the payments of the earlier orders in scope.
-- The scan reads the stored hash of every earlier row's order id (etl.row_hashes) and its date,
-- to find the few rows wanted; only then their other columns, by row id, and their order ids
-- compared exactly. Read with the join, every column of every earlier row was decompressed
-- before the join kept a few. A refund without an order id takes its payment's (stg_payments):
-- the hash of no id is probed too, so those are kept for the view to resolve. The hash tables
-- hold the scope's ids, never the history's (match.JOINS_AS_WRITTEN).
with wanted as (
    select r.rowid as row_id
    from raw_payments as r
    semi join (
        select hash(order_id) as h from int_scope
        union all
        select hash(null::varchar)
    ) as s on s.h = r.order_hash
    where r.landing_date < $run_date and $has_earlier
)
select p.order_id, p.provider, p.provider_txn_id, p.kind, p.amount, p.event_at, p.is_success
from stg_payments as p
semi join wanted as w using (row_id)
semi join (select order_id from int_scope) as s using (order_id)
where p.landing_date < $run_date and $has_earlier
