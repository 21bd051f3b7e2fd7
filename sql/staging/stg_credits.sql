-- stg_credits: every billing row the run for $run_date can see, once. A credit *stands*
-- while no reversal names it; a reversal's order is that of the credit it cancels.
with ranked as (
    select
        *,
        row_number() over (
            partition by credit_id order by landing_date, source_file, source_line
        ) as copy_no
    from raw_billing
    where landing_date <= $run_date
),
rows_once as (
    select * from ranked where copy_no = 1
),
reversals as (
    select
        credit_id,
        reverses_credit_id
    from rows_once
    where reverses_credit_id is not null
      and (amount < 0 or result = 'reversed')
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
    c.result = 'success' and c.amount > 0 as is_credit,
    c.amount < 0 or c.result = 'reversed' as is_reversal,
    c.result = 'success' and c.amount > 0
        and not exists (select 1 from reversals as r where r.reverses_credit_id = c.credit_id) as is_standing,
    c.landing_date
from rows_once as c
left join rows_once as cancelled
    on c.reverses_credit_id = cancelled.credit_id
