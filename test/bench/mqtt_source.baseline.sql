-- The mqtt_source baseline: mosquitto_sub alone reading 500 000 messages of the same live
-- stream (the setup's publisher) at QoS 1, to `wc -l`. Run by psql's \! as the runner's OS user.
SELECT substring(option_value FROM ':([0-9]+)$') AS mqtt_port
FROM pg_options_to_table((SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'bench_mqtt'))
WHERE option_name = 'url' \gset
\setenv MQTT_PORT :mqtt_port
\! test "$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t bench/in -q 1 -C 500000 | wc -l)" = 500000 || echo 'mqtt_source baseline: mosquitto_sub did not read 500000 messages' >&2
