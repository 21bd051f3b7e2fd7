-- int_scope_earlier: the earlier orders (of a date before the run's) that a row landing today
-- names: a late payment or credit, a refund, a reversal. With today's orders they are the scope that
-- int_order_eval judges. Few: a per cent or two of a day's rows name one.
-- Today's orders are taken out of the ids named today first (a hash table of today's orders,
-- probed by today's rows), so that the scan of every order ever loaded probes a small hash table
-- of the ids left, not one of every id named today (20M at 10M orders a day). That scan reads
-- the order id's stored hash (etl.row_hashes) and the date of every earlier order; the orders'
-- other columns are read afterwards, for the rows found, by row id, and their ids compared
-- exactly. Orders delivered more than once are few and ranked already (stg_orders_repeated).
-- On a first day ($has_earlier false) the planner drops the whole query.
with named_today as (
    select order_id from stg_payments where landing_date = $run_date
    union all
    select order_id from stg_credits where landing_date = $run_date
),
named_not_today as (
    select distinct n.order_id
    from named_today as n
    anti join (select order_id from stg_orders where order_date = $run_date) as t using (order_id)
    where n.order_id is not null and $has_earlier
),
named_rows as (
    select o.rowid as row_id
    from raw_orders as o
    semi join (select hash(order_id) as h from named_not_today) as n on n.h = o.key_hash
    where o.landing_date < $run_date and $has_earlier
)
select o.*
from stg_orders_once as o
semi join named_rows as r using (row_id)
semi join named_not_today as n using (order_id)
where o.order_date < $run_date and $has_earlier
union all
select o.*
from stg_orders_repeated as o
semi join named_not_today as n using (order_id)
where o.order_date < $run_date and $has_earlier
