-- outcome_totals: where each row landing on $run_date went, per source and outcome.
select
    source,
    coalesce(outcome, 'UNCLASSIFIED') as outcome,
    sum(rows) as rows,
    coalesce(sum(amount), 0)::decimal(18, 2) as amount
from row_outcomes
group by all
