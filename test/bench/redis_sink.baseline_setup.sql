-- Untimed, before the redis_sink baseline: checks that the pipeline wrote its 1 000 000 keys (and
-- one of them as the baseline writes it), then empties the server. Run by psql's \! as the
-- runner's OS user.
\! p=$(cat "$ARROYO_WORK_ROOT/bench-redis/port"); test "$(redis-cli -p "$p" dbsize)" = 1000000 || echo 'redis_sink: the pipeline did not write 1000000 keys' >&2; test "$(redis-cli -p "$p" get bench:999999)" = '{"counter":999999,"label":"n999999"}' || echo 'redis_sink: unexpected value of bench:999999' >&2; redis-cli -p "$p" flushall >/dev/null
