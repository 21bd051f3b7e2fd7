-- stg_orders_repeated: the orders delivered more than once (a re-export after a status change,
-- rare), one row each: the order belongs to the date of the first orders file it arrived in,
-- and its fields are those of the newest updated_at.
-- Only rows whose order id is on another row too (flagged `repeats` as they were loaded,
-- etl.redelivery) are read whole and ranked. A flagged order with one row the run can see (its
-- twin is of a later date, or was deleted) comes out as its own single row, exactly as
-- stg_orders would take it from raw_orders.
select
    o.rowid as row_id,
    o.order_id,
    min(o.landing_date) over (partition by o.order_id) as order_date,
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
where o.landing_date <= $run_date and o.order_id is not null and o.repeats
qualify row_number() over (
    partition by o.order_id
    order by o.updated_at desc nulls last, o.landing_date desc, o.source_file desc, o.source_line desc
) = 1
