-- stg_payment_copies: the statement rows the run for $run_date sees that are copies: a row
-- delivered again in another file (same provider, kind, provider_txn_id, refund_id) counts
-- once, the first loaded. Rows are named by their rowid in raw_payments.
-- Rare: only rows whose key is on another row too (flagged `repeats` as they were loaded,
-- etl.redelivery) are ranked, by the exact key.
select p.rowid as row_id
from raw_payments as p
where p.landing_date <= $run_date and p.repeats
qualify row_number() over (
    partition by p.provider, p.kind, p.provider_txn_id, coalesce(p.refund_id, '')
    order by p.landing_date, p.source_file, p.source_line
) > 1
