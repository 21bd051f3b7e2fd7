-- int_history_credits: the billing rows landed before the run's date of the orders in scope
-- (int_scope: today's, and the earlier ones a row landing today names). With today's
-- rows they are all the billing rows of those orders, which the evaluation (int_order_eval) and
-- the break rows (order_breaks) read: found once, here. Few rows (every kind, copies included;
-- the readers filter): a credit posted before its order's file came, and the credits of the
-- earlier orders in scope.
-- Found in two steps, as in int_history_payments: the stored hashes of the earlier rows' order
-- ids first, then those rows by row id, their order ids compared exactly. A row without an
-- order id that names a cancelled credit (a reversal, or a re-credit) takes that credit's order
-- in the view (stg_credits): those are kept for it to resolve.
with wanted as (
    select c.rowid as row_id
    from raw_billing as c
    semi join (select hash(order_id) as h from int_scope) as s on s.h = c.order_hash
    where c.landing_date < $run_date and $has_earlier
    union all
    select c.rowid
    from raw_billing as c
    where c.landing_date < $run_date and $has_earlier and c.order_id is null and c.reverses_credit_id is not null
)
select c.order_id, c.credit_id, c.amount, c.credited_at, c.is_standing
from stg_credits as c
semi join wanted as w using (row_id)
semi join (select order_id from int_scope) as s using (order_id)
where c.landing_date < $run_date and $has_earlier
