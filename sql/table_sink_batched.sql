-- Targets without BEFORE/INSTEAD OF row triggers take the batched insert path (one
-- table_multi_insert per batch): defaults, identity and generated columns, constraints, unique
-- and deferred unique indexes, partition constraints and AFTER triggers behave as row by row.
\set VERBOSITY default
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE ticks (counter bigint) SERVER imp
  OPTIONS (event_rate '0', message_count '3000');
CREATE TABLE plain (
  id bigint GENERATED ALWAYS AS IDENTITY,
  n bigint NOT NULL CHECK (n >= 0),
  label text DEFAULT 'none',
  doubled bigint GENERATED ALWAYS AS (n * 2) STORED,
  UNIQUE (n)
);
CREATE INDEX plain_label ON plain (label, n);
CREATE TABLE after_log (what text, rows_seen bigint);
CREATE FUNCTION plain_after_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.n % 1000 = 999 THEN
    INSERT INTO after_log VALUES ('row ' || NEW.n || ' ' || NEW.doubled, (SELECT count(*) FROM plain));
  END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION plain_after_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO after_log VALUES ('statement', (SELECT count(*) FROM plain));
  RETURN NULL;
END $$;
CREATE TRIGGER plain_a AFTER INSERT ON plain FOR EACH ROW EXECUTE FUNCTION plain_after_row();
CREATE TRIGGER plain_s AFTER INSERT ON plain FOR EACH STATEMENT EXECUTE FUNCTION plain_after_statement();

-- 3000 rows in batches of up to 1024, in one pipeline transaction.
SELECT stream_create('plain', $$SET checkpoint_interval = '1 hour';
  INSERT INTO plain (n, label) SELECT counter, CASE WHEN counter % 2 = 0 THEN 'even' END FROM ticks$$);
SELECT stream_start('plain');
SELECT stream_wait('plain');
SELECT state, rows_in, rows_out, last_error FROM stream_pipelines WHERE name = 'plain';
SELECT count(*), count(DISTINCT id), min(id), max(id), sum(n), bool_and(doubled = 2 * n),
       count(*) FILTER (WHERE label = 'none') AS defaulted, count(*) FILTER (WHERE label IS NULL)
FROM plain;
SELECT * FROM after_log ORDER BY what;
-- The indexes hold every row.
SET enable_seqscan = off;
SELECT count(*) FROM plain WHERE n BETWEEN 100 AND 199;
SELECT count(*) FROM plain WHERE label = 'even' AND n < 1000;
RESET enable_seqscan;

-- A unique violation fails the pipeline; nothing of that transaction stays.
SELECT stream_create('again', 'INSERT INTO plain (n) SELECT counter + 2990 FROM ticks');
SELECT stream_start('again');
SELECT stream_wait('again');
SELECT state, rows_out, last_error FROM stream_pipelines WHERE name = 'again';
SELECT count(*), max(n) FROM plain;

-- So does a CHECK violation, and a NOT NULL one.
SELECT stream_create('negative', 'INSERT INTO plain (n) SELECT 10000 - counter * 10 FROM ticks');
SELECT stream_start('negative');
SELECT stream_wait('negative');
SELECT state, last_error FROM stream_pipelines WHERE name = 'negative';
SELECT stream_create('nulls', 'INSERT INTO plain (n) SELECT NULLIF(counter, 2500) + 20000 FROM ticks');
SELECT stream_start('nulls');
SELECT stream_wait('nulls');
SELECT state, last_error FROM stream_pipelines WHERE name = 'nulls';
SELECT count(*) FROM plain;

-- A deferred unique constraint is checked when the pipeline's transaction commits.
CREATE TABLE deferred (k bigint UNIQUE DEFERRABLE INITIALLY DEFERRED);
SELECT stream_create('deferred', 'INSERT INTO deferred SELECT counter % 2000 FROM ticks');
SELECT stream_start('deferred');
SELECT stream_wait('deferred');
SELECT state, last_error FROM stream_pipelines WHERE name = 'deferred';
SELECT count(*) FROM deferred;

-- A partition as the target: its partition constraint applies.
CREATE TABLE parted (n bigint) PARTITION BY RANGE (n);
CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (2000);
SELECT stream_create('low', 'INSERT INTO parted_low SELECT counter FROM ticks WHERE counter < 2000');
SELECT stream_create('too_high', 'INSERT INTO parted_low SELECT counter FROM ticks');
SELECT stream_start('low'), stream_start('too_high');
SELECT stream_wait('low'), stream_wait('too_high');
SELECT name, state, rows_out, last_error FROM stream_pipelines WHERE name IN ('low', 'too_high')
ORDER BY name;
SELECT count(*), min(n), max(n) FROM parted;

SELECT stream_drop(name) FROM stream_pipelines ORDER BY name;
DROP SERVER imp CASCADE;
DROP TABLE plain, after_log, deferred, parted;
DROP FUNCTION plain_after_row, plain_after_statement;
