-- mart_product_complaints: customer-service tickets per 10,000 orders by category, for
-- $business_date and for the 7 days $week_start to $business_date (tickets by the date
-- they landed, orders by order date).
with categories(category_order, category) as (
    values
        (1, 'not_credited'),
        (2, 'late_credit'),
        (3, 'wrong_amount'),
        (4, 'refund'),
        (5, 'payment'),
        (6, 'other')
),
tickets as (
    select
        landing_date,
        coalesce(category, '(none)') as category
    from raw_complaints
    where landing_date between $week_start and $business_date
    qualify row_number() over (partition by ticket_id order by landing_date, source_file, source_line) = 1
),
-- each order once, on its order date as its latest evaluation has it (an order judged again
-- after a backfill moved its order date has two evaluations): mart_order_days
order_counts as (
    select
        coalesce(sum(orders) filter (where order_date = $business_date), 0)::bigint as orders_day,
        coalesce(sum(orders), 0)::bigint as orders_week
    from mart_order_days
    where order_date between $week_start and $business_date
),
per_category as (
    select
        category,
        count(*) filter (where landing_date = $business_date) as complaints_day,
        count(*) as complaints_week
    from tickets
    group by category
),
listed as (
    select
        coalesce(k.category_order, 99) as category_order,
        coalesce(k.category, p.category) as category,
        coalesce(p.complaints_day, 0) as complaints_day,
        coalesce(p.complaints_week, 0) as complaints_week
    from categories as k
    full join per_category as p using (category)
)
select
    grouping(l.category) = 1 as is_total,
    coalesce(l.category, 'total') as category,
    min(l.category_order) as category_order,
    sum(l.complaints_day) as complaints_day,
    10000.0 * sum(l.complaints_day) / nullif(min(n.orders_day), 0) as per_10k_day,
    sum(l.complaints_week) as complaints_week,
    10000.0 * sum(l.complaints_week) / nullif(min(n.orders_week), 0) as per_10k_week,
    min(n.orders_day) as orders_day,
    min(n.orders_week) as orders_week
from listed as l
cross join order_counts as n
group by grouping sets ((l.category), ())
order by is_total, category_order, category
