-- The persistent warehouse: raw rows as loaded (with lineage), the load log, and per-date
-- results. Every per-date table is replaced whole for its date, so re-runs are idempotent.

create table if not exists loaded_files (
    file_hash      varchar not null,     -- sha256 of the delivered bytes
    landing_date   date not null,
    source         varchar not null,
    source_file    varchar not null,     -- path relative to the landing zone
    rows           bigint not null,
    loaded_at      timestamp not null
);

create table if not exists quarantine_log (
    landing_date    date not null,
    source          varchar not null,
    source_file     varchar not null,
    quarantine_path varchar not null,
    reason          varchar not null,
    line            bigint,
    quarantined_at  timestamp not null
);

create table if not exists raw_orders (
    order_id varchar, created_at timestamp, msisdn varchar, province varchar, channel varchar,
    product_type varchar, product_code varchar, face_value decimal(18,2), pay_amount decimal(18,2),
    pay_method varchar, status varchar, updated_at timestamp,
    source_member varchar, source_line bigint, source_file varchar, file_hash varchar, landing_date date
);

-- The orders a reload of a landing date took out of its orders file: the date's own run judged
-- them, its rows loaded again no longer hold them (etl.load). That evaluation stays until the
-- date is matched again, which deletes the date's records; meanwhile the reports' order_latest
-- ranks their evaluations instead of counting both.
create table if not exists withdrawn_orders (
    order_id varchar not null, landing_date date not null, withdrawn_at timestamp not null
);

create table if not exists raw_payments (
    provider varchar, provider_txn_id varchar, refund_id varchar, order_id varchar, kind varchar,
    amount decimal(18,2), settle_amount decimal(18,2), fee decimal(18,5), event_at timestamp,
    status varchar, raw_type varchar, pay_detail varchar,
    source_member varchar, source_line bigint, source_file varchar, file_hash varchar, landing_date date
);

create table if not exists raw_billing (
    credit_id varchar, order_id varchar, msisdn varchar, amount decimal(18,2), product_type varchar,
    credited_at timestamp, result varchar, result_code varchar, reverses_credit_id varchar,
    source_member varchar, source_line bigint, source_file varchar, file_hash varchar, landing_date date
);

-- repeats: the row's key is on another row too (etl.redelivery): set as rows are loaded, so the
-- match ranks only these to find re-delivered rows. Warehouses made before it get it on their
-- first match.
alter table raw_orders add column if not exists repeats boolean;
alter table raw_payments add column if not exists repeats boolean;
alter table raw_billing add column if not exists repeats boolean;
-- key_hash: that key's 64-bit hash; order_hash: the order id's (etl.row_hashes). Stored as the
-- row is loaded, so that the nightly probes of the history read 8 bytes of every earlier row
-- instead of hashing its texts again. Rows loaded before they were kept get them on the first
-- load or match that reads them.
alter table raw_orders add column if not exists key_hash ubigint;
alter table raw_payments add column if not exists key_hash ubigint;
alter table raw_billing add column if not exists key_hash ubigint;
alter table raw_payments add column if not exists order_hash ubigint;
alter table raw_billing add column if not exists order_hash ubigint;
create table if not exists key_hash_stamp (raw_table varchar not null, stamp ubigint not null);

create table if not exists raw_surveys (
    response_id varchar, order_id varchar, submitted_at timestamp, csat tinyint, nps tinyint, comment varchar,
    source_member varchar, source_line bigint, source_file varchar, file_hash varchar, landing_date date
);

create table if not exists raw_complaints (
    ticket_id varchar, order_id varchar, msisdn varchar, opened_at timestamp, category varchar, closed_at timestamp,
    source_member varchar, source_line bigint, source_file varchar, file_hash varchar, landing_date date
);

create table if not exists statement_totals (
    landing_date date not null, provider varchar not null, source_file varchar not null, file_hash varchar not null,
    row_count bigint, payment_count bigint, payment_amount decimal(18,2), refund_count bigint,
    refund_amount decimal(18,2), fee_total decimal(18,5), settle_amount decimal(18,2)
);

-- Ops' manual resolutions: append-only. A later row for the same key supersedes an earlier one.
create table if not exists resolutions (
    resolution_id   varchar not null,
    break_key       varchar not null,
    action          varchar not null,    -- resolve | reopen | fixed (a confirmed fix: resolves once the rules no longer find the break)
    resolved_by     varchar not null,
    reason          varchar not null,
    resolved_at     timestamp not null,  -- wall time, Asia/Shanghai
    effective_date  date not null        -- first business date whose run applies it
);

-- Each run's evaluation of the orders it judged or re-checked: what the product reports and the
-- day's break rows read, nothing more (10M rows a day at national scale: each column costs
-- ~0.4 s to write). The order's other fields are in raw_orders; the ids a break row shows are
-- looked up by order_breaks.
create table if not exists order_eval (
    business_date date not null, order_id varchar not null, order_date date not null,
    outcome varchar not null, province varchar, channel varchar, product_type varchar,
    pay_method varchar, created_at timestamp, face_value decimal(18,2), pay_amount decimal(18,2),
    n_payments integer, net_paid decimal(18,2), n_credits integer, credited_total decimal(18,2),
    first_paid_at timestamp, first_credited_at timestamp, delay_minutes decimal(18,2), sla_minutes integer,
    paid_mismatch decimal(18,2), credit_mismatch decimal(18,2),
    -- one flag per break rule (docs/MATCHING.md): the breaks of the day are read from these
    is_credit_without_payment boolean, is_refunded_but_credited boolean, is_missing_credit boolean,
    is_duplicate_payment boolean, is_duplicate_credit boolean, is_amount_mismatch boolean,
    is_late_credit boolean, is_status_mismatch boolean
);
-- warehouses made before the flags were kept
alter table order_eval add column if not exists paid_mismatch decimal(18,2);
alter table order_eval add column if not exists credit_mismatch decimal(18,2);
alter table order_eval add column if not exists is_credit_without_payment boolean;
alter table order_eval add column if not exists is_refunded_but_credited boolean;
alter table order_eval add column if not exists is_missing_credit boolean;
alter table order_eval add column if not exists is_duplicate_payment boolean;
alter table order_eval add column if not exists is_duplicate_credit boolean;
alter table order_eval add column if not exists is_amount_mismatch boolean;
alter table order_eval add column if not exists is_late_credit boolean;
alter table order_eval add column if not exists is_status_mismatch boolean;
-- warehouses made when every order kept its ids, phone and every field (see above)
alter table order_eval drop column if exists msisdn;
alter table order_eval drop column if exists provider;
alter table order_eval drop column if exists provider_txn_id;
alter table order_eval drop column if exists credit_id;
alter table order_eval drop column if exists product_code;
alter table order_eval drop column if exists status;
alter table order_eval drop column if exists n_unrefunded;
alter table order_eval drop column if exists paid_total;
alter table order_eval drop column if exists refunded_total;

-- The open-items store: for each business date, every break open as of that date and every
-- break resolved on it (what breaks.csv shows), plus silently closed ones (exported = false).
-- resolution: null while open; 'auto' (a refund or credit settled it), 'credited' (a LATE_CREDIT,
-- reported once), 'credited_late' (a MISSING_CREDIT superseded by its LATE_CREDIT row, not
-- exported), 'manual' (ops, see resolved_by and resolution_reason), 'fixed' (a confirmed fix, etl/fixes:
-- the rules no longer find it; resolved_by names the fix).
create table if not exists break_log (
    business_date date not null, break_key varchar not null, break_type varchar not null,
    order_id varchar, provider varchar, provider_txn_id varchar, credit_id varchar, msisdn varchar,
    order_amount decimal(18,2), paid_amount decimal(18,2), credited_amount decimal(18,2),
    difference decimal(18,2), paid_at timestamp, credited_at timestamp, delay_minutes decimal(18,2),
    first_seen date not null, status varchar not null, resolution varchar, resolved_by varchar,
    resolution_reason varchar, exported boolean not null
);

create table if not exists fallback_suggestions (
    business_date date not null, credit_id varchar not null, order_id varchar not null,
    msisdn varchar, amount decimal(18,2), credited_at timestamp, paid_at timestamp,
    candidates integer not null, confidence decimal(5,4) not null
);

create table if not exists control_totals (
    business_date date not null, source varchar not null,
    rows_in bigint not null, rows_classified bigint not null, rows_unclassified bigint not null,
    amount_in decimal(18,2) not null, amount_classified decimal(18,2) not null, balanced boolean not null
);

-- Where each row of a date went: one line per source and outcome.
create table if not exists outcome_totals (
    business_date date not null, source varchar not null, outcome varchar not null,
    rows bigint not null, amount decimal(18,2) not null
);

create table if not exists settlement (
    business_date date not null, provider varchar not null,
    payment_count bigint, gross_paid decimal(18,2), refund_count bigint, refunds decimal(18,2),
    fees decimal(18,5), net_settlement decimal(18,2),
    stated_payment_count bigint, stated_gross_paid decimal(18,2), stated_refund_count bigint,
    stated_refunds decimal(18,2), stated_fees decimal(18,5),
    diff_gross_paid decimal(18,2), diff_refunds decimal(18,2), diff_fees decimal(18,5)
);

create table if not exists run_log (
    business_date date not null, started_at timestamp not null, finished_at timestamp,
    status varchar not null, summary json
);

-- What retention moved out of the warehouse (etl/retention.py): one row per table and date,
-- with the Parquet file that now holds its rows.
create table if not exists archive_log (
    table_name varchar not null, archived_date date not null, rows bigint not null,
    path varchar not null, archived_at timestamp not null
);
