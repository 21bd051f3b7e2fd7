-- mart_order_latest: every order of the 30 days $window_start to $business_date as its latest
-- evaluation up to $business_date has it: the one of its own run, or of a later run that
-- re-checked it (a credit that came a day late makes yesterday's order a success today).
-- Few orders have more than one evaluation in the window (re-checked, or judged again after a
-- backfill moved their order date): a hash aggregate over the ids finds them, and only their
-- evaluations are ranked (ranking 10M a day, 300M over the window, cost seconds for nothing).
-- Two ids sharing a hash are both ranked, each alone in its partition: nothing changes.
with evaluations as not materialized (
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
several as (
    select hash(order_id) as id_hash
    from evaluations
    group by id_hash
    having count(*) > 1
)
select e.* exclude (business_date)
from evaluations as e
anti join several as s on s.id_hash = hash(e.order_id)
union all
select e.* exclude (business_date)
from evaluations as e
semi join several as s on s.id_hash = hash(e.order_id)
qualify row_number() over (partition by e.order_id order by e.business_date desc) = 1
