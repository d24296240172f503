-- The sse benchmark's baseline: curl, the independent client, reads the same 500 000 events
-- from the same server (which closes the stream at the end here) and counts their data lines.
\! curl -sSN "http://127.0.0.1:$((${ARROYO_BENCH_PORT:-55480} + 1))/sse/bench?n=500000&close=1" | grep -c '^data:'
