-- order_breaks: one row per break an order in scope raises today, with its amounts
-- (order_break_figures: the rules' figures).
-- The ids a break row shows (the order's first payment, its first standing credit, the phone)
-- are looked up here, for the breaking orders only (a few per cent), not carried through the
-- evaluation of every order.
with breaks as (
    select * from order_break_figures where raised
),
breaking as (
    select distinct order_id from breaks
),
-- The lookups read the rows of the orders in scope only: today's raw rows (a night appends its
-- rows, so the scans skip the earlier nights' row groups), filtered by the breaking orders
-- first (materialized, so no other join is planned below it), and the earlier rows
-- int_order_eval read (int_history_payments, int_history_credits, int_scope). Every
-- breaking order is in scope, so every row it has is among them: the history is not scanned
-- again here. Today's rows are read raw, not through the stg_ views: a view's order_id is
-- computed (a refund or reversal may take it from elsewhere), which keeps the join from
-- filtering the 10M-row scan; the rows looked up (payments, credits) carry their own order_id,
-- but for a credit without one that names a cancelled credit (its own branch below).
payment_rows as materialized (
    select rowid as row_id, order_id, provider, provider_txn_id, event_at
    from raw_payments
    semi join breaking using (order_id)
    where landing_date = $run_date and kind = 'payment' and status = 'success'
),
-- the order's first successful payment (refunded or not, not a copy): the payments
-- int_order_eval counts
first_payment as (
    select p.order_id, p.provider, p.provider_txn_id
    from (
        select order_id, provider, provider_txn_id, event_at
        from payment_rows anti join stg_payment_copies as k using (row_id)
        union all
        select order_id, provider, provider_txn_id, event_at
        from int_history_payments semi join breaking using (order_id)
        where kind = 'payment' and is_success
    ) as p
    qualify row_number() over (partition by p.order_id order by p.event_at, p.provider, p.provider_txn_id) = 1
),
credit_rows as materialized (
    select rowid as row_id, order_id, credit_id, credited_at
    from raw_billing
    semi join breaking using (order_id)
    where landing_date = $run_date and result = 'success' and amount > 0
    union all
    -- a credit without an order id that names a cancelled credit takes its order (as in stg_credits)
    select b.rowid, r.order_id, b.credit_id, b.credited_at
    from raw_billing as b
    join stg_credit_reversals as r on r.credit_id = b.reverses_credit_id
    semi join breaking as k on k.order_id = r.order_id
    where b.landing_date = $run_date and b.order_id is null and b.result = 'success' and b.amount > 0
),
-- its first standing credit (successful, not a copy, not reversed: stg_credits.is_standing)
first_credit as (
    select c.order_id, c.credit_id
    from (
        select c.order_id, c.credit_id, c.credited_at
        from credit_rows as c
        anti join stg_credit_copies as k using (row_id)
        anti join (select credit_id from stg_credit_reversals where is_reversed) as r using (credit_id)
        union all
        select order_id, credit_id, credited_at
        from int_history_credits semi join breaking using (order_id)
        where is_standing
    ) as c
    qualify row_number() over (partition by c.order_id order by c.credited_at, c.credit_id) = 1
),
phones as (
    select o.order_id, o.msisdn
    from int_scope as o
    semi join breaking as b using (order_id)
)
select
    break_type || '|' || order_id as break_key,
    break_type,
    order_id,
    fp.provider,
    fp.provider_txn_id,
    fc.credit_id,
    ph.msisdn,
    pay_amount as order_amount,
    net_paid as paid_amount,
    credited_total as credited_amount,
    difference::decimal(18, 2) as difference,
    first_paid_at as paid_at,
    first_credited_at as credited_at,
    delay_minutes
from breaks
left join first_payment as fp using (order_id)
left join first_credit as fc using (order_id)
left join phones as ph using (order_id)
