-- int_payment_net: each successful payment of an order in scope, less the refunds against it.
with payments as (
    select provider, provider_txn_id, order_id, amount, event_at
    from stg_payments
    where kind = 'payment' and is_success
      and order_id in (select order_id from int_scope)
),
refunds as (
    select provider, provider_txn_id, sum(amount) as refunded
    from stg_payments
    where kind = 'refund' and is_success
    group by provider, provider_txn_id
)
select
    p.provider,
    p.provider_txn_id,
    p.order_id,
    p.amount,
    p.event_at,
    coalesce(r.refunded, 0) as refunded,
    p.amount - coalesce(r.refunded, 0) as net_amount
from payments as p
left join refunds as r using (provider, provider_txn_id)
