-- stg_credit_copies: the billing rows the run for $run_date sees that are copies of a credit
-- id delivered before (the first loaded counts). Named by rowid in raw_billing.
-- Rare: only rows whose credit id is on another row too (flagged `repeats` as they were
-- loaded, etl.redelivery) are ranked, by the exact id.
select b.rowid as row_id
from raw_billing as b
where b.landing_date <= $run_date and b.repeats
qualify row_number() over (
    partition by b.credit_id order by b.landing_date, b.source_file, b.source_line
) > 1
