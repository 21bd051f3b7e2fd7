-- order_breaks: one row per break an order in scope raises today, with its amounts.
with breaks as (
    select e.*, b.break_type, b.difference
    from int_order_eval as e
    cross join lateral (
        select * from (values
            ('CREDIT_WITHOUT_PAYMENT', e.is_credit_without_payment, -e.credited_total),
            ('REFUNDED_BUT_CREDITED', e.is_refunded_but_credited, -e.credited_total),
            ('MISSING_CREDIT', e.is_missing_credit, e.net_paid),
            ('DUPLICATE_PAYMENT', e.is_duplicate_payment, e.net_paid - e.pay_amount),
            ('DUPLICATE_CREDIT', e.is_duplicate_credit, e.face_value - e.credited_total),
            ('AMOUNT_MISMATCH', e.is_amount_mismatch,
                coalesce(e.paid_mismatch, 0) + coalesce(e.credit_mismatch, 0)),
            ('LATE_CREDIT', e.is_late_credit, 0),
            ('STATUS_MISMATCH', e.is_status_mismatch, 0)
        ) as v(break_type, raised, difference)
        where v.raised
    ) as b
    -- most orders raise nothing: skip them before the per-rule expansion
    where e.is_credit_without_payment or e.is_refunded_but_credited or e.is_missing_credit
       or e.is_duplicate_payment or e.is_duplicate_credit or e.is_amount_mismatch
       or e.is_late_credit or e.is_status_mismatch
)
select
    break_type || '|' || order_id as break_key,
    break_type,
    order_id,
    provider,
    provider_txn_id,
    credit_id,
    msisdn,
    pay_amount as order_amount,
    net_paid as paid_amount,
    credited_total as credited_amount,
    difference::decimal(18, 2) as difference,
    first_paid_at as paid_at,
    first_credited_at as credited_at,
    delay_minutes
from breaks
