-- withdrawn_orders_backfill: run once, when a warehouse made before withdrawn_orders is opened.
-- Its loads did not record the orders a reload took out of a date's file, so every order its
-- evaluations judged in their own run on more than one date (taken out of one date's file, or
-- moved by a backfill) is recorded under each of those dates: order_latest then ranks them.
insert into withdrawn_orders
select order_id, order_date, $at
from order_eval
where business_date = order_date
qualify count(*) over (partition by order_id) > 1
