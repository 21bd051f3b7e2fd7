-- standing_credits: the successful credits of the orders in fix_scope that no reversal names
-- (docs/MATCHING.md), each once however often it was delivered.
with credits as (
    select
        credit_id,
        any_value(order_id) as order_id,
        any_value(msisdn) as msisdn,
        any_value(amount) as amount,
        any_value(product_type) as product_type,
        min(credited_at) as credited_at
    from raw_billing
    where result = 'success'
      and amount > 0
      and order_id in (select order_id from fix_scope)
    group by credit_id
),
reversed as (
    select distinct reverses_credit_id as credit_id
    from raw_billing
    where (amount < 0 or result = 'reversed')
      and reverses_credit_id in (select credit_id from credits)
)
select c.*
from credits as c
where c.credit_id not in (select credit_id from reversed)
