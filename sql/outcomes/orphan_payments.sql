-- orphan_payments: successful payments landing today for an order id no orders file knows
-- (长款: money received for nothing). row_outcomes found them, in the one pass that gives every
-- row landing today its outcome (ORPHAN_PAYMENT, listed by its raw row): they are read back here.
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
semi join (
    select orphan_row_id as row_id from row_outcomes where outcome = 'ORPHAN_PAYMENT'  -- statement rows only
) as o using (row_id)
where p.landing_date = $run_date
