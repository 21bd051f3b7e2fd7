-- stg_payment_copies: the statement rows the run for $run_date sees that are copies: a row
-- delivered again in another file (same provider, kind, provider_txn_id, refund_id) counts
-- once, the first loaded. Rare: a hash aggregate finds the keys delivered more than once and
-- only their rows are ranked. Rows are named by their rowid in raw_payments.
with visible as (
    select
        rowid as row_id, provider, kind, provider_txn_id, coalesce(refund_id, '') as refund_key,
        landing_date, source_file, source_line
    from raw_payments
    where landing_date <= $run_date
)
select v.row_id
from visible as v
semi join (
    select provider, kind, provider_txn_id, refund_key
    from visible
    group by all
    having count(*) > 1
) as r
    on r.provider is not distinct from v.provider and r.kind is not distinct from v.kind
   and r.provider_txn_id is not distinct from v.provider_txn_id and r.refund_key = v.refund_key
qualify row_number() over (
    partition by v.provider, v.kind, v.provider_txn_id, v.refund_key
    order by v.landing_date, v.source_file, v.source_line
) > 1
