-- breaks_snapshot: the open-items store as of $run_date: what was open after the previous
-- run, carried forward, resolved or refreshed by what today's run found, plus new breaks.
with previous_run as (
    select max(business_date) as business_date from break_log where business_date < $run_date
),
open_before as (
    select l.*
    from break_log as l
    join previous_run as p using (business_date)
    where l.status = 'open'
),
latest_resolutions as (
    select *
    from resolutions
    where effective_date <= $run_date
    qualify row_number() over (partition by break_key order by resolved_at desc, resolution_id desc) = 1
),
closed_before as (
    select distinct break_key
    from break_log
    where business_date < $run_date and status = 'resolved'
      and break_key not in (select break_key from latest_resolutions where action = 'reopen')
),
manual as (
    select break_key, resolved_by, reason from latest_resolutions where action = 'resolve'
),
-- a fix (etl/fixes) whose refund, re-credit or reversal the statements or billing now show:
-- it resolves the break once the rules no longer find it, like a refund resolves a duplicate
fixed as (
    select break_key, resolved_by, reason from latest_resolutions where action = 'fixed'
),
late_credits_today as (
    select order_id from breaks_found where break_type = 'LATE_CREDIT'
),
-- A break carried open shows today's figures: found again, today's row has them; not found
-- again but its order judged today (a refund, a reversal or a credit landed for it), the figures
-- its rule gives the order today (order_break_figures). A break resolved today keeps the figures
-- it had while open: what was settled.
refreshed as (
    select
        b.break_key,
        t.pay_amount,
        t.net_paid,
        t.credited_total,
        t.difference,
        t.first_paid_at,
        t.first_credited_at,
        t.delay_minutes
    from open_before as b
    join order_break_figures as t on t.order_id = b.order_id and t.break_type = b.break_type
    where b.break_key not in (select break_key from breaks_found)
      and b.break_key not in (select break_key from manual)
      -- these two resolve themselves once no longer found, and a break resolved by its fix today
      and b.break_type not in ('MISSING_CREDIT', 'DUPLICATE_PAYMENT')
      and b.break_key not in (select break_key from fixed)
),
carried as (
    select
        b.break_key, b.break_type, b.order_id, b.provider, b.provider_txn_id, b.credit_id, b.msisdn,
        coalesce(f.order_amount, r.pay_amount, b.order_amount) as order_amount,
        coalesce(f.paid_amount, r.net_paid, b.paid_amount) as paid_amount,
        coalesce(f.credited_amount, r.credited_total, b.credited_amount) as credited_amount,
        coalesce(f.difference, r.difference, b.difference) as difference,
        case when r.break_key is not null then r.first_paid_at else coalesce(f.paid_at, b.paid_at) end as paid_at,
        case when r.break_key is not null then r.first_credited_at
             else coalesce(f.credited_at, b.credited_at) end as credited_at,
        case when r.break_key is not null then r.delay_minutes
             else coalesce(f.delay_minutes, b.delay_minutes) end as delay_minutes,
        b.first_seen,
        case
            when m.break_key is not null then 'manual'
            when f.break_key is null and in_scope.order_id is not null
                 and b.break_type in ('MISSING_CREDIT', 'DUPLICATE_PAYMENT') then
                case when b.break_type = 'MISSING_CREDIT'
                          and b.order_id in (select order_id from late_credits_today) then 'credited_late'
                     else 'auto' end
            when x.break_key is not null and f.break_key is null
                 and (b.break_type in ('ORPHAN_PAYMENT', 'ORPHAN_CREDIT') or in_scope.order_id is not null) then 'fixed'
        end as resolution,
        coalesce(m.resolved_by, case when f.break_key is null and b.break_type not in ('MISSING_CREDIT', 'DUPLICATE_PAYMENT')
                                     then x.resolved_by end) as resolved_by,
        coalesce(m.reason, case when f.break_key is null and b.break_type not in ('MISSING_CREDIT', 'DUPLICATE_PAYMENT')
                                then x.reason end) as resolution_reason
    from open_before as b
    left join breaks_found as f using (break_key)
    left join refreshed as r using (break_key)
    left join manual as m using (break_key)
    left join fixed as x using (break_key)
    -- every order in scope has its evaluation
    left join (select order_id from int_order_eval) as in_scope on in_scope.order_id = b.order_id
),
new_found as (
    select
        f.*,
        case
            when f.break_type = 'LATE_CREDIT' then coalesce(
                (select c.first_seen from carried as c
                 where c.order_id = f.order_id and c.break_type = 'MISSING_CREDIT'), $run_date)
            else $run_date
        end as first_seen,
        case
            when m.break_key is not null then 'manual'
            when f.break_type = 'LATE_CREDIT' then 'credited'
        end as resolution,
        m.resolved_by,
        m.reason as resolution_reason
    from breaks_found as f
    left join manual as m using (break_key)
    where f.break_key not in (select break_key from open_before)
      and f.break_key not in (select break_key from closed_before)
),
combined as (
    select * from carried
    union all by name
    select * from new_found
)
select
    $run_date::date as business_date,
    break_key,
    break_type,
    order_id,
    provider,
    provider_txn_id,
    credit_id,
    msisdn,
    order_amount,
    paid_amount,
    credited_amount,
    difference,
    paid_at,
    credited_at,
    delay_minutes,
    first_seen::date as first_seen,
    case when resolution is null then 'open' else 'resolved' end as status,
    resolution,
    resolved_by,
    resolution_reason,
    -- a missing credit that arrived is reported as its LATE_CREDIT, not repeated
    coalesce(resolution, '') <> 'credited_late' as exported
from combined
