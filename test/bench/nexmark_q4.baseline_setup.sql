-- Loads the auctions and bids the q4 pipeline read into regular tables, for
-- nexmark_q4.baseline.sql's batch query. Untimed.
DROP TABLE IF EXISTS batch_auction, batch_bid;
CREATE TABLE batch_auction (id bigint, category bigint, date_time timestamptz, expires timestamptz);
CREATE TABLE batch_bid (auction bigint, price bigint, date_time timestamptz);
SELECT stream_create('load_auction', 'INSERT INTO batch_auction SELECT * FROM auction');
SELECT stream_create('load_bid', 'INSERT INTO batch_bid SELECT * FROM bid');
SELECT stream_start('load_auction'), stream_start('load_bid');
SELECT stream_wait('load_auction', '1 hour'), stream_wait('load_bid', '1 hour');
SELECT stream_drop('load_auction'), stream_drop('load_bid');
VACUUM ANALYZE batch_auction, batch_bid;
