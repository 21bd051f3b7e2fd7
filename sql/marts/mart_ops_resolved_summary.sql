-- mart_ops_resolved_summary: what was resolved on $business_date, by type, how and by whom.
-- 'credited' is a late credit reported once; 'credited_late' a missing credit that arrived;
-- 'auto' refunds that settled it; 'manual' ops' resolutions (recon resolve).
with resolved as (
    select
        break_type,
        case
            when resolution = 'manual' then 'manual'
            when resolution = 'auto' then 'automatic'
            when break_type = 'LATE_CREDIT' and first_seen < business_date then 'credit arrived late'
            when break_type = 'LATE_CREDIT' then 'late credit (same run)'
            else coalesce(resolution, 'other')
        end as how,
        coalesce(resolved_by, 'recon') as resolved_by,
        difference
    from break_log
    where business_date = $business_date
      and exported
      and status = 'resolved'
)
select
    coalesce(break_type, 'total') as break_type,
    coalesce(how, '') as how,
    coalesce(resolved_by, '') as resolved_by,
    count(*) as resolved_count,
    sum(difference)::decimal(18, 2) as amount
from resolved
group by grouping sets ((break_type, how, resolved_by), ())
order by break_type is null, break_type, how, resolved_by
