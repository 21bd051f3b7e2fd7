-- int_history_payments: the statement rows landed before the run's date of the orders in scope
-- (int_scope: today's, and the earlier ones a row landing today names). With today's
-- rows they are all the statement rows of those orders, which the evaluation (int_order_eval)
-- and the break rows (order_breaks) read: found once, here. Few rows (every kind, copies
-- included; the readers filter): a payment landed before its order's file, and the payments of
-- the earlier orders in scope.
-- Found in two steps, as every column of every earlier row would be decompressed before a join
-- kept a few: a scan of the stored hash of each earlier row's order id (etl.row_hashes) and its
-- date finds the rows wanted; the view then reads those rows only (DuckDB takes the row ids
-- into its scan as a filter) and their order ids are compared exactly. A refund without an
-- order id takes its payment's in the view (stg_payments): those are kept for it to resolve.
-- The hash tables hold the scope's ids and the rows found, never the history
-- (match.JOINS_AS_WRITTEN).
with wanted as (
    select r.rowid as row_id
    from raw_payments as r
    semi join (select hash(order_id) as h from int_scope) as s on s.h = r.order_hash
    where r.landing_date < $run_date and $has_earlier
    union all
    select r.rowid
    from raw_payments as r
    where r.landing_date < $run_date and $has_earlier and r.order_id is null and r.kind = 'refund'
)
select p.order_id, p.provider, p.provider_txn_id, p.kind, p.amount, p.event_at, p.is_success
from stg_payments as p
semi join wanted as w using (row_id)
semi join (select order_id from int_scope) as s using (order_id)
where p.landing_date < $run_date and $has_earlier
