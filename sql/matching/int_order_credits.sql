-- int_order_credits: per order in scope, the credits that stand in billing.
select
    c.order_id,
    count(*) as n_credits,
    sum(c.amount) as credited_total,
    min(c.credited_at) as first_credited_at,
    arg_min(c.credit_id, c.credited_at) as credit_id,
    sum(o.face_value - c.amount) filter (where c.amount <> o.face_value) as credit_mismatch
from stg_credits as c
join stg_orders as o using (order_id)
where c.is_standing
  and c.order_id in (select order_id from int_scope)
group by c.order_id
