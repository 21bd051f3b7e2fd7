-- row_outcomes: every row landing on $run_date, each with exactly one outcome, counted per
-- source and outcome (rows, amount). Orphans are listed one by one (orphan_row_id: the row of
-- raw_payments or raw_billing, by source), so that the orphan checks read them from here
-- instead of probing the evaluation with every statement and billing row again.
-- No `else` in these cases on purpose: a row no rule explains gets a null outcome, and the
-- control totals then refuse to balance.
-- Every known order that a row landing today names is in scope, so it has an evaluation:
-- a single join with int_order_eval gives both the order's outcome and whether it is known.
-- An order delivered once (nearly all) is its own evaluation's one row: those are counted from
-- int_order_eval directly, and only the rows of orders delivered more than once
-- (stg_orders_repeated) go through the join.
with single_orders as (
    select 'orders' as source, e.outcome, count(*) as rows, sum(e.face_value) as amount
    from int_order_eval as e
    anti join stg_orders_repeated as r using (order_id)
    where e.order_date = $run_date
    group by e.outcome
),
order_rows as (
    select o.rowid as row_id, o.order_id, o.face_value, o.source_file, o.source_line
    from raw_orders as o
    semi join stg_orders_repeated as r using (order_id)
    where o.landing_date = $run_date
),
-- an order belongs to the first file it came in: a later row of it is a copy
order_copies as (
    select r.row_id
    from order_rows as r
    qualify row_number() over (partition by r.order_id order by r.source_file, r.source_line) > 1
),
today as (
    -- decided: the outcome when the order's evaluation does not matter
    select
        'orders' as source, 'order' as row_type, null::bigint as row_id, r.order_id, r.face_value as amount,
        case when c.row_id is not null then 'DUPLICATE_ROW' end as decided,
        null::varchar as kind, null::boolean as is_credit, null::boolean as is_reversal,
        null::timestamp as credited_at
    from order_rows as r
    left join order_copies as c using (row_id)
    union all
    select
        p.provider, 'payment', p.row_id, p.order_id, p.amount,
        case
            when p.is_copy then 'DUPLICATE_ROW'
            when p.kind = 'unknown' then 'UNKNOWN_TYPE'
            when p.kind = 'void' then 'VOID'
            when p.kind in ('payment', 'refund') and p.status is distinct from 'success' then 'NOT_SUCCESSFUL'
        end,
        p.kind, null, null, null
    from stg_payments as p
    where p.landing_date = $run_date
    union all
    select
        'billing', 'credit', c.row_id, c.order_id, c.amount,
        case
            when c.is_copy then 'DUPLICATE_ROW'
            when c.result = 'failed' then 'FAILED_CREDIT'
        end,
        null, c.is_credit, c.is_reversal, c.credited_at
    from stg_credits as c
    where c.landing_date = $run_date
),
classified as (
    select
        t.source,
        t.row_id,
        t.amount,
        case
            when t.decided is not null then t.decided
            when t.row_type = 'order' then
                -- not in scope: the order came in an earlier file, so this row is a re-export
                case when e.order_id is null or e.order_date < $run_date then 'DUPLICATE_ROW'
                     else e.outcome end
            when t.row_type = 'payment' then
                case
                    when t.kind in ('payment', 'refund') and e.outcome is not null then e.outcome
                    when t.kind = 'payment' and e.order_id is null then 'ORPHAN_PAYMENT'
                    when t.kind = 'refund' and e.order_id is null then 'ORPHAN_REFUND'
                end
            when t.row_type = 'credit' then
                case
                    when e.outcome is not null then e.outcome
                    when t.order_id is null and t.is_reversal then 'ORPHAN_REVERSAL'
                    when t.is_credit and (t.order_id is null or t.credited_at < $day_end) then 'ORPHAN_CREDIT'
                    when t.is_credit then 'PENDING_NEXT_DAY'
                    when t.is_reversal then 'ORPHAN_REVERSAL'
                end
        end as outcome
    from today as t
    left join (select order_id, order_date, outcome from int_order_eval) as e using (order_id)
),
feedback as (
    select 'surveys' as source, 'LOADED' as outcome, count(*) as rows, 0::decimal(38, 2) as amount
    from raw_surveys where landing_date = $run_date
    union all
    select 'complaints', 'LOADED', count(*), 0::decimal(38, 2)
    from raw_complaints where landing_date = $run_date
)
select source, outcome, orphan_row_id, sum(rows)::bigint as rows, sum(amount) as amount
from (
    select
        source,
        outcome,
        case when outcome in ('ORPHAN_PAYMENT', 'ORPHAN_CREDIT') then row_id end as orphan_row_id,
        count(*) as rows,
        sum(amount) as amount
    from classified
    group by all
    union all
    select source, outcome, null, rows, amount from single_orders
)
group by source, outcome, orphan_row_id
union all
select source, outcome, null, rows, amount from feedback where rows > 0
