-- stg_credits (a view): every billing row the run for the date in cfg_run can see; a row
-- delivered again is kept once for matching and flagged is_copy (stg_credit_copies). A credit
-- *stands* while no reversal names it; a reversal's order is that of the credit it cancels
-- (stg_credit_reversals).
select
    c.rowid as row_id,  -- the raw row: an orphan is found once (row_outcomes) and read back by it
    c.credit_id,
    coalesce(c.order_id, cancelled.order_id) as order_id,
    c.msisdn,
    c.amount,
    c.product_type,
    c.credited_at,
    c.result,
    c.reverses_credit_id,
    k.row_id is null and c.result = 'success' and c.amount > 0 as is_credit,
    k.row_id is null and (c.amount < 0 or c.result = 'reversed') as is_reversal,
    k.row_id is null and c.result = 'success' and c.amount > 0 and not coalesce(r.is_reversed, false) as is_standing,
    k.row_id is not null as is_copy,
    c.landing_date
from raw_billing as c
left join stg_credit_copies as k on k.row_id = c.rowid
left join stg_credit_reversals as r on r.credit_id = c.credit_id
left join stg_credit_reversals as cancelled
    on c.order_id is null and c.reverses_credit_id = cancelled.credit_id
where c.landing_date <= (select run_date from cfg_run)
