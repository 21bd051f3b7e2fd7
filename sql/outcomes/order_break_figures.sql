-- order_break_figures: every break rule's figures as of today, for the orders in scope that
-- raise a break today or had one open after the previous run. order_breaks keeps the rules
-- raised; breaks_snapshot shows a break carried open with these figures, so a break found on an
-- earlier night never shows money that has moved since (a refund, a reversal, a late credit).
with previous_run as (
    select max(business_date) as business_date from break_log where business_date < $run_date
),
open_breaks as (
    -- orphan and fee breaks have no rule here: their order ids (if any) find no rule's row
    select distinct l.order_id, l.break_type
    from break_log as l
    join previous_run as p using (business_date)
    where l.status = 'open' and l.order_id is not null
),
candidates as (
    -- most orders raise nothing and had nothing open: skip them before the per-rule expansion
    select *
    from int_order_eval
    where is_credit_without_payment or is_refunded_but_credited or is_missing_credit
       or is_duplicate_payment or is_duplicate_credit or is_amount_mismatch
       or is_late_credit or is_status_mismatch
       or order_id in (select order_id from open_breaks)
),
rules as (
    select
        e.order_id,
        e.pay_amount,
        e.net_paid,
        e.credited_total,
        e.first_paid_at,
        e.first_credited_at,
        e.delay_minutes,
        r.break_type,
        r.raised,
        r.difference::decimal(18, 2) as difference
    from candidates as e
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
    ) as r
)
select r.*
from rules as r
left join open_breaks as o using (order_id, break_type)
where r.raised or o.order_id is not null
