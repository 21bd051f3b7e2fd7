-- int_order_eval: every order in scope with its money facts and one flag per break rule
-- (docs/MATCHING.md). An order may raise several breaks.
-- Scope: the orders of the day, and every earlier order that a row landing today names (a
-- late credit, refund, reversal): int_scope.
-- Payments and credits are aggregated per order first (hash aggregates), then joined to the
-- orders once: no 10M-row join happens before an aggregate. The aggregates hold numbers only:
-- the ids a break row shows (first payment, first credit, phone) are looked up in
-- order_breaks for the few orders that raise one (carrying VARCHARs through 10M-group
-- aggregates cost more than all the arithmetic).
-- History is read only where it can matter, so a night's cost and memory follow the day's
-- volume, not the warehouse's: the aggregates take every row landing today, and of the rows
-- landed before only those of orders in scope, found by int_history_payments and
-- int_history_credits (the refunds, by payment, are summed over every refund: a refund counts
-- against its payment whatever order id it carries). Every join builds its hash table on the
-- right-hand side as written (match.JOINS_AS_WRITTEN).
with
-- the statement rows the aggregates need: today's, and the earlier ones of orders in scope
scope_payments as not materialized (
    select order_id, provider, provider_txn_id, kind, amount, event_at, is_success
    from stg_payments where landing_date = $run_date
    union all
    select order_id, provider, provider_txn_id, kind, amount, event_at, is_success
    from int_history_payments
),
refunds_by_payment as (
    select provider, provider_txn_id, sum(amount) as refunded
    from stg_payments
    where kind = 'refund' and is_success
    group by provider, provider_txn_id
),
-- each successful payment, less the refunds against it (its net)
payment_net as (
    select p.order_id, p.provider, p.provider_txn_id, p.amount, p.event_at,
           p.amount - coalesce(r.refunded, 0) as net_amount
    from scope_payments as p
    left join refunds_by_payment as r using (provider, provider_txn_id)
    where p.kind = 'payment' and p.is_success and p.order_id is not null
),
payments as (
    select
        order_id,
        count(*) as n_payments,
        count(*) filter (where net_amount > 0) as n_unrefunded,
        sum(amount) as paid_total,
        min(event_at) filter (where net_amount > 0) as first_unrefunded_at,
        min(event_at) as first_paid_at,
        -- unrefunded payments: Σ net, and the range of nets (is any one off the pay amount?)
        sum(net_amount) filter (where net_amount > 0) as unrefunded_net,
        min(net_amount) filter (where net_amount > 0) as min_net,
        max(net_amount) filter (where net_amount > 0) as max_net
    from payment_net
    group by order_id
),
-- the nets of an order's unrefunded payments, needed only when a tolerance is set and the order
-- has several (see paid_mismatch below); with no tolerance the planner drops this part
tolerant_nets as (
    select order_id, list(net_amount) as unrefunded_nets
    from payment_net
    where net_amount > 0 and $tolerance > 0
    group by order_id
    having count(*) > 1
),
refunds as (
    select order_id, sum(amount) as refunded_total
    from scope_payments
    where kind = 'refund' and is_success and order_id is not null
    group by order_id
),
credits as (
    select
        order_id,
        count(*) as n_credits,
        sum(amount) as credited_total,
        min(credited_at) as first_credited_at,
        min(amount) as min_credit,
        max(amount) as max_credit
    from (
        select order_id, amount, credited_at, is_standing from stg_credits where landing_date = $run_date
        union all
        select order_id, amount, credited_at, is_standing from int_history_credits
    )
    where is_standing and order_id is not null
    group by order_id
),
joined as (
    select
        o.*,
        p.n_payments,
        p.n_unrefunded,
        p.paid_total,
        case when p.order_id is not null then r.refunded_total end as refunded,
        p.first_unrefunded_at,
        p.first_paid_at as first_any_paid_at,
        p.unrefunded_net,
        n.unrefunded_nets,
        -- an unrefunded payment's net differs from pay_amount by more than the tolerance
        p.min_net < o.pay_amount - $tolerance or p.max_net > o.pay_amount + $tolerance as any_paid_mismatch,
        c.n_credits,
        c.credited_total,
        c.first_credited_at,
        c.min_credit <> o.face_value or c.max_credit <> o.face_value as any_credit_mismatch
    from int_scope as o
    left join payments as p using (order_id)
    left join tolerant_nets as n using (order_id)
    left join refunds as r using (order_id)
    left join credits as c using (order_id)
),
facts as (
    select
        j.order_id, j.order_date, j.created_at, j.province, j.channel, j.product_type,
        j.face_value, j.pay_amount, j.pay_method,
        j.status,  -- judged below (STATUS_MISMATCH), not kept
        coalesce(j.n_payments, 0) as n_payments,
        coalesce(j.n_unrefunded, 0) as n_unrefunded,  -- judged below (DUPLICATE_PAYMENT), not kept
        coalesce(j.paid_total, 0) - coalesce(j.refunded, 0) as net_paid,
        -- Σ (net − pay_amount) over the mismatched payments: with no tolerance (a payment equal
        -- to pay_amount adds 0) or one unrefunded payment, Σ net − n × pay_amount; otherwise
        -- summed over the nets off by more than the tolerance
        case when j.any_paid_mismatch then
            case when j.n_unrefunded = 1 or $tolerance = 0
                 then j.unrefunded_net - j.n_unrefunded * j.pay_amount
                 else list_sum(list_transform(
                     list_filter(j.unrefunded_nets, lambda x: abs(x - j.pay_amount) > $tolerance),
                     lambda x: x - j.pay_amount)) end
        end as paid_mismatch,
        coalesce(j.first_unrefunded_at, j.first_any_paid_at) as first_paid_at,
        coalesce(j.n_credits, 0) as n_credits,
        coalesce(j.credited_total, 0) as credited_total,
        j.first_credited_at,
        -- Σ (face_value − credit) over the mismatched standing credits (equal ones add 0)
        case when j.any_credit_mismatch then j.n_credits * j.face_value - j.credited_total end as credit_mismatch,
        coalesce(s.sla_minutes, dflt.sla_minutes) as sla_minutes
    from joined as j
    left join cfg_sla as s on s.product_type = j.product_type
    cross join (select sla_minutes from cfg_sla where product_type = 'default') as dflt
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
