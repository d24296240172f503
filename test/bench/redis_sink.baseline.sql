-- The redis_sink baseline: redis-cli --pipe sending the same 1 000 000 SET commands (same keys,
-- same JSON values, prepared by redis_sink.setup) to the same server: the ceiling of the path.
\! p=$(cat "$ARROYO_WORK_ROOT/bench-redis/port"); redis-cli -p "$p" --pipe <"$ARROYO_WORK_ROOT/bench-redis/commands.resp" >/dev/null; test "$(redis-cli -p "$p" dbsize)" = 1000000 || echo 'redis_sink baseline: redis-cli did not write 1000000 keys' >&2
