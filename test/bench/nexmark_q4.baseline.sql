-- q4's batch query in PostgreSQL over the same auctions and bids (loaded into tables by
-- nexmark_q4.baseline_setup.sql); warns unless the pipeline's target holds exactly its rows.
CREATE TEMP TABLE batch_out AS
SELECT category, avg(final) AS avg_final FROM (
  SELECT a.id, a.category, max(b.price) AS final
  FROM batch_auction a JOIN batch_bid b ON a.id = b.auction
   AND b.date_time BETWEEN a.date_time AND a.expires
  GROUP BY a.id, a.category) q
GROUP BY category;
SELECT count(*) AS differ FROM ((TABLE batch_out EXCEPT TABLE bench_out)
  UNION ALL (TABLE bench_out EXCEPT TABLE batch_out)) d \gset
SELECT :differ <> 0 AS differ \gset
\if :differ
\warn 'nexmark_q4 baseline: the pipeline''s result differs from the batch query''s'
\endif
