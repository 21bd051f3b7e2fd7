-- settlement: per provider, what today's statements settle, against the statements' own totals.
-- A statement's refund total counts every refund row it lists, processing ones too (WeChat),
-- so the comparison uses all refund rows while the net settlement uses successful ones only.
with ours as (
    select
        provider,
        count(*) filter (where kind = 'payment' and is_success) as payment_count,
        coalesce(sum(settle_amount) filter (where kind = 'payment' and is_success), 0) as gross_paid,
        count(*) filter (where kind = 'refund' and is_success) as refund_count,
        coalesce(sum(settle_amount) filter (where kind = 'refund' and is_success), 0) as refunds,
        coalesce(sum(settle_amount) filter (where kind = 'refund' and not is_copy), 0) as refunds_listed,
        coalesce(sum(fee) filter (where is_success), 0) as fees,
        coalesce(sum(fee) filter (where kind in ('payment', 'refund') and not is_copy), 0) as fees_listed
    from stg_payments
    where landing_date = $run_date
    group by provider
),
stated as (
    select
        provider,
        sum(payment_count) as stated_payment_count,
        sum(coalesce(settle_amount, payment_amount)) as stated_gross_paid,
        sum(refund_count) as stated_refund_count,
        sum(refund_amount) as stated_refunds,
        sum(fee_total) as stated_fees
    from statement_totals
    where landing_date = $run_date
    group by provider
)
select
    $run_date::date as business_date,
    provider,
    o.payment_count,
    o.gross_paid,
    o.refund_count,
    o.refunds,
    o.fees,
    round(o.gross_paid - o.refunds - o.fees, 2)::decimal(18, 2) as net_settlement,
    s.stated_payment_count,
    s.stated_gross_paid,
    s.stated_refund_count,
    s.stated_refunds,
    s.stated_fees,
    o.gross_paid - s.stated_gross_paid as diff_gross_paid,
    o.refunds_listed - s.stated_refunds as diff_refunds,
    o.fees_listed - s.stated_fees as diff_fees
from ours as o
left join stated as s using (provider)
