-- stg_orders_once (a view): the orders delivered once (nearly all), each its own raw row: the
-- part of stg_orders that needs no ranking. A row whose order id is on another row too is
-- flagged `repeats` as it is loaded, and is taken from stg_orders_repeated instead. The load
-- flags every row of such an id (etl.redelivery), and the match flags rows written without a
-- flag before it reads them; were a twin ever left unflagged, its order would be counted twice
-- and the control totals would refuse to balance. The date comes from cfg_run (a view takes
-- no parameters).
-- Its own view, without the union of stg_orders, so that a reader looking rows up by row_id
-- (int_scope_earlier) has the lookup reach the scan of raw_orders.
select
    o.rowid as row_id,  -- the raw row
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
where o.landing_date <= (select run_date from cfg_run) and o.order_id is not null and not o.repeats
