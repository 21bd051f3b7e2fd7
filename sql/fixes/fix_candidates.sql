-- fix_candidates: for each break in fix_scope, the fixes it allows (docs/REMEDIATION.md), each
-- with its target and the most it may move: never more than the break's difference, never
-- more than a payment has left or a credit holds.
--   MISSING_CREDIT          补充值 the face value (only when net paid covers the pay amount),
--                           or 退款 from its earliest payment with money left
--   DUPLICATE_PAYMENT       退款 the extra: its latest payment with money left
--   ORPHAN_PAYMENT          退款 the payment
--   DUPLICATE_CREDIT        冲正 its latest standing credit that the excess covers
--   CREDIT_WITHOUT_PAYMENT,
--   REFUNDED_BUT_CREDITED   冲正 its earliest standing credit that the break covers
with payment_choice as (
    select
        s.break_key,
        p.provider,
        p.provider_txn_id,
        p.paid,
        p.remaining,
        row_number() over (partition by s.break_key order by p.paid_at, p.provider_txn_id) as earliest,
        row_number() over (partition by s.break_key order by p.paid_at desc, p.provider_txn_id desc) as latest
    from fix_scope as s
    join refundable_payments as p
      on (s.break_type = 'ORPHAN_PAYMENT' and p.provider = s.provider and p.provider_txn_id = s.provider_txn_id)
      or (s.break_type <> 'ORPHAN_PAYMENT' and p.order_id = s.order_id)
    where p.remaining > 0
),
credit_choice as (
    select
        s.break_key,
        c.credit_id,
        c.amount,
        row_number() over (partition by s.break_key order by c.credited_at, c.credit_id) as earliest,
        row_number() over (partition by s.break_key order by c.credited_at desc, c.credit_id desc) as latest
    from fix_scope as s
    join standing_credits as c on c.order_id = s.order_id
    where c.amount <= -s.difference
),
refunds as (
    select
        s.break_key,
        'refund' as kind,
        p.provider || ':' || p.provider_txn_id as target,
        p.provider,
        p.provider_txn_id,
        null::varchar as credit_id,
        p.paid as payment_amount,
        least(p.remaining, s.difference) as max_amount
    from fix_scope as s
    join payment_choice as p using (break_key)
    where s.difference > 0
      and ((s.break_type in ('MISSING_CREDIT', 'ORPHAN_PAYMENT') and p.earliest = 1)
           or (s.break_type = 'DUPLICATE_PAYMENT' and p.latest = 1))
),
recredits as (
    select
        s.break_key,
        'recredit' as kind,
        s.order_id as target,
        null::varchar as provider,
        null::varchar as provider_txn_id,
        null::varchar as credit_id,
        null::decimal(18, 2) as payment_amount,
        s.face_value as max_amount
    from fix_scope as s
    where s.break_type = 'MISSING_CREDIT'
      and s.face_value > 0
      and s.difference >= s.pay_amount
),
reversals as (
    select
        s.break_key,
        'reversal' as kind,
        c.credit_id as target,
        null::varchar as provider,
        null::varchar as provider_txn_id,
        c.credit_id,
        null::decimal(18, 2) as payment_amount,
        c.amount as max_amount
    from fix_scope as s
    join credit_choice as c using (break_key)
    where (s.break_type = 'DUPLICATE_CREDIT' and c.latest = 1)
       or (s.break_type in ('CREDIT_WITHOUT_PAYMENT', 'REFUNDED_BUT_CREDITED') and c.earliest = 1)
),
candidates as (
    select * from refunds
    union all by name
    select * from recredits
    union all by name
    select * from reversals
)
select
    c.break_key,
    s.break_type,
    c.kind,
    c.target,
    s.order_id,
    c.provider,
    c.provider_txn_id,
    c.credit_id,
    s.msisdn,
    s.product_type,
    c.payment_amount,
    c.max_amount
from candidates as c
join fix_scope as s using (break_key)
order by c.break_key, c.kind
