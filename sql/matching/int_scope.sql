-- int_scope (a view): the orders judged on the run's date: its own orders, and the earlier ones
-- a row landing that day names (int_scope_earlier). Everything the night reads of an order in
-- scope reads it here: the evaluation, its history (int_history_payments, int_history_credits),
-- the ids and amounts of its break rows. The date comes from cfg_run (a view takes no
-- parameters); the scan of raw_orders still skips the earlier nights' row groups, as the join
-- with that one-row table hands its date to the scan as a filter.
select * from stg_orders where order_date = (select run_date from cfg_run)
union all
select * from int_scope_earlier
