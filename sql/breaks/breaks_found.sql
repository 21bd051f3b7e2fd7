-- breaks_found: every break the run for $run_date finds, whatever its kind.
select * from order_breaks
union all by name
select * from orphan_payments
union all by name
select * from orphan_credits
union all by name
select * from fee_breaks
