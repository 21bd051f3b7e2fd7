-- console_ids: the other ids a customer or a colleague may quote, landing on $run_date, each
-- with the order it belongs to: providers' transaction and refund ids, billing's credit ids.
-- A re-sent row repeats its id: the console's search reads distinct orders, so the night does not
-- pay for a distinct over ~20M ids at 10M orders (2.3 s).
-- The date is added after the sort, which then does not carry it (~1 CPU-s at 10M orders).
select $run_date::date as business_date, id, kind, order_id, provider
from (
    select provider_txn_id as id, 'txn' as kind, order_id, provider
    from raw_payments
    where landing_date = $run_date and provider_txn_id is not null
    union all
    select refund_id, 'refund', order_id, provider
    from raw_payments
    where landing_date = $run_date and refund_id is not null
    union all
    select credit_id, 'credit', order_id, null
    from raw_billing
    where landing_date = $run_date and credit_id is not null
    order by id, kind, order_id, provider  -- total, so that a date run twice writes the same bytes
) as sorted
