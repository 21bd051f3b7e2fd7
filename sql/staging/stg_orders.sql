-- stg_orders: one row per order known to the run for $run_date. An order is exported once;
-- should a copy arrive again, the first one loaded wins (the copy is a DUPLICATE_ROW).
with ranked as (
    select
        *,
        row_number() over (
            partition by order_id order by landing_date, source_file, source_line
        ) as copy_no
    from raw_orders
    where landing_date <= $run_date
)
select
    order_id,
    landing_date as order_date,
    created_at,
    msisdn,
    province,
    channel,
    product_type,
    product_code,
    face_value,
    pay_amount,
    pay_method,
    status,
    updated_at
from ranked
where copy_no = 1
