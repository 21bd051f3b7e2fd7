-- mart_product_late_vs_ontime: do late credits cost satisfaction? Survey answers and
-- complaints received in the 7 days $week_start to $business_date, by how the order they are
-- about was served, as its latest evaluation has it (mart_order_days, and the same rule for the
-- orders named).
with classes(class_order, credit_timing) as (
    values
        (1, 'credited on time'),
        (2, 'credited late'),
        (3, 'paid, not credited'),
        (4, 'unpaid'),
        (5, 'order unknown')
),
surveys as (
    select
        order_id,
        csat,
        nps
    from raw_surveys
    where landing_date between $week_start and $business_date
    qualify row_number() over (partition by response_id order by landing_date, source_file, source_line) = 1
),
complaints as (
    select order_id
    from raw_complaints
    where landing_date between $week_start and $business_date
    qualify row_number() over (partition by ticket_id order by landing_date, source_file, source_line) = 1
),
-- the orders an answer or a ticket of the week names (the week's, or older ones), each as its
-- latest evaluation of the window has it: only these are looked up (mart_survey_orders), not
-- every order of the window (10M a day)
named as materialized (
    select
        order_id,
        credit_timing(net_paid, n_credits, n_payments, delay_minutes, sla_minutes) as credit_timing
    from mart_survey_orders
    qualify row_number() over (partition by order_id order by business_date desc) = 1
),
answers as (
    select
        coalesce(o.credit_timing, 'order unknown') as credit_timing,
        count(*) as responses,
        count(s.csat) as csat_responses,
        avg(s.csat) as csat_avg,
        count(*) filter (where s.csat >= 4) / nullif(count(s.csat), 0) as csat_satisfied_share,
        count(s.nps) as nps_responses,
        100.0 * (count(*) filter (where s.nps >= 9) - count(*) filter (where s.nps <= 6))
            / nullif(count(s.nps), 0) as nps
    from surveys as s
    left join named as o using (order_id)
    group by all
),
complained as (
    select
        coalesce(o.credit_timing, 'order unknown') as credit_timing,
        count(*) as complaints
    from complaints as c
    left join named as o using (order_id)
    group by all
),
week_orders as (
    select credit_timing, sum(orders)::bigint as orders
    from mart_order_days
    where order_date between $week_start and $business_date
    group by credit_timing
)
select
    k.class_order,
    k.credit_timing,
    coalesce(w.orders, 0) as orders,
    coalesce(a.responses, 0) as responses,
    coalesce(a.csat_responses, 0) as csat_responses,
    a.csat_avg,
    a.csat_satisfied_share,
    coalesce(a.nps_responses, 0) as nps_responses,
    a.nps,
    coalesce(c.complaints, 0) as complaints,
    10000.0 * c.complaints / nullif(w.orders, 0) as complaints_per_10k
from classes as k
left join answers as a using (credit_timing)
left join complained as c using (credit_timing)
left join week_orders as w using (credit_timing)
order by k.class_order
