-- console_story: every ledger row behind the breaks of $run_date, with the file and line it came
-- from: the order rows, each payment and refund, each credit and reversal. story_id ties the
-- rows to a break: its order id, or for an orphan without one its break key. Found by the stored
-- hashes of the order ids (etl.row_hashes), then by the exact ids; an orphan's rows by its own
-- transaction or credit id, and each refund or reversal by the payment or credit it names.
-- Told for the stories in temp table story_carried ($carried) or for the others (not $carried),
-- with the rows landing after $rows_after only: etl/console_story.py takes a story the previous
-- night told from its file and looks up only the rows that landed since, by the ids of the rows
-- of its order that it told (story_told_ids) and of those that landed since.
with breaks as (
    select distinct coalesce(order_id, break_key) as story_id, order_id, break_type, provider,
           provider_txn_id, credit_id
    from break_log
    where business_date = $run_date and exported
      and (coalesce(order_id, break_key) in (select story_id from story_carried)) = $carried
),
order_ids as (
    select distinct order_id, hash(order_id) as h from breaks where order_id is not null
),
orders as (
    select b.story_id, 'order' as ledger, o.order_id, null as provider, null as provider_txn_id,
           null as refund_id, null as credit_id, null as reverses_credit_id, o.status as state,
           'created' as kind, o.created_at as event_at, o.pay_amount as amount, o.face_value,
           mask_msisdn(o.msisdn) as msisdn_masked, o.channel as detail,
           o.source_file, o.source_member, o.source_line, o.landing_date
    from raw_orders as o
    semi join order_ids as k on k.h = o.key_hash
    -- once per story, however many breaks the order has
    join (select distinct story_id, order_id from breaks) as b on b.order_id = o.order_id
    where o.landing_date <= $run_date and o.landing_date > $rows_after
),
order_payments as (
    select p.rowid as row_id, p.order_id, p.provider, p.provider_txn_id
    from raw_payments as p
    semi join order_ids as k on k.h = p.order_hash
    where p.landing_date <= $run_date and p.landing_date > $rows_after
      and p.order_id in (select order_id from order_ids)
),
-- the transactions of the breaks: the orders' own payments, and orphan payments by their id
txns as (
    select distinct b.story_id, p.provider, p.provider_txn_id
    from order_payments as p join breaks as b on b.order_id = p.order_id
    where p.provider_txn_id is not null
    union
    select story_id, provider, provider_txn_id
    from breaks
    where order_id is null and provider_txn_id is not null
    union
    select story_id, provider, id from story_told_ids where kind = 'txn' and $carried
),
-- the statement rows of those transactions, and an order's rows that carry no transaction id:
-- found as row ids on narrow columns, then read once by those ids, as the credits below
payment_hits as (
    select t.story_id, p.rowid as row_id
    from raw_payments as p
    join txns as t on t.provider = p.provider and t.provider_txn_id = p.provider_txn_id
    where p.landing_date <= $run_date and p.landing_date > $rows_after
    union
    select b.story_id, p.row_id
    from order_payments as p join breaks as b on b.order_id = p.order_id
    where p.provider_txn_id is null
),
payments as (
    select h.story_id, p.kind as ledger, p.order_id, p.provider, p.provider_txn_id, p.refund_id,
           null as credit_id, null as reverses_credit_id, p.status as state, p.raw_type as kind,
           p.event_at as event_at, p.amount, p.fee as face_value, null as msisdn_masked, p.pay_detail as detail,
           p.source_file, p.source_member, p.source_line, p.landing_date
    from raw_payments as p
    join payment_hits as h on h.row_id = p.rowid
    where p.landing_date <= $run_date and p.landing_date > $rows_after  -- only the dates' row groups are read
),
order_credits as (
    select c.*
    from raw_billing as c
    semi join order_ids as k on k.h = c.order_hash
    where c.landing_date <= $run_date and c.landing_date > $rows_after
      and c.order_id in (select order_id from order_ids)
),
credit_ids as (
    select distinct b.story_id, c.credit_id
    from order_credits as c join breaks as b on b.order_id = c.order_id
    union
    select story_id, credit_id from breaks where order_id is null and credit_id is not null
    union
    select story_id, id from story_told_ids where kind = 'credit' and $carried
),
-- the credits by their own id (found by its stored hash first), and the reversals by the credit
-- they cancel: two hash joins (one join on either id would compare every billing row with every
-- credit id). Both find row ids on a few narrow columns; the rows themselves are read once, by
-- those ids (reading every column of 20M billing rows per branch cost ~2 s each). Every hash
-- join builds on its right side (etl/console_story.py). A row found by both is told once.
credit_hits as (
    select k.story_id, c.rowid as row_id
    from raw_billing as c
    semi join (select distinct hash(credit_id) as h from credit_ids) as kh on kh.h = c.key_hash
    join credit_ids as k on k.credit_id = c.credit_id
    where c.landing_date <= $run_date and c.landing_date > $rows_after
    union
    select k.story_id, c.rowid
    from raw_billing as c join credit_ids as k on k.credit_id = c.reverses_credit_id
    where c.landing_date <= $run_date and c.landing_date > $rows_after
),
credit_rows as (
    select h.story_id, h.row_id, c.order_id, c.credit_id, c.reverses_credit_id, c.result,
           c.result_code, c.credited_at, c.amount, c.msisdn, c.product_type, c.source_file,
           c.source_member, c.source_line, c.landing_date
    from raw_billing as c
    join credit_hits as h on h.row_id = c.rowid
    where c.landing_date <= $run_date and c.landing_date > $rows_after
),
credits as (
    select story_id, 'credit' as ledger, order_id, null as provider, null as provider_txn_id,
           null as refund_id, credit_id, reverses_credit_id, result as state, result_code as kind,
           credited_at as event_at, amount, null as face_value, mask_msisdn(msisdn) as msisdn_masked,
           product_type as detail, source_file, source_member, source_line, landing_date
    from credit_rows
)
select
    $run_date::date as business_date, story_id, ledger, order_id, provider, provider_txn_id, refund_id,
    credit_id, reverses_credit_id, state, kind, event_at, amount, face_value, msisdn_masked, detail,
    source_file, source_member, source_line, landing_date
from (
    select * from orders
    union all by name select * from payments
    union all by name select * from credits
)
