-- control_totals: per source, rows and amounts in (as loaded) against rows and amounts
-- classified into an outcome. They must agree to the row and the fen.
with loaded as (
    select 'orders' as source, count(*) as rows_in, coalesce(sum(face_value), 0) as amount_in
    from raw_orders where landing_date = $run_date
    union all
    select provider, count(*), coalesce(sum(amount), 0)
    from raw_payments where landing_date = $run_date group by provider
    union all
    select 'billing', count(*), coalesce(sum(amount), 0)
    from raw_billing where landing_date = $run_date
    union all
    select 'surveys', count(*), 0 from raw_surveys where landing_date = $run_date
    union all
    select 'complaints', count(*), 0 from raw_complaints where landing_date = $run_date
),
classified as (
    select
        source,
        coalesce(sum(rows) filter (where outcome is not null), 0) as rows_classified,
        coalesce(sum(amount) filter (where outcome is not null), 0) as amount_classified,
        coalesce(sum(rows) filter (where outcome is null), 0) as rows_unclassified
    from row_outcomes  -- rows counted per source and outcome
    group by source
)
select
    $run_date::date as business_date,
    l.source,
    l.rows_in,
    coalesce(c.rows_classified, 0) as rows_classified,
    coalesce(c.rows_unclassified, 0) as rows_unclassified,
    l.amount_in::decimal(18, 2) as amount_in,
    coalesce(c.amount_classified, 0)::decimal(18, 2) as amount_classified,
    l.rows_in = coalesce(c.rows_classified, 0)
        and l.amount_in = coalesce(c.amount_classified, 0) as balanced
from loaded as l
left join classified as c using (source)
where l.rows_in > 0
