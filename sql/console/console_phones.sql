-- console_phones: the phone-number search index of the orders landing on $run_date, read back
-- from the orders' index just written ($orders_file): each order's keyed phone hash cut to its
-- first 64 bits, with the order id, sorted by it. A search by a whole number then reads the row
-- group of its key in each date's file and those orders only, not every order's 64-character
-- hash of every date (a scan that grows with the orders kept). Two integers and an id sort
-- cheaply: ~0.7 CPU-s at 1M orders.
select $run_date::date as business_date, msisdn_key, order_id
from (
    select ('0x' || left(msisdn_hash, 16))::ubigint as msisdn_key, order_id
    from read_parquet($orders_file)
    where msisdn_hash is not null
    order by msisdn_key, order_id
) as sorted
