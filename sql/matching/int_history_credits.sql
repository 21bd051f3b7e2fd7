-- int_history_credits: the billing rows landed before the run's date of the orders in scope
-- (int_scope: today's, and the earlier ones a row landing today names). With today's
-- rows they are all the billing rows of those orders, which the evaluation (int_order_eval) and
-- the break rows (order_breaks) read: found once, here, by one scan of the earlier rows. Few
-- rows (every kind, copies included; the readers filter): a credit posted before its order's
-- file came, and the credits of the earlier orders in scope.
-- As in int_history_payments, the scan reads the stored hash of every earlier row's order id
-- and its date, and the other columns only of the rows found, by row id. A reversal without an
-- order id takes the order of the credit it cancels (stg_credits): the hash of no id is probed
-- too, so those are kept for the view to resolve.
with wanted as (
    select c.rowid as row_id
    from raw_billing as c
    semi join (
        select hash(order_id) as h from int_scope
        union all
        select hash(null::varchar)
    ) as s on s.h = c.order_hash
    where c.landing_date < $run_date and $has_earlier
)
select c.order_id, c.credit_id, c.amount, c.credited_at, c.is_standing
from stg_credits as c
semi join wanted as w using (row_id)
semi join (select order_id from int_scope) as s using (order_id)
where c.landing_date < $run_date and $has_earlier
