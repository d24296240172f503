-- q3 in batch over the same auctions and persons (see nexmark_q0.batch.sql).
SELECT p.name, p.city, p.state, a.id FROM batch_auction a JOIN batch_person p ON a.seller = p.id
WHERE a.category = 10 AND p.state IN ('OR', 'ID', 'CA')
