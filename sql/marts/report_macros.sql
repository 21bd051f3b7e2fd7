-- report_macros: the vocabulary the report marts share (not a mart): which age bucket an open
-- break falls in, and what ops do next per break type. Defined once so that the HTML queue,
-- the CSV queue and the aging chart cannot disagree.
create or replace temp macro age_bucket(age_days) as
    case
        when age_days <= 1 then '0-1'
        when age_days <= 3 then '2-3'
        when age_days <= 7 then '4-7'
        when age_days <= 30 then '8-30'
        else '>30'
    end;

create or replace temp macro age_bucket_order(age_days) as
    case
        when age_days <= 1 then 1
        when age_days <= 3 then 2
        when age_days <= 7 then 3
        when age_days <= 30 then 4
        else 5
    end;

create or replace temp macro next_action(break_type) as
    case break_type
        when 'MISSING_CREDIT' then 'credit manually, or refund'
        when 'DUPLICATE_PAYMENT' then 'refund the extra payment'
        when 'ORPHAN_PAYMENT' then 'refund the payer, or find the order'
        when 'AMOUNT_MISMATCH' then 'chase the provider'
        when 'FEE_MISMATCH' then 'chase the provider (fee)'
        when 'STATUS_MISMATCH' then 'chase the platform team (order status)'
        when 'CREDIT_WITHOUT_PAYMENT' then 'reverse the credit, or write off'
        when 'REFUNDED_BUT_CREDITED' then 'reverse the credit, or write off'
        when 'DUPLICATE_CREDIT' then 'reverse the extra credit, or write off'
        when 'ORPHAN_CREDIT' then 'match to an order, or write off'
        when 'LATE_CREDIT' then 'none (SLA follow-up)'
        else 'investigate'
    end;

-- 长款 (long): money held for nothing, a credit or refund owed. 短款 (short): credit given, money missing.
create or replace temp macro money_side(difference) as
    case
        when difference > 0 then 'long'
        when difference < 0 then 'short'
        else 'none'
    end;

-- how an order was served, as an evaluation of it has it: the classes of late against on-time
create or replace temp macro credit_timing(net_paid, n_credits, n_payments, delay_minutes, sla_minutes) as
    case
        when net_paid > 0 and n_credits > 0 and delay_minutes > sla_minutes then 'credited late'
        when net_paid > 0 and n_credits > 0 then 'credited on time'
        when n_payments > 0 then 'paid, not credited'
        else 'unpaid'
    end;
