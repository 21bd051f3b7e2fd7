-- stg_orders: one row per order known to the run for $run_date. The order belongs to the
-- date of the first orders file it arrived in; a later re-export (a delta pull after a status
-- change) updates its fields, the newest updated_at winning.
with visible as (
    select *
    from raw_orders
    where landing_date <= $run_date
),
first_seen as (
    select order_id, min(landing_date) as order_date
    from visible
    group by order_id
),
latest as (
    select *
    from visible
    qualify row_number() over (
        partition by order_id
        order by updated_at desc nulls last, landing_date desc, source_file desc, source_line desc
    ) = 1
)
select
    l.order_id,
    f.order_date,
    l.created_at,
    l.msisdn,
    l.province,
    l.channel,
    l.product_type,
    l.product_code,
    l.face_value,
    l.pay_amount,
    l.pay_method,
    l.status,
    l.updated_at
from latest as l
join first_seen as f using (order_id)
