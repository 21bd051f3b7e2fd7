-- orphan_payments: successful payments landing today for an order id no orders file knows
-- (长款: money received for nothing).
-- Every known order that a row landing today names is in int_order_eval's scope, so "not
-- evaluated today" is "unknown": the check holds today's orders, not every order ever loaded.
select
    'ORPHAN_PAYMENT|' || p.provider || '|' || p.provider_txn_id as break_key,
    'ORPHAN_PAYMENT' as break_type,
    p.order_id,
    p.provider,
    p.provider_txn_id,
    null::varchar as credit_id,
    null::varchar as msisdn,
    null::decimal(18, 2) as order_amount,
    p.amount as paid_amount,
    null::decimal(18, 2) as credited_amount,
    p.amount as difference,
    p.event_at as paid_at,
    null::timestamp as credited_at,
    null::decimal(18, 2) as delay_minutes
from stg_payments as p
where p.landing_date = $run_date
  and p.kind = 'payment' and p.is_success
  and not exists (select 1 from int_order_eval as e where e.order_id = p.order_id)
