-- stg_credit_copies: the billing rows the run for $run_date sees that are copies of a credit
-- id delivered before (the first loaded counts). Rare: a hash aggregate finds the ids
-- delivered more than once and only their rows are ranked. Named by rowid in raw_billing.
with visible as (
    select rowid as row_id, credit_id, landing_date, source_file, source_line
    from raw_billing
    where landing_date <= $run_date
)
select v.row_id
from visible as v
semi join (select credit_id from visible group by credit_id having count(*) > 1) as r
    on r.credit_id is not distinct from v.credit_id
qualify row_number() over (
    partition by v.credit_id order by v.landing_date, v.source_file, v.source_line
) > 1
