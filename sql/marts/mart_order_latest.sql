-- mart_order_latest: every order of the 30 days $window_start to $business_date as its latest
-- evaluation up to $business_date has it: the one of its own run, or of a later run that
-- re-checked it (a credit that came a day late makes yesterday's order a success today).
with evaluations as (
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
select * exclude (business_date)
from evaluations
qualify row_number() over (partition by order_id order by business_date desc) = 1
