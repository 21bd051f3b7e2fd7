-- order_moves: the orders this run judges as its own (order date = $run_date) that the run of a
-- later date judged as its own too. Only a backfill does this: an earlier file, loaded late,
-- holds an order first seen in a later one, and moves its order date here. The later date's
-- evaluation stays until that date is run again, so the reports rank such an order's
-- evaluations (mart_order_latest) instead of counting it twice. With no later run
-- ($has_later false, every nightly run) the planner drops the query.
select e.order_id, l.business_date as judged_on
from int_order_eval as e
join (
    select order_id, business_date
    from order_eval
    where business_date > $run_date and business_date = order_date and $has_later
) as l using (order_id)
where e.order_date = $run_date
