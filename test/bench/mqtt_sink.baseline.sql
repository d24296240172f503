-- The mqtt_sink baseline: mosquitto_pub alone publishing the same 200 000 JSON messages
-- ({"counter":N}, one per line of its input) at QoS 1 to the same broker and topic. Run by
-- psql's \! as the runner's OS user.
SELECT substring(option_value FROM ':([0-9]+)$') AS mqtt_port
FROM pg_options_to_table((SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'bench_mqtt'))
WHERE option_name = 'url' \gset
\setenv MQTT_PORT :mqtt_port
\! seq 0 199999 | sed 's/.*/{"counter":&}/' | mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t bench/out -q 1 -l || echo 'mqtt_sink baseline: mosquitto_pub failed' >&2
