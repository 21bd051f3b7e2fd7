-- stg_payment_copies: the statement rows the run for $run_date sees that are copies: a row
-- delivered again in another file (same provider, kind, provider_txn_id, refund_id) counts
-- once, the first loaded. Rows are named by their rowid in raw_payments.
-- Rare: a hash aggregate over the keys' 64-bit hashes finds the candidates, and only their
-- rows are ranked by the exact key (a hash collision yields a candidate that ranks first in
-- its own partition, so it is never taken for a copy).
with candidates as (
    select hash(provider, kind, provider_txn_id, coalesce(refund_id, '')) as key_hash
    from raw_payments
    where landing_date <= $run_date
    group by key_hash
    having count(*) > 1
)
select p.rowid as row_id
from raw_payments as p
semi join candidates as c on c.key_hash = hash(p.provider, p.kind, p.provider_txn_id, coalesce(p.refund_id, ''))
where p.landing_date <= $run_date
qualify row_number() over (
    partition by p.provider, p.kind, p.provider_txn_id, coalesce(p.refund_id, '')
    order by p.landing_date, p.source_file, p.source_line
) > 1
