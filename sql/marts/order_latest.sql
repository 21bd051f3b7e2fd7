-- order_latest(first_day, last_day): a table macro, not a mart. Every order of the order dates
-- first_day to last_day as its latest evaluation up to last_day has it: the one of its own run,
-- or of a later run that re-checked it (a credit that came a day late makes yesterday's order
-- a success today). mart_order_days streams it once into the counts the marts that count
-- orders read (30 days at 10M orders a day is 300M evaluations): it is neither materialised nor
-- grouped whole.
-- Few orders have more than one evaluation in the days read, and each of them is found without
-- grouping them all: it was re-checked (an evaluation after its order date), or it is in more
-- than one orders file (flagged `repeats` at load: a backfill moved its order date), or a
-- reload took it out of a date's orders file (withdrawn_orders: that date's evaluation of it
-- stays until the date is matched again). Only their evaluations are ranked.
create or replace temp macro order_latest(first_day, last_day) as table
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
    where business_date between order_date and last_day
      and order_date between first_day and last_day
),
several as (
    select order_id from evaluations where business_date > order_date
    union
    select order_id from raw_orders where repeats and landing_date between first_day and last_day
    union
    select order_id from withdrawn_orders where landing_date between first_day and last_day
)
select e.* exclude (business_date)
from evaluations as e
anti join several as s using (order_id)
union all
select e.* exclude (business_date)
from evaluations as e
semi join several as s using (order_id)
qualify row_number() over (partition by e.order_id order by e.business_date desc) = 1
