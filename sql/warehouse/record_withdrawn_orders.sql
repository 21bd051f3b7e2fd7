-- record_withdrawn_orders: the orders that landing date $d's own run judged and that its rows,
-- loaded again, no longer hold, not yet recorded. Run by the load after a date's rows are
-- replaced (etl.load), and once per business date when a warehouse made before withdrawn_orders
-- is first opened (etl.warehouse): one date at a time, since the whole history at once held both
-- sides of the anti join in memory (out of memory at 30M evaluations in 3.7 GB).
-- An order moved to another date by a backfill needs no record: it is in two orders files, and
-- flagged `repeats`.
insert into withdrawn_orders
select e.order_id, $d, $at
from order_eval as e
anti join (select order_id from raw_orders where landing_date = $d) as n using (order_id)
anti join (select order_id from withdrawn_orders where landing_date = $d) as w using (order_id)
where e.business_date = $d and e.order_date = $d
