-- mart_product_satisfaction: survey answers received in the 7 days $week_start to
-- $business_date, by the channel and the product type of the order they are about: CSAT
-- (mean of 1-5, and the share answering 4 or 5) and NPS (% promoters 9-10 minus % detractors
-- 0-6). Answers about an order not found in the last 30 days count under '(unknown order)'.
with surveys as (
    select
        order_id,
        csat,
        nps
    from raw_surveys
    where landing_date between $week_start and $business_date
    qualify row_number() over (partition by response_id order by landing_date, source_file, source_line) = 1
),
-- the orders the week's answers name, each once: its latest own-run evaluation of the window
-- (an order judged again after a backfill moved its order date has two), from the evaluations
-- looked up for the week's answers and complaints (mart_survey_orders)
orders as (
    select
        order_id,
        coalesce(channel, '(none)') as channel,
        coalesce(product_type, '(none)') as product_type
    from mart_survey_orders
    where business_date = order_date
    qualify row_number() over (partition by order_id order by business_date desc) = 1
),
answers as (
    select
        coalesce(o.channel, '(unknown order)') as channel,
        coalesce(o.product_type, '(unknown order)') as product_type,
        s.csat,
        s.nps
    from surveys as s
    left join orders as o using (order_id)
)
select
    case
        when grouping(channel) = 0 then 'channel'
        when grouping(product_type) = 0 then 'product_type'
        else 'total'
    end as dimension,
    coalesce(channel, product_type, 'total') as value,
    count(*) as responses,
    count(csat) as csat_responses,
    avg(csat) as csat_avg,
    count(*) filter (where csat >= 4) / nullif(count(csat), 0) as csat_satisfied_share,
    count(nps) as nps_responses,
    count(*) filter (where nps >= 9) as promoters,
    count(*) filter (where nps <= 6) as detractors,
    100.0 * (count(*) filter (where nps >= 9) - count(*) filter (where nps <= 6)) / nullif(count(nps), 0) as nps
from answers
group by grouping sets ((channel), (product_type), ())
order by dimension, responses desc, value
