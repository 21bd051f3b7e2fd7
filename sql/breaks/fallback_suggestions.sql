-- fallback_suggestions: orphan credits without an order id that look like the missing credit
-- of an open order: same msisdn, amount = face value, posted within the window after payment.
-- Shown to ops with a confidence; never applied by itself.
with orphans as (
    select credit_id, msisdn, credited_amount as amount, credited_at
    from breaks_snapshot
    where break_type = 'ORPHAN_CREDIT' and status = 'open' and order_id is null
),
missing as (
    select s.order_id, s.msisdn, o.face_value, s.paid_at
    from breaks_snapshot as s
    join stg_orders as o using (order_id)
    where s.break_type = 'MISSING_CREDIT' and s.status = 'open'
),
candidates as (
    select
        c.credit_id,
        m.order_id,
        c.msisdn,
        c.amount,
        c.credited_at,
        m.paid_at,
        count(*) over (partition by c.credit_id) as candidates
    from orphans as c
    join missing as m
        on m.msisdn = c.msisdn
       and m.face_value = c.amount
       and c.credited_at between m.paid_at and m.paid_at + to_minutes($window_minutes)
)
select
    $run_date::date as business_date,
    credit_id,
    order_id,
    msisdn,
    amount,
    credited_at,
    paid_at,
    candidates::integer as candidates,
    round(1.0 / candidates, 4)::decimal(5, 4) as confidence
from candidates
