-- int_history_credits: the billing rows landed before the run's date of the orders in scope
-- (int_scope: today's, and the earlier ones a row landing today names). With today's
-- rows they are all the billing rows of those orders, which the evaluation (int_order_eval) and
-- the break rows (order_breaks) read: found once, here, by one scan of the earlier rows. Few
-- rows (every kind, copies included; the readers filter): a credit posted before its order's
-- file came, and the credits of the earlier orders in scope.
-- Only the columns those read: every column of every earlier row would be decompressed before
-- the join keeps a few. The hash table holds the scope's ids, never the history's
-- (match.JOINS_AS_WRITTEN).
select c.order_id, c.credit_id, c.amount, c.credited_at, c.is_standing
from stg_credits as c
semi join (select order_id from int_scope) as s using (order_id)
where c.landing_date < $run_date and $has_earlier
