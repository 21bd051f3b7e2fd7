-- orphan_credits: successful credits with no order id, or one no orders file knows.
-- Billing of D runs to D+1 02:00; a credit posted after midnight for an order not yet known
-- may belong to an order paid after midnight (in tomorrow's orders file): judge it tomorrow.
-- Every known order that a row landing today names is in int_order_eval's scope, so for
-- today's rows "not evaluated today" is "unknown". Yesterday's after-midnight credits are not
-- among today's rows: the earlier orders they name are looked up by their ids alone.
with unevaluated as (
    select c.*
    from stg_credits as c
    where c.is_credit
      and not exists (select 1 from int_order_eval as e where e.order_id = c.order_id)
      and (
          (c.landing_date = $run_date and (c.order_id is null or c.credited_at < $day_end))
          or (c.landing_date = $run_date - 1 and c.order_id is not null and c.credited_at >= $day_start)
      )
),
known_earlier as (
    select o.order_id
    from stg_orders as o
    semi join (select order_id from unevaluated where landing_date = $run_date - 1) as y using (order_id)
    where o.order_date < $run_date
)
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
from unevaluated as c
anti join known_earlier as k using (order_id)
