-- refundable_payments: each successful payment of the orders in fix_scope, or named there by
-- its transaction id (an orphan payment; the payment a fix is about to refund), and what it has left after its successful refunds, as the
-- statements loaded so far state them. A row delivered twice (same provider, kind, transaction
-- and refund request number) counts once. Refunds sent but not yet in a statement are not here:
-- etl/fixes/targets.py subtracts those.
with named as (
    select provider, provider_txn_id from fix_scope where provider_txn_id is not null
),
statement_rows as (
    select
        provider,
        kind,
        provider_txn_id,
        refund_id,
        any_value(order_id) as order_id,
        any_value(amount) as amount,
        min(event_at) as event_at
    from raw_payments
    where status = 'success'
      and kind in ('payment', 'refund')
      and (order_id in (select order_id from fix_scope)
           or (provider, provider_txn_id) in (select provider, provider_txn_id from named))
    group by provider, kind, provider_txn_id, refund_id
),
payments as (
    select provider, provider_txn_id, order_id, amount as paid, event_at as paid_at
    from statement_rows
    where kind = 'payment'
),
refunds as (
    select provider, provider_txn_id, sum(amount) as refunded, count(*) as refunds
    from statement_rows
    where kind = 'refund'
    group by provider, provider_txn_id
)
select
    p.provider,
    p.provider_txn_id,
    p.order_id,
    p.paid,
    p.paid_at,
    coalesce(r.refunded, 0) as refunded,
    coalesce(r.refunds, 0) as refunds,
    greatest(p.paid - coalesce(r.refunded, 0), 0) as remaining
from payments as p
left join refunds as r using (provider, provider_txn_id)
