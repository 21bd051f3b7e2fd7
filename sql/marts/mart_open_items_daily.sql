-- mart_open_items_daily: open breaks as each run from $history_start to $business_date left
-- them, by age bucket and side (长款 long / 短款 short), with per-day totals.
with days as (
    select range::date as business_date
    from range($history_start::date, $business_date::date + 1, interval 1 day)
),
open_rows as (
    select
        business_date,
        age_bucket(date_diff('day', first_seen, business_date)) as age_bucket,
        age_bucket_order(date_diff('day', first_seen, business_date)) as bucket_order,
        difference
    from break_log
    where business_date between $history_start and $business_date
      and exported
      and status = 'open'
),
per_day as (
    select
        business_date,
        age_bucket,
        min(bucket_order) as bucket_order,
        count(*) as open_count,
        count(*) filter (where difference > 0) as long_count,
        coalesce(sum(difference) filter (where difference > 0), 0) as long_amount,
        count(*) filter (where difference < 0) as short_count,
        coalesce(sum(difference) filter (where difference < 0), 0) as short_amount
    from open_rows
    group by grouping sets ((business_date, age_bucket), (business_date))
)
select
    d.business_date,
    d.business_date in (select business_date from control_totals) as has_run,
    coalesce(p.age_bucket, 'all') as age_bucket,
    coalesce(p.bucket_order, 0) as bucket_order,
    coalesce(p.open_count, 0) as open_count,
    coalesce(p.long_count, 0) as long_count,
    coalesce(p.long_amount, 0)::decimal(18, 2) as long_amount,
    coalesce(p.short_count, 0) as short_count,
    coalesce(p.short_amount, 0)::decimal(18, 2) as short_amount
from days as d
left join per_day as p using (business_date)
order by d.business_date, bucket_order
