-- stg_payments (a view): every provider statement row the run for the date in cfg_run can
-- see. A row delivered again in another file (same provider, kind, provider_txn_id,
-- refund_id) is kept once for matching; the copy stays, flagged is_copy, so control totals can
-- count it (stg_payment_copies).
-- A refund names the payment it refunds by provider_txn_id; when the file does not give the
-- original order id (UnionPay may not), it is taken from that payment (stg_refund_orders).
select
    r.rowid as row_id,  -- the raw row: an orphan is found once (row_outcomes) and read back by it
    r.provider,
    r.provider_txn_id,
    r.refund_id,
    coalesce(r.order_id, f.order_id) as order_id,
    r.kind,
    r.amount,
    r.settle_amount,
    r.fee,
    r.event_at,
    r.status,
    r.status = 'success' and r.kind in ('payment', 'refund') and c.row_id is null as is_success,
    c.row_id is not null as is_copy,
    r.landing_date
from raw_payments as r
left join stg_payment_copies as c on c.row_id = r.rowid
left join stg_refund_orders as f
    on r.kind = 'refund' and r.order_id is null
   and f.provider = r.provider and f.provider_txn_id = r.provider_txn_id
where r.landing_date <= (select run_date from cfg_run)
