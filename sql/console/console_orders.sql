-- console_orders: the search index of the orders landing on $run_date: whom an order was for
-- (the masked number to show, a keyed hash of the whole number to find it: never the number),
-- what was bought and how its own night judged it.
-- The number is masked and hashed, and the date added, after the sort: the sort then carries
-- 11 characters per row, not a 64-character hash and a constant (~1 CPU-s at 10M orders).
select
    $run_date::date as business_date,
    order_id,
    created_at,
    mask_msisdn(msisdn) as msisdn_masked,
    sha256($search_key || msisdn) as msisdn_hash,
    channel,
    province,
    product_type,
    pay_method,
    face_value,
    pay_amount,
    order_status,
    outcome
from (
    select
        o.order_id,
        o.created_at,
        o.msisdn,
        o.channel,
        o.province,
        o.product_type,
        o.pay_method,
        o.face_value,
        o.pay_amount,
        o.status as order_status,
        e.outcome
    from raw_orders as o
    left join (select order_id, outcome from order_eval where business_date = $run_date) as e using (order_id)
    where o.landing_date = $run_date
    order by o.order_id
) as sorted
