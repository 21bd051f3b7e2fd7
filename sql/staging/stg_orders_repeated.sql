-- stg_orders_repeated: the orders delivered more than once (a re-export after a status change,
-- rare), one row each: the order belongs to the date of the first orders file it arrived in,
-- and its fields are those of the newest updated_at.
-- A hash aggregate over the ids' 64-bit hashes finds the candidates cheaply; only their rows
-- are read whole and ranked. Two different ids that share a hash are both candidates, each
-- alone in its partition: it comes out as its own single row, exactly as stg_orders would
-- take it from raw_orders, so a collision changes nothing.
with candidates as (
    select hash(order_id) as id_hash
    from raw_orders
    where landing_date <= $run_date and order_id is not null
    group by id_hash
    having count(*) > 1
)
select
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
semi join candidates as c on c.id_hash = hash(o.order_id)
where o.landing_date <= $run_date and o.order_id is not null
qualify row_number() over (
    partition by o.order_id
    order by o.updated_at desc nulls last, o.landing_date desc, o.source_file desc, o.source_line desc
) = 1
