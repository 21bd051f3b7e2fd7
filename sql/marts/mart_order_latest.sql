-- mart_order_latest: every order of the 30 days $window_start to $business_date as its latest
-- evaluation up to $business_date has it: the one of its own run, or of a later run that
-- re-checked it (a credit that came a day late makes yesterday's order a success today).
-- Nearly every order has one evaluation, its own run's. The few with more are found without
-- grouping the window's evaluations (300M at 10M orders a day): a re-check is a row judged
-- after its order date, and an order judged as its own on two dates (a backfill moved its
-- order date) was recorded by the earlier date's run (order_eval_moves). Only their
-- evaluations are ranked.
with several as (
    select order_id
    from order_eval
    where business_date > order_date and business_date <= $business_date
      and order_date between $window_start and $business_date
    union
    select order_id
    from order_eval_moves
    where business_date between $window_start and $business_date and judged_on <= $business_date
),
evaluations as not materialized (
    select
        order_id,
        order_date,
        business_date,
        pay_amount,
        n_payments,
        net_paid,
        n_credits,
        delay_minutes,
        sla_minutes
    from order_eval
    where business_date between order_date and $business_date
      and order_date between $window_start and $business_date
)
select e.* exclude (business_date)
from evaluations as e
anti join several as s using (order_id)
union all
select e.* exclude (business_date)
from evaluations as e
semi join several as s using (order_id)
qualify row_number() over (partition by e.order_id order by e.business_date desc) = 1
