-- console_ids: the other ids a customer or a colleague may quote, landing on $run_date, each
-- with the order it belongs to: providers' transaction and refund ids, billing's credit ids.
select distinct $run_date::date as business_date, provider_txn_id as id, 'txn' as kind, order_id, provider
from raw_payments
where landing_date = $run_date and provider_txn_id is not null
union all
select distinct $run_date::date, refund_id, 'refund', order_id, provider
from raw_payments
where landing_date = $run_date and refund_id is not null
union all
select distinct $run_date::date, credit_id, 'credit', order_id, null
from raw_billing
where landing_date = $run_date and credit_id is not null
order by id
