-- orphan_credits: successful credits with no order id, or one no orders file knows.
-- Billing of D runs to D+1 02:00; a credit posted after midnight for an order not yet known
-- may belong to an order paid after midnight (in tomorrow's orders file): judge it tomorrow.
-- Today's orphans were found by row_outcomes, in the one pass that gives every row landing
-- today its outcome (ORPHAN_CREDIT, listed by its raw row): they are read back here.
-- Yesterday's credits posted after midnight for an order then unknown (PENDING_NEXT_DAY
-- yesterday) are judged now: few, they look up their orders by their ids alone, in today's
-- evaluation and among the earlier orders (each hash table holds only their ids).
with today_orphans as (
    select c.*
    from stg_credits as c
    semi join (
        select orphan_row_id as row_id from row_outcomes where outcome = 'ORPHAN_CREDIT'  -- billing rows only
    ) as o using (row_id)
    where c.landing_date = $run_date
),
held_over as (
    select c.*
    from stg_credits as c
    where c.landing_date = $run_date - 1 and c.is_credit
      and c.order_id is not null and c.credited_at >= $day_start
),
-- the earlier orders' rows of their ids, found by the ids' stored hashes (etl.row_hashes): the
-- scan reads 8 bytes of each earlier order, and the ids of the few rows found
held_over_rows as (
    select o.rowid as row_id
    from raw_orders as o
    semi join (select hash(order_id) as h from held_over) as k on k.h = o.key_hash
    where o.landing_date < $run_date
),
known as (
    select e.order_id from int_order_eval as e semi join held_over as h using (order_id)
    union all
    select o.order_id from raw_orders as o semi join held_over_rows as r on r.row_id = o.rowid
),
orphans as (
    select * from today_orphans
    union all
    select h.* from held_over as h anti join known as k using (order_id)
)
select
    'ORPHAN_CREDIT|' || c.credit_id as break_key,
    'ORPHAN_CREDIT' as break_type,
    c.order_id,
    null::varchar as provider,
    null::varchar as provider_txn_id,
    c.credit_id,
    c.msisdn,
    null::decimal(18, 2) as order_amount,
    null::decimal(18, 2) as paid_amount,
    c.amount as credited_amount,
    -c.amount as difference,
    null::timestamp as paid_at,
    c.credited_at,
    null::decimal(18, 2) as delay_minutes
from orphans as c
