-- mart_ops_aging: open breaks of $business_date by type and age bucket (counts, amounts),
-- with subtotals per type, per bucket and overall.
with open_breaks as (
    select
        break_type,
        age_bucket(date_diff('day', first_seen, business_date)) as age_bucket,
        age_bucket_order(date_diff('day', first_seen, business_date)) as bucket_order,
        difference
    from break_log
    where business_date = $business_date
      and exported
      and status = 'open'
)
select
    coalesce(break_type, 'total') as break_type,
    coalesce(age_bucket, 'all') as age_bucket,
    coalesce(min(bucket_order), 0) as bucket_order,
    next_action(coalesce(break_type, '')) as next_action,
    count(*) as open_count,
    sum(difference)::decimal(18, 2) as amount,
    sum(abs(difference))::decimal(18, 2) as gross_amount
from open_breaks
group by grouping sets ((break_type, age_bucket), (break_type), (age_bucket), ())
order by break_type is null, break_type, bucket_order
