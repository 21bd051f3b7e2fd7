-- console_settlement: the settlement of $run_date per provider, against the statements' own
-- totals (sql/outcomes/settlement.sql), for finance's days and months.
select
    business_date, provider, payment_count, gross_paid, refund_count, refunds, fees, net_settlement,
    stated_payment_count, stated_gross_paid, stated_refund_count, stated_refunds, stated_fees,
    diff_gross_paid, diff_refunds, diff_fees
from settlement
where business_date = $run_date
order by provider
