-- mart_product_daily: one row per day from $window_start to $business_date: orders, GMV,
-- success and late-credit rates, time to credit, survey scores and complaints. Each order
-- counts on its order date, as its latest evaluation has it (mart_order_latest).
with days as (
    select range::date as day
    from range($window_start::date, $business_date::date + 1, interval 1 day)
),
order_days as (
    select
        order_date as day,
        count(*) as orders,
        count(*) filter (where n_payments > 0) as paid_orders,
        coalesce(sum(pay_amount) filter (where n_payments > 0), 0) as gmv,
        count(*) filter (where net_paid > 0 and n_credits > 0) as credited_orders,
        count(*) filter (where net_paid > 0 and n_credits > 0 and delay_minutes > sla_minutes) as late_orders,
        quantile_cont(delay_minutes::double, 0.50) filter (where net_paid > 0 and n_credits > 0) as p50_minutes,
        quantile_cont(delay_minutes::double, 0.95) filter (where net_paid > 0 and n_credits > 0) as p95_minutes,
        quantile_cont(delay_minutes::double, 0.99) filter (where net_paid > 0 and n_credits > 0) as p99_minutes
    from mart_order_latest
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
    o.p50_minutes,
    o.p95_minutes,
    o.p99_minutes,
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
left join survey_days as s using (day)
left join complaint_days as c using (day)
order by d.day
