-- console_product: the orders of $run_date as their own night judged them, counted per channel,
-- province, product type and pay method: what the product page adds up over any date range.
select
    order_date,
    coalesce(channel, '') as channel,
    coalesce(province, '') as province,
    coalesce(product_type, '') as product_type,
    coalesce(pay_method, '') as pay_method,
    count(*) as orders,
    count(*) filter (where n_payments > 0) as paid_orders,
    coalesce(sum(pay_amount) filter (where n_payments > 0), 0) as gmv,
    count(*) filter (where net_paid > 0 and n_credits > 0) as credited_orders,
    count(*) filter (where is_late_credit) as late_orders,
    count(*) filter (where is_missing_credit) as missing_orders,
    coalesce(sum(delay_minutes) filter (where net_paid > 0 and n_credits > 0), 0) as delay_minutes_sum
from order_eval
where business_date = $run_date and order_date = $run_date
group by all
order by all
