-- mart_product_hourly: the orders of $business_date by hour of creation (Asia/Shanghai) and
-- channel: orders and GMV, every hour listed.
with orders as (
    select
        hour(created_at) as hour,
        coalesce(channel, '(none)') as channel,
        n_payments > 0 as is_paid,
        pay_amount
    from order_eval
    where business_date = $business_date
      and order_date = $business_date
),
hours as (
    select range as hour from range(0, 24)
),
channels as (
    select distinct channel from orders
),
per_hour as (
    select
        hour,
        channel,
        count(*) as orders,
        coalesce(sum(pay_amount) filter (where is_paid), 0) as gmv
    from orders
    group by hour, channel
)
select
    h.hour,
    c.channel,
    coalesce(p.orders, 0) as orders,
    coalesce(p.gmv, 0)::decimal(18, 2) as gmv
from hours as h
cross join channels as c
left join per_hour as p using (hour, channel)
order by h.hour, c.channel
