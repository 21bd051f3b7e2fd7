-- mart_finance_settlement_month: settlement per provider and day from the first of the month
-- to $business_date, with month-to-date totals per provider and overall.
with month_days as (
    select
        business_date,
        provider,
        payment_count,
        gross_paid,
        refund_count,
        refunds,
        fees,
        net_settlement,
        coalesce(diff_gross_paid, 0) <> 0
            or coalesce(diff_refunds, 0) <> 0
            or coalesce(diff_fees, 0) <> 0 as statement_differs
    from settlement
    where business_date between $month_start and $business_date
)
select
    case
        when grouping(business_date) = 0 then 'day'
        when grouping(provider) = 0 then 'provider_mtd'
        else 'mtd'
    end as grain,
    business_date,
    coalesce(provider, 'total') as provider,
    sum(payment_count) as payment_count,
    sum(gross_paid) as gross_paid,
    sum(refund_count) as refund_count,
    sum(refunds) as refunds,
    sum(fees) as fees,
    sum(net_settlement) as net_settlement,
    count(*) filter (where statement_differs) as days_statement_differs
from month_days
group by grouping sets ((business_date, provider), (provider), ())
order by grain, business_date, provider
