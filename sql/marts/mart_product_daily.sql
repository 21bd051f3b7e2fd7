-- mart_product_daily: one row per day from $window_start to $business_date: orders, GMV,
-- success and late-credit rates, time to credit, survey scores and complaints. Each order
-- counts on its order date, as its latest evaluation has it (mart_order_days).
with days as (
    select range::date as day
    from range($window_start::date, $business_date::date + 1, interval 1 day)
),
-- the percentiles of each day's delays to credit, read off mart_order_days' histogram with
-- quantile_cont's definition: of n delays in order, the one at 0-based position (n − 1)·q,
-- interpolated between its neighbours when that position is not whole. Computed in decimals:
-- exact (delays of 0.01 minute interpolate to 0.0001), where quantile_cont's doubles may be off
-- in the last bit
delay_ranks as (
    select
        order_date as day,
        delay_minutes,
        sum(orders) over (partition by order_date order by delay_minutes rows unbounded preceding) as through,
        sum(orders) over (partition by order_date) as credited
    from mart_order_days
    where credit_timing like 'credited%' and delay_minutes is not null
),
positions as (
    select
        day,
        q.quantile,
        ((credited - 1) * q.quantile)::decimal(18, 2) as position,
        min(delay_minutes) filter (where through > floor((credited - 1) * q.quantile)) as below,
        min(delay_minutes) filter (where through > ceil((credited - 1) * q.quantile)) as above
    from delay_ranks
    cross join (values (0.50), (0.95), (0.99)) as q(quantile)
    group by day, q.quantile, credited
),
percentiles as (
    select
        day,
        any_value(below + (above - below) * (position - floor(position))) filter (where quantile = 0.50) as p50,
        any_value(below + (above - below) * (position - floor(position))) filter (where quantile = 0.95) as p95,
        any_value(below + (above - below) * (position - floor(position))) filter (where quantile = 0.99) as p99
    from positions
    group by day
),
order_days as (
    select
        order_date as day,
        sum(orders)::bigint as orders,
        sum(paid_orders)::bigint as paid_orders,
        coalesce(sum(gmv), 0) as gmv,
        coalesce(sum(orders) filter (where credit_timing like 'credited%'), 0)::bigint as credited_orders,
        coalesce(sum(orders) filter (where credit_timing = 'credited late'), 0)::bigint as late_orders
    from mart_order_days
    group by order_date
),
surveys as (
    select
        landing_date as day,
        csat,
        nps
    from raw_surveys
    where landing_date between $window_start and $business_date
    qualify row_number() over (partition by response_id order by landing_date, source_file, source_line) = 1
),
survey_days as (
    select
        day,
        count(*) as responses,
        count(csat) as csat_responses,
        sum(csat) as csat_sum,
        avg(csat) as csat_avg,
        count(nps) as nps_responses,
        count(*) filter (where nps >= 9) as promoters,
        count(*) filter (where nps <= 6) as detractors,
        100.0 * (count(*) filter (where nps >= 9) - count(*) filter (where nps <= 6))
            / nullif(count(nps), 0) as nps
    from surveys
    group by day
),
complaints as (
    select landing_date as day
    from raw_complaints
    where landing_date between $window_start and $business_date
    qualify row_number() over (partition by ticket_id order by landing_date, source_file, source_line) = 1
),
complaint_days as (
    select day, count(*) as complaints
    from complaints
    group by day
)
select
    d.day,
    d.day in (select business_date from control_totals) as has_run,
    coalesce(o.orders, 0) as orders,
    coalesce(o.paid_orders, 0) as paid_orders,
    coalesce(o.gmv, 0)::decimal(18, 2) as gmv,
    coalesce(o.credited_orders, 0) as credited_orders,
    coalesce(o.late_orders, 0) as late_orders,
    o.credited_orders / nullif(o.paid_orders, 0) as success_rate,
    o.late_orders / nullif(o.credited_orders, 0) as late_rate,
    p.p50::double as p50_minutes,
    p.p95::double as p95_minutes,
    p.p99::double as p99_minutes,
    coalesce(s.responses, 0) as responses,
    coalesce(s.csat_responses, 0) as csat_responses,
    coalesce(s.csat_sum, 0) as csat_sum,
    s.csat_avg,
    coalesce(s.nps_responses, 0) as nps_responses,
    coalesce(s.promoters, 0) as promoters,
    coalesce(s.detractors, 0) as detractors,
    s.nps,
    coalesce(c.complaints, 0) as complaints,
    10000.0 * c.complaints / nullif(o.orders, 0) as complaints_per_10k
from days as d
left join order_days as o using (day)
left join percentiles as p using (day)
left join survey_days as s using (day)
left join complaint_days as c using (day)
order by d.day
