-- row_outcomes: every row landing on $run_date, each with exactly one outcome.
-- No `else` in these cases on purpose: a row no rule explains gets a null outcome, and the
-- control totals then refuse to balance.
with orders as (
    select
        'orders' as source,
        r.face_value as amount,
        case
            -- an order belongs to the first file it came in; a re-export is a copy
            when o.order_date < r.landing_date
                 or row_number() over (partition by r.order_id order by r.source_file, r.source_line) > 1
                then 'DUPLICATE_ROW'
            else e.outcome
        end as outcome
    from raw_orders as r
    join stg_orders as o using (order_id)
    left join int_order_eval as e using (order_id)
    where r.landing_date = $run_date
),
payments as (
    select
        p.provider as source,
        p.amount,
        case
            when p.is_copy then 'DUPLICATE_ROW'
            when p.kind = 'unknown' then 'UNKNOWN_TYPE'
            when p.kind = 'void' then 'VOID'
            when p.kind in ('payment', 'refund') and p.status <> 'success' then 'NOT_SUCCESSFUL'
            when p.kind in ('payment', 'refund') and e.outcome is not null then e.outcome
            when p.kind = 'payment' and o.order_id is null then 'ORPHAN_PAYMENT'
            when p.kind = 'refund' and o.order_id is null then 'ORPHAN_REFUND'
        end as outcome
    from stg_payments as p
    left join stg_orders as o using (order_id)
    left join int_order_eval as e using (order_id)
    where p.landing_date = $run_date
),
billing as (
    select
        'billing' as source,
        c.amount,
        case
            when c.is_copy then 'DUPLICATE_ROW'
            when c.result = 'failed' then 'FAILED_CREDIT'
            when e.outcome is not null then e.outcome
            when c.order_id is null and c.is_reversal then 'ORPHAN_REVERSAL'
            when c.is_credit and (c.order_id is null or c.credited_at < $day_end) then 'ORPHAN_CREDIT'
            when c.is_credit then 'PENDING_NEXT_DAY'
            when c.is_reversal then 'ORPHAN_REVERSAL'
        end as outcome
    from stg_credits as c
    left join int_order_eval as e using (order_id)
    where c.landing_date = $run_date
),
feedback as (
    select 'surveys' as source, 0::decimal(18, 2) as amount, 'LOADED' as outcome
    from raw_surveys where landing_date = $run_date
    union all
    select 'complaints', 0::decimal(18, 2), 'LOADED'
    from raw_complaints where landing_date = $run_date
)
select source, amount, outcome from orders
union all
select source, amount, outcome from payments
union all
select source, amount, outcome from billing
union all
select source, amount, outcome from feedback
