-- stg_credits: every billing row the run for $run_date can see; a row delivered again is kept
-- once for matching and flagged is_copy. A credit *stands* while no reversal names it; a
-- reversal's order is that of the credit it cancels.
with ranked as (
    select
        *,
        row_number() over (
            partition by credit_id order by landing_date, source_file, source_line
        ) > 1 as is_copy
    from raw_billing
    where landing_date <= $run_date
),
reversed as (
    select distinct reverses_credit_id as credit_id
    from ranked
    where not is_copy
      and reverses_credit_id is not null
      and (amount < 0 or result = 'reversed')
),
credit_orders as (
    select credit_id, order_id
    from ranked
    where not is_copy and order_id is not null
)
select
    c.credit_id,
    coalesce(c.order_id, cancelled.order_id) as order_id,
    c.msisdn,
    c.amount,
    c.product_type,
    c.credited_at,
    c.result,
    c.reverses_credit_id,
    not c.is_copy and c.result = 'success' and c.amount > 0 as is_credit,
    not c.is_copy and (c.amount < 0 or c.result = 'reversed') as is_reversal,
    not c.is_copy and c.result = 'success' and c.amount > 0 and r.credit_id is null as is_standing,
    c.is_copy,
    c.landing_date
from ranked as c
left join reversed as r using (credit_id)
left join credit_orders as cancelled
    on c.order_id is null and c.reverses_credit_id = cancelled.credit_id
