-- stg_orders (a view): one row per order known to the run for the date in cfg_run. The order
-- belongs to the date of the first orders file it arrived in; a later re-export (a delta pull
-- after a status change) updates its fields, the newest updated_at winning.
-- An order delivered once is its own raw row (stg_orders_once); the few delivered more than
-- once come from stg_orders_repeated. Nothing of 10M rows is copied into memory.
select * from stg_orders_once
union all
select * from stg_orders_repeated
