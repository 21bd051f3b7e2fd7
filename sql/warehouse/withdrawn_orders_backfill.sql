-- withdrawn_orders_backfill: run once per business date, when a warehouse made before
-- withdrawn_orders is first opened. Its loads did not record the orders a reload took out of a
-- date's file, so every order the date's own run judged that its rows no longer hold is recorded
-- now, as the load would have (etl.load). One date at a time: the whole history at once held
-- both sides of the anti join in memory (out of memory at 30M evaluations in 3.7 GB).
-- An order moved to another date by a backfill needs no record: it is in two orders files, and
-- flagged `repeats`.
insert into withdrawn_orders
select e.order_id, $d, $at
from order_eval as e
anti join (select order_id from raw_orders where landing_date = $d) as r using (order_id)
where e.business_date = $d and e.order_date = $d
