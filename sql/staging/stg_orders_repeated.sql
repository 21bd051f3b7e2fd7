-- stg_orders_repeated: the orders delivered more than once (a re-export after a status change,
-- rare), one row each: the order belongs to the date of the first orders file it arrived in,
-- and its fields are those of the newest updated_at. A hash aggregate finds them; only their
-- rows are ranked.
with visible as (
    select
        order_id, created_at, msisdn, province, channel, product_type, product_code, face_value,
        pay_amount, pay_method, status, updated_at, landing_date, source_file, source_line
    from raw_orders
    where landing_date <= $run_date and order_id is not null
)
select
    v.order_id,
    min(v.landing_date) over (partition by v.order_id) as order_date,
    v.created_at,
    v.msisdn,
    v.province,
    v.channel,
    v.product_type,
    v.product_code,
    v.face_value,
    v.pay_amount,
    v.pay_method,
    v.status,
    v.updated_at
from visible as v
semi join (select order_id from visible group by order_id having count(*) > 1) as r using (order_id)
qualify row_number() over (
    partition by v.order_id
    order by v.updated_at desc nulls last, v.landing_date desc, v.source_file desc, v.source_line desc
) = 1
