-- int_order_payments: per order in scope, what the statements say was paid and refunded.
with orders as (
    select o.order_id, o.pay_amount
    from stg_orders as o
    join int_scope using (order_id)
),
refunds as (
    select order_id, sum(amount) as refunded_total
    from stg_payments
    where kind = 'refund' and is_success
      and order_id in (select order_id from int_scope)
    group by order_id
),
per_order as (
    select
        n.order_id,
        count(*) as n_payments,
        count(*) filter (where n.net_amount > 0) as n_unrefunded,
        sum(n.amount) as paid_total,
        min(n.event_at) filter (where n.net_amount > 0) as first_unrefunded_at,
        min(n.event_at) as first_paid_at,
        arg_min(n.provider, n.event_at) as provider,
        arg_min(n.provider_txn_id, n.event_at) as provider_txn_id,
        sum(n.net_amount - o.pay_amount)
            filter (where n.net_amount > 0 and abs(n.net_amount - o.pay_amount) > $tolerance) as paid_mismatch
    from int_payment_net as n
    join orders as o using (order_id)
    group by n.order_id
)
select
    p.*,
    coalesce(r.refunded_total, 0) as refunded_total,
    p.paid_total - coalesce(r.refunded_total, 0) as net_paid
from per_order as p
left join refunds as r using (order_id)
