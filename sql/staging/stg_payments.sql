-- stg_payments: every provider statement row the run for $run_date can see. A row delivered
-- again in another file (same provider, kind, provider_txn_id, refund_id) is kept once for
-- matching; the copy stays, flagged is_copy, so control totals can count it.
-- A refund names the payment it refunds by provider_txn_id; when the file does not give the
-- original order id (UnionPay may not), it is taken from that payment.
with ranked as (
    select
        *,
        row_number() over (
            partition by provider, kind, provider_txn_id, coalesce(refund_id, '')
            order by landing_date, source_file, source_line
        ) > 1 as is_copy
    from raw_payments
    where landing_date <= $run_date
),
payment_orders as (
    select provider, provider_txn_id, min(order_id) as order_id
    from ranked
    where kind = 'payment' and not is_copy
    group by provider, provider_txn_id
)
select
    r.provider,
    r.provider_txn_id,
    r.refund_id,
    coalesce(r.order_id, p.order_id) as order_id,
    r.kind,
    r.amount,
    r.settle_amount,
    r.fee,
    r.event_at,
    r.status,
    r.status = 'success' and r.kind in ('payment', 'refund') and not r.is_copy as is_success,
    r.is_copy,
    r.landing_date
from ranked as r
left join payment_orders as p
    on r.kind = 'refund' and r.order_id is null
   and p.provider = r.provider and p.provider_txn_id = r.provider_txn_id
