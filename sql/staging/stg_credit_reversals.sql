-- stg_credit_reversals: the credits a reversal (not a copy) names, with the order of the
-- credit cancelled (a reversal without an order id takes it from there).
with reversals as (
    select b.reverses_credit_id as credit_id
    from raw_billing as b
    anti join stg_credit_copies as c on c.row_id = b.rowid
    where b.landing_date <= $run_date and b.reverses_credit_id is not null
      and (b.amount < 0 or b.result = 'reversed')
),
unnamed as (
    select distinct reverses_credit_id as credit_id
    from raw_billing
    where landing_date <= $run_date and order_id is null and reverses_credit_id is not null
),
credit_orders as (
    select b.credit_id, b.order_id
    from raw_billing as b
    semi join unnamed as u using (credit_id)
    anti join stg_credit_copies as c on c.row_id = b.rowid
    where b.landing_date <= $run_date and b.order_id is not null
)
-- is_reversed: a reversal names it; order_id: its order, when a reversal without one needs it
select coalesce(r.credit_id, o.credit_id) as credit_id, r.credit_id is not null as is_reversed, o.order_id
from (select distinct credit_id from reversals) as r
full join credit_orders as o using (credit_id)
