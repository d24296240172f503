-- The nats_json baseline: the independent client (test/nats_client.py, Python) alone reading the
-- same 200 000 messages of stream BENCH_IN through a pull consumer, batches of 1000. Debian
-- ships no NATS command-line tool, so this is the reference reader. Run by psql's \! as the
-- runner's OS user.
SELECT split_part(option_value, ':', 2) AS nats_port
FROM pg_options_to_table((SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'bench_nats'))
WHERE option_name = 'servers' \gset
\setenv NATS_PORT :nats_port
\! test "$(/usr/bin/python3 test/nats_client.py --port "$NATS_PORT" consume BENCH_IN 200000)" = 200000 || echo 'nats_json baseline: the client did not read 200000 messages' >&2
