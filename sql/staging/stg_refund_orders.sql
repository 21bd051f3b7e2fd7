-- stg_refund_orders: for each payment that a refund without an order id points at (UnionPay
-- may not give it), the payment's order id. Only those payments are looked up.
select p.provider, p.provider_txn_id, min(p.order_id) as order_id
from raw_payments as p
semi join (
    select distinct provider, provider_txn_id
    from raw_payments
    where landing_date <= $run_date and kind = 'refund' and order_id is null
) as u on u.provider = p.provider and u.provider_txn_id = p.provider_txn_id
anti join stg_payment_copies as c on c.row_id = p.rowid
where p.landing_date <= $run_date and p.kind = 'payment'
group by p.provider, p.provider_txn_id
