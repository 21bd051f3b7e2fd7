-- mart_ops_queue: the work queue of $business_date: every open break, the largest amount
-- first and, among equal amounts, the oldest, with its age bucket, the next action, and a
-- fallback match suggestion where the run made one. msisdn leaves only masked.
with open_breaks as (
    select
        break_key,
        break_type,
        order_id,
        provider,
        provider_txn_id,
        credit_id,
        msisdn,
        order_amount,
        paid_amount,
        credited_amount,
        difference,
        paid_at,
        credited_at,
        first_seen,
        date_diff('day', first_seen, business_date) as age_days
    from break_log
    where business_date = $business_date
      and exported
      and status = 'open'
),
suggestions as (
    select
        credit_id,
        order_id,
        confidence
    from fallback_suggestions
    where business_date = $business_date
),
best_for_credit as (
    select
        credit_id,
        arg_max(order_id, confidence) as order_id,
        max(confidence) as confidence,
        count(*) as candidates
    from suggestions
    group by credit_id
),
best_for_order as (
    select
        order_id,
        arg_max(credit_id, confidence) as credit_id,
        max(confidence) as confidence,
        count(*) as candidates
    from suggestions
    group by order_id
)
select
    row_number() over (
        order by abs(b.difference) desc nulls last, b.first_seen, b.break_type, b.break_key
    ) as queue_rank,
    b.break_type,
    b.age_days,
    age_bucket(b.age_days) as age_bucket,
    next_action(b.break_type) as next_action,
    b.order_id,
    b.provider,
    b.provider_txn_id,
    b.credit_id,
    mask_msisdn(b.msisdn) as msisdn_masked,
    b.order_amount,
    b.paid_amount,
    b.credited_amount,
    b.difference,
    money_side(b.difference) as side,
    b.paid_at,
    b.credited_at,
    b.first_seen,
    case
        when b.break_type = 'ORPHAN_CREDIT' and c.order_id is not null then
            'order ' || c.order_id || ' ' || printf('%.0f', c.confidence * 100) || '%'
            || case when c.candidates > 1 then ' (1 of ' || c.candidates || ')' else '' end
        when b.break_type = 'MISSING_CREDIT' and o.credit_id is not null then
            'credit ' || o.credit_id || ' ' || printf('%.0f', o.confidence * 100) || '%'
    end as suggestion,
    b.break_key
from open_breaks as b
left join best_for_credit as c
    on b.break_type = 'ORPHAN_CREDIT' and c.credit_id = b.credit_id
left join best_for_order as o
    on b.break_type = 'MISSING_CREDIT' and o.order_id = b.order_id
