-- fee_breaks: statement rows landing today whose fee differs from the contracted fee,
-- amount × rate rounded half-up to the fen (a refund returns the fee of the refunded amount).
-- One break per payment: a payment and its refunds share the key and add up.
with fees as (
    select
        p.provider,
        p.provider_txn_id,
        p.order_id,
        p.event_at,
        p.amount,
        p.fee as stated_fee,
        round(p.amount * r.rate, 2) * (case when p.kind = 'refund' then -1 else 1 end) as contracted_fee
    from stg_payments as p
    join cfg_fee_rates as r using (provider)
    where p.landing_date = $run_date and p.is_success
),
mismatched as (
    select
        provider,
        provider_txn_id,
        min(order_id) as order_id,
        min(event_at) as paid_at,
        sum(stated_fee - contracted_fee) as difference
    from fees
    where stated_fee <> contracted_fee
    group by provider, provider_txn_id
)
select
    'FEE_MISMATCH|' || m.provider || '|' || m.provider_txn_id as break_key,
    'FEE_MISMATCH' as break_type,
    m.order_id,
    m.provider,
    m.provider_txn_id,
    null::varchar as credit_id,
    o.msisdn,
    o.pay_amount as order_amount,
    null::decimal(18, 2) as paid_amount,
    null::decimal(18, 2) as credited_amount,
    round(m.difference, 2)::decimal(18, 2) as difference,
    m.paid_at,
    null::timestamp as credited_at,
    null::decimal(18, 2) as delay_minutes
from mismatched as m
-- its order, if known: every known order a row landing today names is in scope (today's, or an
-- earlier one named today), so the earlier orders ever loaded are not scanned for it
left join int_scope as o using (order_id)
