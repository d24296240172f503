-- Loads the auctions and persons the q3 pipeline read (the same generator, the same options)
-- into regular tables, for nexmark_q3.baseline.sql's batch join. Untimed.
DROP TABLE IF EXISTS batch_auction, batch_person;
CREATE TABLE batch_auction (id bigint, seller bigint, category bigint, date_time timestamptz);
CREATE TABLE batch_person (id bigint, name text, city text, state text, date_time timestamptz);
SELECT stream_create('load_auction', 'INSERT INTO batch_auction SELECT * FROM auction');
SELECT stream_create('load_person', 'INSERT INTO batch_person SELECT * FROM person');
SELECT stream_start('load_auction'), stream_start('load_person');
SELECT stream_wait('load_auction', '1 hour'), stream_wait('load_person', '1 hour');
SELECT stream_drop('load_auction'), stream_drop('load_person');
VACUUM ANALYZE batch_auction, batch_person;
