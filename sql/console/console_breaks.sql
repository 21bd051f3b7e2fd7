-- console_breaks: the breaks of $run_date as the console lists them: every exported row of
-- break_log (open, and resolved today), with the order's attributes for the queue's filters, the
-- masked phone number for display and its keyed hash for a whole-number search (the file holds
-- no phone number), and the fallback suggestions counted. A number's sealed copy (AES-SIV, in
-- Python) is taken from the previous night's file when its hash is there (temp table seals_told,
-- etl/console_publish.py): the seal is deterministic, so only the numbers new tonight are sealed.
with breaks as (
    select *, case when msisdn is not null then sha256($search_key || msisdn) end as msisdn_hash
    from break_log
    where business_date = $run_date and exported
),
-- the breaking orders' rows: found by the stored hash of their ids (8 bytes of each order
-- ever loaded), then compared by the exact id; the latest delivery of an order wins
order_rows as (
    select o.order_id, o.channel, o.province, o.product_type, o.product_code, o.pay_method,
           o.face_value, o.created_at, o.status
    from raw_orders as o
    semi join (select distinct hash(order_id) as h from breaks where order_id is not null) as k
        on k.h = o.key_hash
    where o.landing_date <= $run_date
      and o.order_id in (select order_id from breaks)
    qualify row_number() over (partition by o.order_id
                               order by o.landing_date desc, o.source_file desc, o.source_line desc) = 1
),
suggestions as (
    select order_id, count(*) as suggestions
    from fallback_suggestions
    where business_date = $run_date
    group by order_id
)
select
    b.business_date,
    b.break_key,
    b.break_type,
    b.status,
    b.resolution,
    b.resolved_by,
    b.resolution_reason,
    b.order_id,
    b.provider,
    b.provider_txn_id,
    b.credit_id,
    mask_msisdn(b.msisdn) as msisdn_masked,
    b.msisdn_hash,
    case when t.msisdn_sealed is not null then t.msisdn_sealed else seal_msisdn(b.msisdn) end as msisdn_sealed,
    b.order_amount,
    b.paid_amount,
    b.credited_amount,
    b.difference,
    b.paid_at,
    b.credited_at,
    b.delay_minutes,
    b.first_seen,
    date_diff('day', b.first_seen, b.business_date) as age_days,
    o.channel,
    o.province,
    o.product_type,
    o.product_code,
    o.pay_method,
    o.face_value,
    o.created_at,
    o.status as order_status,
    coalesce(s.suggestions, 0) as suggestions
from breaks as b
left join order_rows as o using (order_id)
left join suggestions as s using (order_id)
left join seals_told as t using (msisdn_hash)
order by b.break_key
