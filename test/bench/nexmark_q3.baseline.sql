-- q3's batch join in PostgreSQL over the same auctions and persons (loaded into tables by
-- nexmark_q3.baseline_setup.sql); warns if it finds another number of rows than the pipeline
-- emitted.
SELECT count(*) AS batch_rows FROM batch_auction a JOIN batch_person p ON a.seller = p.id
WHERE a.category = 10 AND p.state IN ('OR', 'ID', 'CA') \gset
SELECT rows_out AS pipeline_rows FROM stream_pipelines WHERE name = 'bench' \gset
SELECT :batch_rows <> :pipeline_rows AS differ \gset
\if :differ
\warn 'nexmark_q3 baseline: the batch join has' :batch_rows 'rows, the pipeline emitted' :pipeline_rows
\endif
