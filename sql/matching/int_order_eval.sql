-- int_order_eval: every order in scope with its money facts and one flag per break rule
-- (docs/MATCHING.md). An order may raise several breaks.
with facts as (
    select
        o.*,
        coalesce(p.n_payments, 0) as n_payments,
        coalesce(p.n_unrefunded, 0) as n_unrefunded,
        coalesce(p.paid_total, 0) as paid_total,
        coalesce(p.refunded_total, 0) as refunded_total,
        coalesce(p.net_paid, 0) as net_paid,
        p.paid_mismatch,
        coalesce(p.first_unrefunded_at, p.first_paid_at) as first_paid_at,
        p.provider,
        p.provider_txn_id,
        coalesce(c.n_credits, 0) as n_credits,
        coalesce(c.credited_total, 0) as credited_total,
        c.first_credited_at,
        c.credit_id,
        c.credit_mismatch,
        coalesce(s.sla_minutes, d.sla_minutes) as sla_minutes
    from stg_orders as o
    join int_scope using (order_id)
    left join int_order_payments as p using (order_id)
    left join int_order_credits as c using (order_id)
    left join cfg_sla as s on s.product_type = o.product_type
    cross join (select sla_minutes from cfg_sla where product_type = 'default') as d
),
flagged as (
    select
        *,
        round(date_diff('second', first_paid_at, first_credited_at) / 60.0, 2)::decimal(18, 2) as delay_minutes,
        n_credits > 0 and n_payments = 0 as is_credit_without_payment,
        n_payments > 0 and net_paid <= 0 and n_credits > 0 as is_refunded_but_credited,
        net_paid > 0 and n_credits = 0 as is_missing_credit,
        n_unrefunded > 1 as is_duplicate_payment,
        n_credits > 1 as is_duplicate_credit,
        paid_mismatch is not null or credit_mismatch is not null as is_amount_mismatch,
        net_paid > 0 and n_credits > 0
            and date_diff('second', first_paid_at, first_credited_at) > sla_minutes * 60 as is_late_credit,
        -- The ledger exports an order once, so its status is judged in the order's own run only.
        order_date = $run_date and coalesce(
            case
                when n_credits > 0 and n_payments = 0 then true  -- not judged: CREDIT_WITHOUT_PAYMENT
                when n_payments = 0 then status in ('created', 'failed', 'cancelled')
                when net_paid <= 0 then status = 'refunded'
                when n_credits > 0 then status = 'credited'
                else status = 'paid'
            end, false) = false as is_status_mismatch
    from facts
)
select
    *,
    case
        when is_status_mismatch then 'STATUS_MISMATCH'
        when is_amount_mismatch then 'AMOUNT_MISMATCH'
        when is_duplicate_credit then 'DUPLICATE_CREDIT'
        when is_duplicate_payment then 'DUPLICATE_PAYMENT'
        when is_refunded_but_credited then 'REFUNDED_BUT_CREDITED'
        when is_credit_without_payment then 'CREDIT_WITHOUT_PAYMENT'
        when is_missing_credit then 'MISSING_CREDIT'
        when is_late_credit then 'LATE_CREDIT'
        when n_payments > 0 and net_paid <= 0 then 'REFUNDED_CLEAN'
        when n_payments = 0 and n_credits = 0 then 'UNPAID'
        when n_payments > 0 and n_credits > 0 then 'MATCHED'
    end as outcome
from flagged
