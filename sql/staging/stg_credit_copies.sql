-- stg_credit_copies: the billing rows the run for $run_date sees that are copies of a credit
-- id delivered before (the first loaded counts). Named by rowid in raw_billing.
-- Rare: a hash aggregate over the ids' 64-bit hashes finds the candidates, and only their rows
-- are ranked by the exact id (a hash collision yields a candidate that ranks first in its own
-- partition, so it is never taken for a copy).
with candidates as (
    select hash(credit_id) as id_hash
    from raw_billing
    where landing_date <= $run_date
    group by id_hash
    having count(*) > 1
)
select b.rowid as row_id
from raw_billing as b
semi join candidates as c on c.id_hash = hash(b.credit_id)
where b.landing_date <= $run_date
qualify row_number() over (
    partition by b.credit_id order by b.landing_date, b.source_file, b.source_line
) > 1
