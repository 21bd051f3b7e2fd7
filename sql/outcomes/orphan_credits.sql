-- orphan_credits: successful credits with no order id, or one no orders file knows.
-- Billing of D runs to D+1 02:00; a credit posted after midnight for an order not yet known
-- may belong to an order paid after midnight (in tomorrow's orders file): judge it tomorrow.
select
    'ORPHAN_CREDIT|' || c.credit_id as break_key,
    'ORPHAN_CREDIT' as break_type,
    c.order_id,
    null::varchar as provider,
    null::varchar as provider_txn_id,
    c.credit_id,
    c.msisdn,
    null::decimal(18, 2) as order_amount,
    null::decimal(18, 2) as paid_amount,
    c.amount as credited_amount,
    -c.amount as difference,
    null::timestamp as paid_at,
    c.credited_at,
    null::decimal(18, 2) as delay_minutes
from stg_credits as c
where c.is_credit
  and not exists (select 1 from stg_orders as o where o.order_id = c.order_id)
  and (
      (c.landing_date = $run_date and (c.order_id is null or c.credited_at < $day_end))
      or (c.landing_date = $run_date - 1 and c.order_id is not null and c.credited_at >= $day_start)
  )
