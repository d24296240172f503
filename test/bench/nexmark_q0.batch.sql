-- q0's result as PostgreSQL's batch query over the same events loaded into tables (batch_bid,
-- batch_auction, batch_person: test/nexmark_test.sh); its rows must equal the pipeline's.
SELECT auction, bidder, price, channel, url, date_time, extra FROM batch_bid
