-- stg_orders (a view): one row per order known to the run for the date in cfg_run. The order
-- belongs to the date of the first orders file it arrived in; a later re-export (a delta pull
-- after a status change) updates its fields, the newest updated_at winning.
-- A view over raw_orders: an order delivered once is its own raw row; the few delivered more
-- than once come from stg_orders_repeated. Nothing of 10M rows is copied into memory.
select
    o.order_id,
    o.landing_date as order_date,
    o.created_at,
    o.msisdn,
    o.province,
    o.channel,
    o.product_type,
    o.product_code,
    o.face_value,
    o.pay_amount,
    o.pay_method,
    o.status,
    o.updated_at
from raw_orders as o
anti join stg_orders_repeated as r using (order_id)
where o.landing_date <= (select run_date from cfg_run) and o.order_id is not null
union all
select * from stg_orders_repeated
