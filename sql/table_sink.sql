-- The table sink honours column lists, defaults, identity and generated columns, constraints
-- and triggers of its target.
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE five (counter bigint) SERVER imp OPTIONS (event_rate '0', message_count '5');
CREATE SEQUENCE ext_seq;
CREATE TABLE fancy (
  id bigint GENERATED ALWAYS AS IDENTITY,
  n bigint NOT NULL CHECK (n >= 0),
  label text DEFAULT 'none',
  seq bigint DEFAULT nextval('ext_seq'),
  squared bigint GENERATED ALWAYS AS (n * n) STORED,
  audit text
);
ALTER TABLE fancy DROP COLUMN audit;
ALTER TABLE fancy ADD COLUMN touched_by_trigger boolean DEFAULT false;
CREATE TABLE trigger_log (n bigint, op text, rows_seen bigint);
CREATE FUNCTION fancy_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.touched_by_trigger := true;
  IF NEW.n = 2 THEN RETURN NULL; END IF;  -- skip this row
  RETURN NEW;
END $$;
CREATE FUNCTION fancy_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO trigger_log VALUES (NEW.n, TG_OP, (SELECT count(*) FROM fancy));
  RETURN NULL;
END $$;
CREATE FUNCTION fancy_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO trigger_log VALUES (NULL, 'statement', NULL);
  RETURN NULL;
END $$;
CREATE TRIGGER fancy_b BEFORE INSERT ON fancy FOR EACH ROW EXECUTE FUNCTION fancy_before();
CREATE TRIGGER fancy_a AFTER INSERT ON fancy FOR EACH ROW EXECUTE FUNCTION fancy_after();
-- Each transaction of the pipeline that writes rows is one INSERT statement for these.
CREATE TRIGGER fancy_s AFTER INSERT ON fancy FOR EACH STATEMENT EXECUTE FUNCTION fancy_statement();

SELECT stream_create('fancy', 'INSERT INTO fancy (n) SELECT counter FROM five');
SELECT stream_start('fancy');
SELECT stream_wait('fancy');
SELECT id, n, label, seq, squared, touched_by_trigger FROM fancy ORDER BY n;
SELECT n, op, rows_seen FROM trigger_log ORDER BY n NULLS LAST;

-- A CHECK violation fails the pipeline and writes nothing of that transaction.
TRUNCATE fancy, trigger_log;
SELECT stream_create('negative', 'INSERT INTO fancy (n, label) SELECT 3 - counter, ''neg'' FROM five');
SELECT stream_start('negative');
SELECT stream_wait('negative');
SELECT state, last_error FROM stream_pipelines WHERE name = 'negative';
SELECT count(*) FROM fancy;
SELECT count(*) FROM trigger_log;

-- Updating results into a partitioned table are refused up front (appended rows are routed
-- to partitions: sql/pipeline_dependencies.sql).
CREATE TABLE parted (n bigint PRIMARY KEY) PARTITION BY RANGE (n);
SELECT stream_create('parted', 'INSERT INTO parted SELECT counter FROM five GROUP BY 1');

SELECT stream_drop(name) FROM stream_pipelines ORDER BY name;
DROP SERVER imp CASCADE;
DROP TABLE fancy, trigger_log, parted;
DROP SEQUENCE ext_seq;
DROP FUNCTION fancy_before, fancy_after, fancy_statement;
