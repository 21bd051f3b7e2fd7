-- mart_ops_resolved_items: the breaks closed on $business_date that had been open before it
-- (late credits found and reported in the same run are left out: nobody had to act), the
-- largest first, at most $resolved_limit rows.
select
    break_type,
    case
        when resolution = 'manual' then 'manual'
        when resolution = 'auto' then 'automatic'
        when break_type = 'LATE_CREDIT' then 'credit arrived late'
        else coalesce(resolution, 'other')
    end as how,
    coalesce(resolved_by, 'recon') as resolved_by,
    resolution_reason,
    order_id,
    provider,
    provider_txn_id,
    credit_id,
    mask_msisdn(msisdn) as msisdn_masked,
    difference,
    delay_minutes,
    first_seen,
    date_diff('day', first_seen, business_date) as age_days
from break_log
where business_date = $business_date
  and exported
  and status = 'resolved'
  and (first_seen < business_date or coalesce(resolution, '') <> 'credited')
order by abs(difference) desc, first_seen, break_type, break_key
limit $resolved_limit
