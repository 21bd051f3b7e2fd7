-- mart_order_days: the orders of the 30 days $window_start to $business_date, each as its
-- latest evaluation has it (order_latest), counted per order date, by how the order was served
-- and, for credited orders, by its delay to credit: a histogram, from which mart_product_daily
-- reads its percentiles exactly. The marts that count orders (daily trend, complaints per
-- 10,000 orders, late against on-time) read this one pass over the window (300M evaluations at
-- 10M orders a day) instead of each streaming it again.
select
    order_date,
    credit_timing(net_paid, n_credits, n_payments, delay_minutes, sla_minutes) as credit_timing,
    case when net_paid > 0 and n_credits > 0 then delay_minutes end as delay_minutes,
    count(*) as orders,
    count(*) filter (where n_payments > 0) as paid_orders,
    sum(pay_amount) filter (where n_payments > 0) as gmv
from order_latest($window_start, $business_date)
group by all
