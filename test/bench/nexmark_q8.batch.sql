-- q8 in batch over the same persons and auctions (see nexmark_q0.batch.sql).
SELECT p.id, p.name, p.s
FROM (SELECT id, name, date_bin('10 seconds', date_time, 'epoch') AS s FROM batch_person
      GROUP BY 1, 2, 3) p
JOIN (SELECT seller, date_bin('10 seconds', date_time, 'epoch') AS s FROM batch_auction
      GROUP BY 1, 2) a ON p.id = a.seller AND p.s = a.s
