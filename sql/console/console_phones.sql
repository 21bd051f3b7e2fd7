-- console_phones: the phone-number search index of the orders landing on $run_date, read back
-- from the orders' index just written ($orders_file): each order's keyed phone hash cut to its
-- first 32 bits, with the order id, sorted by it. A search by a whole number reads the row group
-- of its key in each date's file, then those orders, and compares their whole hash (another
-- number shares the key in a 10M-order date's file about once in 400 searches: read, then
-- refused), instead of every order's 64-character hash of every date, a scan that grows with
-- the orders kept. An integer and an id sort cheaply (~7 CPU-s and 72 MB at 10M orders, beside
-- ~60 CPU-s for the other two indexes).
select $run_date::date as business_date, msisdn_key, order_id
from (
    select ('0x' || left(msisdn_hash, 8))::uinteger as msisdn_key, order_id
    from read_parquet($orders_file)
    where msisdn_hash is not null
    order by msisdn_key, order_id
) as sorted
