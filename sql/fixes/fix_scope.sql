-- fix_scope: the open breaks named in $break_keys as of the run for $run_date, with their
-- order's face value, pay amount and product (the order's latest delivery). What a fix may
-- move is worked out from these (fix_candidates).
with breaks as (
    select
        break_key,
        break_type,
        order_id,
        provider,
        provider_txn_id,
        credit_id,
        msisdn,
        difference
    from break_log
    where business_date = $run_date
      and status = 'open'
      and list_contains($break_keys, break_key)
),
orders as (
    select
        order_id,
        face_value,
        pay_amount,
        product_type,
        msisdn
    from raw_orders
    where order_id in (select order_id from breaks)
    qualify row_number() over (partition by order_id order by updated_at desc nulls last, landing_date desc) = 1
)
select
    b.break_key,
    b.break_type,
    b.order_id,
    b.provider,
    b.provider_txn_id,
    b.credit_id,
    coalesce(o.msisdn, b.msisdn) as msisdn,
    b.difference,
    o.face_value,
    o.pay_amount,
    o.product_type
from breaks as b
left join orders as o using (order_id)
