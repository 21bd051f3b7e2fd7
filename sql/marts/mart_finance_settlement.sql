-- mart_finance_settlement: what each provider settles for $business_date (payments, refunds,
-- fees, net) against the totals its statement states, one row per provider plus a total row.
with settled as (
    select
        provider,
        payment_count,
        gross_paid,
        refund_count,
        refunds,
        fees,
        net_settlement,
        stated_payment_count,
        stated_gross_paid,
        stated_refund_count,
        stated_refunds,
        stated_fees,
        diff_gross_paid,
        diff_refunds,
        diff_fees
    from settlement
    where business_date = $business_date
)
select
    grouping(provider) = 1 as is_total,
    coalesce(provider, 'total') as provider,
    sum(payment_count) as payment_count,
    sum(gross_paid) as gross_paid,
    sum(refund_count) as refund_count,
    sum(refunds) as refunds,
    sum(fees) as fees,
    sum(net_settlement) as net_settlement,
    sum(stated_payment_count) as stated_payment_count,
    sum(stated_gross_paid) as stated_gross_paid,
    sum(stated_refund_count) as stated_refund_count,
    sum(stated_refunds) as stated_refunds,
    sum(stated_fees) as stated_fees,
    sum(payment_count) - sum(stated_payment_count) as diff_payment_count,
    sum(diff_gross_paid) as diff_gross_paid,
    sum(refund_count) - sum(stated_refund_count) as diff_refund_count,
    sum(diff_refunds) as diff_refunds,
    sum(diff_fees) as diff_fees
from settled
group by grouping sets ((provider), ())
order by is_total, provider
