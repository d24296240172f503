-- The rabbitmq_json baseline: an independent client (python3-pika) alone taking the same
-- 100 000 messages from queue bench_base of the same broker, acking them, with the same
-- prefetch. Run by psql's \! as the runner's OS user.
SELECT option_value AS rabbit_port
FROM pg_options_to_table((SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'bench_rabbit'))
WHERE option_name = 'port' \gset
\setenv RABBIT_PORT :rabbit_port
\! test "$(/usr/bin/python3 test/rabbitmq/clients.py consume_n "$RABBIT_PORT" bench_base 100000 10000)" = 100000 || echo 'rabbitmq_json baseline: pika did not take 100000 messages' >&2
