-- mart_order_latest: every order of the 30 days $window_start to $business_date as its latest
-- evaluation up to $business_date has it: the one of its own run, or of a later run that
-- re-checked it (a credit that came a day late makes yesterday's order a success today).
-- Few orders are re-checked: only their evaluations are ranked, the rest pass as they are
-- (ranking 10M orders a day, 300M over the window, cost seconds for nothing).
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
),
rechecked as (
    select * exclude (business_date)
    from evaluations
    where business_date > order_date
    qualify row_number() over (partition by order_id order by business_date desc) = 1
)
select e.* exclude (business_date)
from evaluations as e
anti join rechecked as r using (order_id)
where e.business_date = e.order_date
union all
select * from rechecked
