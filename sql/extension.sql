-- The extension installs its wrapper, functions and view.
CREATE EXTENSION arroyo_stream;
SELECT fdwname FROM pg_foreign_data_wrapper WHERE fdwname = 'arroyo_stream';
SELECT p.proname, pg_get_function_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'arroyo_stream'
WHERE p.pronamespace = 'public'::regnamespace
ORDER BY 1;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'stream_pipelines'::regclass AND attnum > 0 ORDER BY attnum;
SELECT * FROM stream_pipelines;
-- The supervisor runs.
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'arroyo_stream supervisor';
-- Pipelines are part of pg_dump.
SELECT unnest(extconfig)::regclass FROM pg_extension WHERE extname = 'arroyo_stream' ORDER BY 1;
-- row_time() only means something inside a pipeline.
SELECT row_time();
