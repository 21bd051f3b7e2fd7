-- mart_product_mix: the orders of $business_date by channel, pay method, product type and
-- province: orders, paid orders, GMV (pay amount of paid orders), credited orders and the
-- success rate (credited of paid). One row per dimension value, plus the day's total.
with orders as (
    select
        coalesce(channel, '(none)') as channel,
        coalesce(pay_method, '(none)') as pay_method,
        coalesce(product_type, '(none)') as product_type,
        coalesce(province, '(none)') as province,
        n_payments > 0 as is_paid,
        net_paid > 0 and n_credits > 0 as is_credited,
        pay_amount
    from order_eval
    where business_date = $business_date
      and order_date = $business_date
)
select
    case
        when grouping(channel) = 0 then 'channel'
        when grouping(pay_method) = 0 then 'pay_method'
        when grouping(product_type) = 0 then 'product_type'
        when grouping(province) = 0 then 'province'
        else 'total'
    end as dimension,
    coalesce(channel, pay_method, product_type, province, 'total') as value,
    count(*) as orders,
    count(*) filter (where is_paid) as paid_orders,
    coalesce(sum(pay_amount) filter (where is_paid), 0)::decimal(18, 2) as gmv,
    count(*) filter (where is_credited) as credited_orders,
    count(*) filter (where is_credited) / nullif(count(*) filter (where is_paid), 0) as success_rate
from orders
group by grouping sets ((channel), (pay_method), (product_type), (province), ())
order by dimension, orders desc, value
