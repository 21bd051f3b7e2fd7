-- mart_survey_orders: the evaluations, in the 30 days $window_start to $business_date, of the
-- orders that the week's survey answers and complaints name (in any delivery of them). Read by
-- mart_product_satisfaction and mart_product_comments (an order's own-run evaluation) and
-- mart_product_late_vs_ontime (its latest): the window's evaluations (10M a day at national
-- scale) are searched once for all three.
select
    order_id,
    business_date,
    order_date,
    channel,
    product_type,
    net_paid,
    n_credits,
    n_payments,
    delay_minutes,
    sla_minutes
from order_eval
semi join (
    select order_id from raw_surveys where landing_date between $week_start and $business_date
    union
    select order_id from raw_complaints where landing_date between $week_start and $business_date
) as named using (order_id)
where business_date between order_date and $business_date
  and order_date between $window_start and $business_date
