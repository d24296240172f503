-- PostgreSQL's batch query doing the same work on the same file: COPY the messages into a
-- jsonb column (parsing each), then the same lateral jsonb_array_elements and expressions,
-- counted instead of written (the pipeline writes to blackhole).
\getenv work_root ARROYO_WORK_ROOT
\set path :work_root '/bench-sql/json_unnest.json'
CREATE TEMP TABLE baseline_docs (doc jsonb);
COPY baseline_docs FROM :'path';
SELECT count(*), sum(sku), sum(qty), max(pos) FROM (
  SELECT (doc->>'order')::bigint AS order_id, doc->>'user' AS user_name,
         (item->>'sku')::int AS sku, (item->>'qty')::int AS qty, pos
  FROM baseline_docs, LATERAL jsonb_array_elements(doc->'items') WITH ORDINALITY AS i(item, pos)) q;
