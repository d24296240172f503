-- q20 in batch over the same bids and auctions (see nexmark_q0.batch.sql).
SELECT b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra,
       a.item_name, a.description, a.initial_bid, a.reserve, a.date_time, a.expires, a.seller,
       a.category, a.extra
FROM batch_bid b JOIN batch_auction a ON b.auction = a.id
WHERE a.category = 10
