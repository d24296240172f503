-- The kafka_json baseline: kcat alone reading the same 1 000 000 messages from the same broker
-- (to `wc -l`), with the prefetch setting the connector uses: the ceiling of the path. Run by
-- psql's \! as the runner's OS user.
SELECT option_value AS kafka_boot
FROM pg_options_to_table((SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'bench_kafka'))
WHERE option_name = 'bootstrap_servers' \gset
\setenv KAFKA_BOOT :kafka_boot
\! test "$(kcat -C -b "$KAFKA_BOOT" -t bench_in -o beginning -e -q -X queued.min.messages=1000000 | wc -l)" = 1000000 || echo 'kafka_json baseline: kcat did not read 1000000 messages' >&2
