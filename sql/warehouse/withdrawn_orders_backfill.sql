-- withdrawn_orders_backfill: run once, when a warehouse made before withdrawn_orders is opened.
-- Its loads did not record the orders a reload took out of a date's file, so every evaluation of
-- an order in its own run whose date's rows no longer hold the order is recorded now, as the
-- load would have (etl.load). So is every order judged in its own run on more than one date
-- (moved by a backfill: its rows are flagged `repeats` too, unless the warehouse is older than
-- the flags). Once per warehouse: it reads every evaluation ever made.
insert into withdrawn_orders
select e.order_id, e.order_date, $at
from order_eval as e
anti join raw_orders as r on r.order_id = e.order_id and r.landing_date = e.order_date
where e.business_date = e.order_date
union
select e.order_id, e.order_date, $at
from order_eval as e
semi join (
    select order_id
    from order_eval
    where business_date = order_date
    group by order_id
    having count(*) > 1
) as twice using (order_id)
where e.business_date = e.order_date
