-- mart_product_time_to_credit: minutes from payment to credit for the orders of
-- $business_date that were credited: percentiles and the late-credit rate (delay over the
-- product type's SLA), per channel and overall.
with credited as (
    select
        coalesce(channel, '(none)') as channel,
        delay_minutes,  -- DECIMAL: its mean is exact, whatever order the threads add it up in
        delay_minutes > sla_minutes as is_late
    from order_eval
    where business_date = $business_date
      and order_date = $business_date
      and net_paid > 0
      and n_credits > 0
)
select
    grouping(channel) = 1 as is_total,
    coalesce(channel, 'total') as channel,
    count(*) as credited_orders,
    avg(delay_minutes) as mean_minutes,
    quantile_cont(delay_minutes::double, 0.50) as p50_minutes,
    quantile_cont(delay_minutes::double, 0.95) as p95_minutes,
    quantile_cont(delay_minutes::double, 0.99) as p99_minutes,
    count(*) filter (where is_late) as late_orders,
    count(*) filter (where is_late) / count(*) as late_rate
from credited
group by grouping sets ((channel), ())
order by is_total, credited_orders desc, channel
