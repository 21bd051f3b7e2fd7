-- mart_finance_breaks_month: breaks found and resolved from the first of the month to
-- $business_date, per type. A break's amount is its latest difference in the month.
with month_rows as (
    select
        break_key,
        break_type,
        business_date,
        status,
        first_seen,
        difference
    from break_log
    where business_date between $month_start and $business_date
),
per_break as (
    select
        break_key,
        break_type,
        min(first_seen) as first_seen,
        arg_max(difference, business_date) as difference,
        bool_or(status = 'resolved') as resolved_in_month,
        arg_max(status, business_date) = 'open'
            and max(business_date) = $business_date as open_now
    from month_rows
    group by break_key, break_type
)
select
    grouping(break_type) = 1 as is_total,
    coalesce(break_type, 'total') as break_type,
    count(*) filter (where first_seen >= $month_start) as new_count,
    coalesce(sum(difference) filter (where first_seen >= $month_start and difference > 0), 0)::decimal(18, 2)
        as new_long_amount,
    coalesce(sum(difference) filter (where first_seen >= $month_start and difference < 0), 0)::decimal(18, 2)
        as new_short_amount,
    count(*) filter (where resolved_in_month) as resolved_count,
    coalesce(sum(difference) filter (where resolved_in_month), 0)::decimal(18, 2) as resolved_amount,
    count(*) filter (where open_now) as open_count,
    coalesce(sum(difference) filter (where open_now), 0)::decimal(18, 2) as open_amount
from per_break
group by grouping sets ((break_type), ())
order by is_total, break_type
