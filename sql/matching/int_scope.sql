-- int_scope: the orders the run for $run_date judges or re-checks: the orders of the day,
-- and every earlier order that a row landing today names (a late credit, refund, reversal).
with named_today as (
    select order_id from stg_orders where order_date = $run_date
    union
    select order_id from stg_payments where landing_date = $run_date
    union
    select order_id from stg_credits where landing_date = $run_date
)
select o.order_id
from named_today as n
join stg_orders as o using (order_id)
