-- What a PostgreSQL user would otherwise do: insert the same 2 million events into a table
-- whose trigger maintains the summary with INSERT ... ON CONFLICT DO UPDATE.
DROP TABLE IF EXISTS baseline_events, baseline_summary;
CREATE TABLE baseline_summary (k bigint PRIMARY KEY, n bigint, total numeric);
CREATE TABLE baseline_events (counter bigint);
CREATE FUNCTION pg_temp.summarize() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO baseline_summary VALUES (NEW.counter % 100000, 1, NEW.counter)
  ON CONFLICT (k) DO UPDATE SET n = baseline_summary.n + 1,
                                total = baseline_summary.total + EXCLUDED.total;
  RETURN NULL;
END $$;
CREATE TRIGGER summarize AFTER INSERT ON baseline_events
  FOR EACH ROW EXECUTE FUNCTION pg_temp.summarize();
INSERT INTO baseline_events SELECT generate_series(0, 1999999);
