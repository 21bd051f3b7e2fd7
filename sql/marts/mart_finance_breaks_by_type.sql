-- mart_finance_breaks_by_type: the breaks of $business_date per type: open ones split into
-- 长款 (difference > 0: money held, a credit or refund owed) and 短款 (difference < 0: credit
-- given, money missing), new today, resolved today; every type listed, plus a total row.
with break_types(break_type, sort_key, owner) as (
    values
        ('MISSING_CREDIT', 1, 'ops'),
        ('DUPLICATE_PAYMENT', 2, 'ops'),
        ('ORPHAN_PAYMENT', 3, 'finance'),
        ('AMOUNT_MISMATCH', 4, 'finance'),
        ('FEE_MISMATCH', 5, 'finance'),
        ('CREDIT_WITHOUT_PAYMENT', 6, 'finance'),
        ('REFUNDED_BUT_CREDITED', 7, 'finance'),
        ('DUPLICATE_CREDIT', 8, 'finance, ops'),
        ('ORPHAN_CREDIT', 9, 'finance'),
        ('STATUS_MISMATCH', 10, 'ops, platform'),
        ('LATE_CREDIT', 11, 'product, ops')
),
breaks as (
    select
        break_type,
        status,
        first_seen,
        difference
    from break_log
    where business_date = $business_date
      and exported
),
per_type as (
    select
        break_type,
        count(*) filter (where status = 'open') as open_count,
        sum(difference) filter (where status = 'open') as open_amount,
        count(*) filter (where status = 'open' and difference > 0) as long_count,
        sum(difference) filter (where status = 'open' and difference > 0) as long_amount,
        count(*) filter (where status = 'open' and difference < 0) as short_count,
        sum(difference) filter (where status = 'open' and difference < 0) as short_amount,
        count(*) filter (where first_seen = $business_date) as new_count,
        sum(difference) filter (where first_seen = $business_date) as new_amount,
        count(*) filter (where status = 'resolved') as resolved_count,
        sum(difference) filter (where status = 'resolved') as resolved_amount
    from breaks
    group by break_type
),
listed as (
    select
        coalesce(t.sort_key, 99) as sort_key,
        coalesce(t.break_type, p.break_type) as break_type,
        coalesce(t.owner, '') as owner,
        coalesce(p.open_count, 0) as open_count,
        coalesce(p.open_amount, 0) as open_amount,
        coalesce(p.long_count, 0) as long_count,
        coalesce(p.long_amount, 0) as long_amount,
        coalesce(p.short_count, 0) as short_count,
        coalesce(p.short_amount, 0) as short_amount,
        coalesce(p.new_count, 0) as new_count,
        coalesce(p.new_amount, 0) as new_amount,
        coalesce(p.resolved_count, 0) as resolved_count,
        coalesce(p.resolved_amount, 0) as resolved_amount
    from break_types as t
    full join per_type as p using (break_type)
)
select
    grouping(break_type) = 1 as is_total,
    coalesce(break_type, 'total') as break_type,
    min(sort_key) as sort_key,
    case when grouping(break_type) = 1 then '' else min(owner) end as owner,
    sum(open_count) as open_count,
    sum(open_amount)::decimal(18, 2) as open_amount,
    sum(long_count) as long_count,
    sum(long_amount)::decimal(18, 2) as long_amount,
    sum(short_count) as short_count,
    sum(short_amount)::decimal(18, 2) as short_amount,
    sum(new_count) as new_count,
    sum(new_amount)::decimal(18, 2) as new_amount,
    sum(resolved_count) as resolved_count,
    sum(resolved_amount)::decimal(18, 2) as resolved_amount
from listed
group by grouping sets ((break_type), ())
order by is_total, sort_key, break_type
