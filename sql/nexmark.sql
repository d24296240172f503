-- The nexmark source (persons, auctions, bids) and the blackhole sink.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER nx FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER hole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');

-- Option and column errors, at CREATE FOREIGN TABLE.
CREATE FOREIGN TABLE bad (auction bigint) SERVER nx OPTIONS (event_rate '0');
CREATE FOREIGN TABLE bad (auction bigint) SERVER nx OPTIONS (event_type 'bids', event_rate '0');
CREATE FOREIGN TABLE bad (auction bigint) SERVER nx OPTIONS (event_type 'bid');
CREATE FOREIGN TABLE bad (auction bigint) SERVER nx
  OPTIONS (event_type 'bid', event_rate '0', seed '-1');
CREATE FOREIGN TABLE bad (auction bigint) SERVER nx
  OPTIONS (event_type 'bid', event_rate '0', message_count 'many');
CREATE FOREIGN TABLE bad (auction bigint) SERVER nx
  OPTIONS (event_type 'bid', event_rate '0', start_time 'soon');
CREATE FOREIGN TABLE bad (auction bigint) SERVER nx
  OPTIONS (event_type 'bid', event_rate '0', colour 'red');
CREATE FOREIGN TABLE bad (auction bigint, id bigint) SERVER nx
  OPTIONS (event_type 'bid', event_rate '0');
CREATE FOREIGN TABLE bad (id bigint, bidder bigint) SERVER nx
  OPTIONS (event_type 'auction', event_rate '0');
CREATE FOREIGN TABLE bad (auction int) SERVER nx OPTIONS (event_type 'bid', event_rate '0');
CREATE FOREIGN TABLE bad (channel varchar(5)) SERVER nx OPTIONS (event_type 'bid', event_rate '0');
CREATE FOREIGN TABLE bad (date_time date) SERVER nx OPTIONS (event_type 'bid', event_rate '0');
CREATE FOREIGN TABLE bad (auction bigint OPTIONS (key 'x')) SERVER nx
  OPTIONS (event_type 'bid', event_rate '0');
CREATE FOREIGN TABLE bad (auction bigint) SERVER nx
  OPTIONS (event_type 'bid', event_rate '0', event_time_field 'auction');
CREATE FOREIGN TABLE bad (x int) SERVER hole OPTIONS (path '/dev/null');
CREATE FOREIGN TABLE bad (x int OPTIONS (key 'x')) SERVER hole;
CREATE FOREIGN TABLE bad (auction bigint) SERVER nx OPTIONS (event_type 'bid', event_rate '0');
ALTER FOREIGN TABLE bad OPTIONS (ADD seed 'x');
DROP FOREIGN TABLE bad;

-- One table per event kind, all reading the same sequence: 50 000 events, seed 42, event time
-- from 2026-01-01 at 10 000 events per second (event_rate 0 runs as fast as possible).
CREATE FOREIGN TABLE person (id bigint, name text, email_address text, credit_card text,
  city text, state text, date_time timestamptz, extra text) SERVER nx
  OPTIONS (event_type 'person', event_rate '0', message_count '50000', seed '42',
           start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE auction (id bigint, item_name text, description text, initial_bid bigint,
  reserve bigint, date_time timestamptz, expires timestamptz, seller bigint, category bigint,
  extra text) SERVER nx
  OPTIONS (event_type 'auction', event_rate '0', message_count '50000', seed '42',
           start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, channel text, url text,
  date_time timestamptz, extra text) SERVER nx
  OPTIONS (event_type 'bid', event_rate '0', message_count '50000', seed '42',
           start_time '2026-01-01 00:00:00+00');
CREATE TABLE persons (LIKE person, event_time timestamptz);
CREATE TABLE auctions (LIKE auction, event_time timestamptz);
CREATE TABLE bids (LIKE bid, event_time timestamptz);
CREATE TABLE bids_again (LIKE bid);
SELECT stream_create('persons', 'INSERT INTO persons SELECT *, row_time() FROM person');
SELECT stream_create('auctions', 'INSERT INTO auctions SELECT *, row_time() FROM auction');
SELECT stream_create('bids', 'INSERT INTO bids SELECT *, row_time() FROM bid');
SELECT stream_create('bids_again', 'INSERT INTO bids_again SELECT * FROM bid');
SELECT stream_start('persons'), stream_start('auctions'), stream_start('bids'),
       stream_start('bids_again');
SELECT stream_wait('persons'), stream_wait('auctions'), stream_wait('bids'),
       stream_wait('bids_again');
SELECT name, state, rows_in, rows_out, bad_rows, last_error FROM stream_pipelines ORDER BY name;

-- 1 : 3 : 46.
SELECT (SELECT count(*) FROM persons) AS persons, (SELECT count(*) FROM auctions) AS auctions,
       (SELECT count(*) FROM bids) AS bids;

-- The first rows of each kind.
SELECT id, name, email_address, credit_card, city, state, date_time, length(extra) AS extra_len,
       left(extra, 12) AS extra
FROM persons ORDER BY id LIMIT 5;
SELECT id, item_name, left(description, 20) AS description, initial_bid, reserve, date_time,
       expires, seller, category, length(extra) AS extra_len
FROM auctions ORDER BY id LIMIT 6;
SELECT auction, bidder, price, channel, url, date_time, length(extra) AS extra_len,
       left(extra, 12) AS extra
FROM bids ORDER BY date_time, auction, bidder, price LIMIT 8;

-- Ids: persons and auctions are numbered from 1000 without gaps, in event order; bids refer to
-- auctions and people created so far (or up to 10 ahead).
SELECT min(id), max(id), count(DISTINCT id) FROM persons;
SELECT min(id), max(id), count(DISTINCT id) FROM auctions;
SELECT bool_and(id - 1000 = (extract(epoch FROM date_time - '2026-01-01') * 10000)::bigint / 50)
  AS person_ids_follow_events FROM persons;
SELECT min(auction), max(auction) <= 3999 + 10 AS auctions_known, min(bidder),
       max(bidder) <= 1999 + 10 AS bidders_known FROM bids;
SELECT count(*) AS too_far_ahead FROM bids
WHERE auction - 1000 > (extract(epoch FROM date_time - '2026-01-01') * 1000)::bigint / 5 * 3 + 2 + 10
   OR bidder - 1000 > (extract(epoch FROM date_time - '2026-01-01') * 1000)::bigint / 5 + 10;
SELECT min(seller), max(seller) <= 1999 + 10 AS sellers_known, min(category), max(category),
       bool_and(reserve > initial_bid) AS reserve_above_initial,
       bool_and(expires > date_time) AS expires_after_creation FROM auctions;
SELECT min(price), max(price), count(DISTINCT channel) > 4000 AS many_channels,
       count(*) FILTER (WHERE channel IN ('Google', 'Facebook', 'Baidu', 'Apple')) * 100 / count(*)
         AS hot_channel_pct,
       min(length(extra)), max(length(extra)) FROM bids;
-- Hot keys: about half the bids go to the first auction of the last 100, three quarters to one
-- bidder of the last 100 people.
SELECT count(*) FILTER (WHERE auction = 1000 + 100 * (((extract(epoch FROM date_time - '2026-01-01') * 10000)::bigint / 50 * 3 + 2) / 100)) * 100 / count(*) AS hot_auction_pct,
       count(*) FILTER (WHERE bidder = 1001 + 100 * (((extract(epoch FROM date_time - '2026-01-01') * 10000)::bigint / 50) / 100)) * 100 / count(*) AS hot_bidder_pct
FROM bids;

-- Event time is date_time: 10 000 events per second of event time, in milliseconds.
SELECT count(*) FILTER (WHERE event_time <> date_time) AS differ, min(date_time), max(date_time)
FROM bids;
SELECT count(*) FILTER (WHERE event_time <> date_time) AS differ FROM auctions;
SELECT count(*) FILTER (WHERE event_time <> date_time) AS differ FROM persons;

-- Deterministic: the same seed gives the same rows.
SELECT count(*) AS only_first FROM (SELECT auction, bidder, price, channel, url, date_time, extra
                                    FROM bids EXCEPT ALL SELECT * FROM bids_again) d;
SELECT count(*) AS only_second FROM (SELECT * FROM bids_again EXCEPT ALL
                                     SELECT auction, bidder, price, channel, url, date_time, extra
                                     FROM bids) d;

-- Another seed, another sequence (same ids and times); columns in any order, any subset, a
-- timestamp column, a generated column.
CREATE FOREIGN TABLE bid7 (price bigint, date_time timestamp, auction bigint,
  cents_over_100 boolean GENERATED ALWAYS AS (price > 100) STORED) SERVER nx
  OPTIONS (event_type 'bid', event_rate '0', message_count '50000', seed '7',
           start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE bad (price bigint, dt timestamp) SERVER nx
  OPTIONS (event_type 'bid', event_rate '0');
CREATE TABLE bids7 (price bigint, date_time timestamp, auction bigint, cents_over_100 boolean);
SELECT stream_create('bids7', 'INSERT INTO bids7 SELECT * FROM bid7');
SELECT stream_start('bids7');
SELECT stream_wait('bids7');
SELECT count(*), count(*) FILTER (WHERE cents_over_100 <> (price > 100)) AS wrong_generated,
       min(date_time), max(date_time) FROM bids7;
SELECT count(*) AS same_as_seed_42 FROM bids7 s JOIN bids b
  ON b.date_time = s.date_time AT TIME ZONE 'UTC' AND b.price = s.price AND b.auction = s.auction;
SELECT * FROM bids7 ORDER BY date_time, auction, price LIMIT 3;

-- message_count counts events of the whole sequence: 1234 events = 25 persons, 75 auctions,
-- 1134 bids. event_rate paces them and sets the event-time rate: 1000 per second here.
CREATE FOREIGN TABLE few_people (id bigint, date_time timestamptz) SERVER nx
  OPTIONS (event_type 'person', event_rate '1000', message_count '1234',
           start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE few_bids (auction bigint) SERVER nx
  OPTIONS (event_type 'bid', event_rate '0', message_count '1234');
CREATE TABLE few_persons (id bigint, date_time timestamptz, at timestamptz DEFAULT clock_timestamp());
SELECT stream_create('few_persons', 'INSERT INTO few_persons (id, date_time) SELECT * FROM few_people');
CREATE FOREIGN TABLE bid_hole (auction bigint) SERVER hole;
SELECT stream_create('few_bids', 'INSERT INTO bid_hole SELECT * FROM few_bids');
SELECT stream_start('few_persons'), stream_start('few_bids');
SELECT stream_wait('few_persons', '10 seconds'), stream_wait('few_bids');
SELECT count(*), min(id), max(id), min(date_time), max(date_time) FROM few_persons;
SELECT id, date_time FROM few_persons ORDER BY id LIMIT 3;
-- A person is written when due (every 50 ms here), not held back until a batch of them is.
SELECT max(gap) < interval '0.5 seconds' AS on_time
FROM (SELECT at - lag(at) OVER (ORDER BY id) AS gap FROM few_persons) g;
SELECT name, state, rows_in, rows_out FROM stream_pipelines WHERE name = 'few_bids';

-- Blackhole: discards rows, counted in rows_out; windows over nexmark's event time.
CREATE FOREIGN TABLE per_second (w tstzrange, bids bigint) SERVER hole;
SELECT stream_create('hole', $$INSERT INTO per_second
  SELECT tumble(interval '1 second') AS w, count(*) FROM bid GROUP BY w$$);
SELECT stream_start('hole');
SELECT stream_wait('hole');
SELECT name, state, rows_in, rows_out, late_rows, last_error FROM stream_pipelines
WHERE name = 'hole';
CREATE TABLE bids_per_second (w tstzrange, bids bigint);
SELECT stream_create('per_second', $$INSERT INTO bids_per_second
  SELECT tumble(interval '1 second') AS w, count(*) FROM bid GROUP BY w$$);
SELECT stream_start('per_second');
SELECT stream_wait('per_second');
SELECT lower(w), upper(w), bids FROM bids_per_second ORDER BY w;
-- A blackhole is not a source.
SELECT stream_create('wrong', 'INSERT INTO bids_per_second SELECT * FROM per_second');

SELECT stream_drop(name) FROM stream_pipelines;
DROP SERVER nx CASCADE;
DROP SERVER hole CASCADE;
DROP TABLE persons, auctions, bids, bids_again, bids7, few_persons, bids_per_second;
