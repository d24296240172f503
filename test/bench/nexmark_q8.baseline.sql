-- q8's batch query in PostgreSQL over the same auctions and persons (loaded into tables by
-- nexmark_q8.baseline_setup.sql): 10-second windows as date_bin from the epoch, as tumble's;
-- warns if it finds another number of rows than the pipeline emitted.
SELECT count(*) AS batch_rows
FROM (SELECT id, name, date_bin('10 seconds', date_time, 'epoch') AS w FROM batch_person
      GROUP BY 1, 2, 3) p
JOIN (SELECT seller, date_bin('10 seconds', date_time, 'epoch') AS w FROM batch_auction
      GROUP BY 1, 2) a ON p.id = a.seller AND p.w = a.w \gset
SELECT rows_out AS pipeline_rows FROM stream_pipelines WHERE name = 'bench' \gset
SELECT :batch_rows <> :pipeline_rows AS differ \gset
\if :differ
\warn 'nexmark_q8 baseline: the batch query has' :batch_rows 'rows, the pipeline emitted' :pipeline_rows
\endif
