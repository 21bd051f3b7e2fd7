-- mart_product_delay_histogram: how long the credited orders of $business_date waited, in
-- bins of minutes from payment to credit, per channel; every bin listed.
with bins(bin_order, label, lower_minutes, upper_minutes) as (
    values
        (1, '<1', null, 1.0),
        (2, '1-2', 1.0, 2.0),
        (3, '2-3', 2.0, 3.0),
        (4, '3-5', 3.0, 5.0),
        (5, '5-10', 5.0, 10.0),
        (6, '10-15', 10.0, 15.0),
        (7, '15-30', 15.0, 30.0),
        (8, '30-60', 30.0, 60.0),
        (9, '60-120', 60.0, 120.0),
        (10, '120+', 120.0, null)
),
credited as (
    select
        coalesce(channel, '(none)') as channel,
        delay_minutes::double as delay_minutes
    from order_eval
    where business_date = $business_date
      and order_date = $business_date
      and net_paid > 0
      and n_credits > 0
),
channels as (
    select distinct channel from credited
),
binned as (
    select
        c.channel,
        b.bin_order,
        count(*) as orders
    from credited as c
    join bins as b
        on (b.lower_minutes is null or c.delay_minutes >= b.lower_minutes)
       and (b.upper_minutes is null or c.delay_minutes < b.upper_minutes)
    group by c.channel, b.bin_order
)
select
    b.bin_order,
    b.label,
    ch.channel,
    coalesce(x.orders, 0) as orders
from bins as b
cross join channels as ch
left join binned as x using (bin_order, channel)
order by b.bin_order, ch.channel
