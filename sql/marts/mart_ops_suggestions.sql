-- mart_ops_suggestions: the run's fallback match suggestions for $business_date: an orphan
-- credit with no order id that looks like the missing credit of an open order. Never applied
-- by the run itself; ops confirm or reject them.
select
    credit_id,
    order_id,
    mask_msisdn(msisdn) as msisdn_masked,
    amount,
    credited_at,
    paid_at,
    round(date_diff('second', paid_at, credited_at) / 60.0, 1) as minutes_after_payment,
    candidates,
    confidence
from fallback_suggestions
where business_date = $business_date
order by confidence desc, amount desc, credit_id, order_id
