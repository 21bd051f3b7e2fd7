-- row_outcomes: every raw row landing on $run_date, each with exactly one outcome.
-- No `else` in these cases on purpose: a row no rule explains gets a null outcome, and the
-- control totals then refuse to balance.
with orders as (
    select
        'orders' as source,
        r.face_value as amount,
        case
            when row_number() over (partition by r.order_id order by r.landing_date, r.source_file, r.source_line) > 1
                 or exists (select 1 from raw_orders as e where e.order_id = r.order_id and e.landing_date < r.landing_date)
                then 'DUPLICATE_ROW'
            else e.outcome
        end as outcome
    from raw_orders as r
    left join int_order_eval as e using (order_id)
    where r.landing_date = $run_date
),
payments as (
    select
        r.provider as source,
        r.amount,
        r.kind,
        r.status,
        coalesce(r.order_id, p.order_id) as order_id,
        row_number() over (
            partition by r.provider, r.kind, r.provider_txn_id, coalesce(r.refund_id, '')
            order by r.landing_date, r.source_file, r.source_line
        ) > 1
        or exists (
            select 1 from raw_payments as e
            where e.provider = r.provider and e.kind = r.kind and e.provider_txn_id = r.provider_txn_id
              and coalesce(e.refund_id, '') = coalesce(r.refund_id, '') and e.landing_date < r.landing_date
        ) as is_copy
    from raw_payments as r
    left join stg_payments as p
        on r.kind = 'refund' and p.kind = 'payment' and p.provider = r.provider
       and p.provider_txn_id = r.provider_txn_id
    where r.landing_date = $run_date
),
payment_outcomes as (
    select
        p.source,
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
    from payments as p
    left join stg_orders as o using (order_id)
    left join int_order_eval as e using (order_id)
),
billing as (
    select
        'billing' as source,
        r.amount,
        case
            when row_number() over (partition by r.credit_id order by r.landing_date, r.source_file, r.source_line) > 1
                 or exists (select 1 from raw_billing as x where x.credit_id = r.credit_id and x.landing_date < r.landing_date)
                then 'DUPLICATE_ROW'
            when r.result = 'failed' then 'FAILED_CREDIT'
            when e.outcome is not null then e.outcome
            when c.order_id is null and c.is_reversal then 'ORPHAN_REVERSAL'
            when c.is_credit and (c.order_id is null or c.credited_at < $day_end) then 'ORPHAN_CREDIT'
            when c.is_credit then 'PENDING_NEXT_DAY'
            when c.is_reversal then 'ORPHAN_REVERSAL'
        end as outcome
    from raw_billing as r
    left join stg_credits as c using (credit_id)
    left join int_order_eval as e on e.order_id = c.order_id
    where r.landing_date = $run_date
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
select source, amount, outcome from payment_outcomes
union all
select source, amount, outcome from billing
union all
select source, amount, outcome from feedback
