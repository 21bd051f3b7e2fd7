-- fallback_suggestions: orphan credits without an order id that look like the missing credit
-- of an open order: same msisdn, amount = face value, posted within the window after payment.
-- Shown to ops with a confidence; never applied by itself.
with orphans as (
    select credit_id, msisdn, credited_amount as amount, credited_at
    from breaks_snapshot
    where break_type = 'ORPHAN_CREDIT' and status = 'open' and order_id is null
),
open_missing as (
    select order_id, msisdn, paid_at
    from breaks_snapshot
    where break_type = 'MISSING_CREDIT' and status = 'open'
),
-- their orders' face values. The orders are looked up by the stored hashes of their ids
-- (etl.row_hashes) among those delivered once, so that the scan of every order ever loaded reads
-- 8 bytes of each and the other columns of the few found; the few delivered more than once are
-- ranked already (stg_orders_repeated).
open_missing_rows as (
    select o.rowid as row_id
    from raw_orders as o
    semi join (select hash(order_id) as h from open_missing) as m on m.h = o.key_hash
    where o.landing_date <= $run_date
),
open_missing_orders as (
    select o.order_id, o.face_value from stg_orders_once as o semi join open_missing_rows as r using (row_id)
    union all
    select o.order_id, o.face_value from stg_orders_repeated as o
),
missing as (
    select s.order_id, s.msisdn, o.face_value, s.paid_at
    from open_missing as s
    join open_missing_orders as o using (order_id)
),
candidates as (
    select
        c.credit_id,
        m.order_id,
        c.msisdn,
        c.amount,
        c.credited_at,
        m.paid_at,
        count(*) over (partition by c.credit_id) as candidates
    from orphans as c
    join missing as m
        on m.msisdn = c.msisdn
       and m.face_value = c.amount
       and c.credited_at between m.paid_at and m.paid_at + to_minutes($window_minutes)
)
select
    $run_date::date as business_date,
    credit_id,
    order_id,
    msisdn,
    amount,
    credited_at,
    paid_at,
    candidates::integer as candidates,
    round(1.0 / candidates, 4)::decimal(5, 4) as confidence
from candidates
