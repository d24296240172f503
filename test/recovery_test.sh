#!/usr/bin/env bash
# Checkpoints and recovery (issue 6): pipelines are killed in every way we can while they run,
# and afterwards their outputs are exactly what an uninterrupted run gives — nothing lost,
# nothing doubled. Uses its own instance (port 55444, ARROYO_RECOVERY_PORT overrides).
#
#   pipelines, all over impulse sources with deterministic event times:
#     w  tumble window -> table (count, sum, avg: an `internal` state with serialization
#        functions, and array_agg: a state without them, rebuilt from its kept inputs)
#     u  updating aggregate -> keyed table (count, sum, min, max, avg)
#     f  projection -> single_file sink (exactly-once by truncating to the checkpoint)
#     h  hop window (DISTINCT, stddev, array_agg: kept inputs) over out-of-order event times
#     s  session window (string_agg, DISTINCT: the pending rows of each key)
#     d  tumble window over a UNION ALL of ticks with itself: one source feeding two branches
#        that meet again (a diamond in the dataflow graph)
#     j  updating LEFT JOIN of two streams (half of ticks' counters have a partner) under an
#        updating aggregate -> keyed table
#     i  interval LEFT JOIN (rows kept until the other side's watermark passes) -> table
#     e  EXISTS (a semi join) and NOT IN (an anti join and the subquery's flags) of two streams
#        under an updating aggregate -> keyed table
#     r  event-time OVER per key: lag, lead and a ROWS frame (rows kept per key, lead waiting)
#     t  updating top-N over an updating aggregate -> table (rows entering and leaving)
#   h and s are compared with the same queries run afterwards without any fault.
#   faults, ARROYO_RECOVERY_CYCLES rounds (default 12) of one of:
#     term       pg_terminate_backend on every pipeline worker (the supervisor resumes them)
#     sigkill    kill -9 of one worker (the postmaster's crash recovery restarts everything)
#     immediate  pg_ctl stop -m immediate, then start
#   then every pipeline is waited for to finish, and its output compared with the batch
#   query's result; stream_drop leaves no state behind.
# A longer soak: ARROYO_RECOVERY_CYCLES=200 ARROYO_RECOVERY_EVENTS=2000000 test/run.sh recovery
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_test_instance recovery "${ARROYO_RECOVERY_PORT:-55444}"

CYCLES=${ARROYO_RECOVERY_CYCLES:-12}
EVENTS=${ARROYO_RECOVERY_EVENTS:-120000}
RATE=${ARROYO_RECOVERY_RATE:-4000}
POLL_TIMEOUT=60
OUT_FILE=$PGTEST_DIR/f_out.json

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }


# Condition: every pipeline has either finished or runs with a worker.
all_resumed() {
    last=$(q "SELECT string_agg(name || ':' || state || ':' || coalesce(pid::text, '-'), ' '
                                ORDER BY name)
              FROM stream_pipelines" 2>&1) || return 1
    [[ $last != *failed* && $last != *stopped* && ! $last =~ running:- ]] &&
        [[ $last =~ ^(d|f|h|s|u|w) ]]
}

all_finished() {
    last=$(q "SELECT string_agg(name || ':' || state, ' ' ORDER BY name) FROM stream_pipelines
              WHERE name NOT LIKE '%_ref'" 2>&1) || return 1
    [[ $last == "d:finished e:finished f:finished h:finished i:finished j:finished r:finished s:finished t:finished u:finished w:finished" ]]
}

q "
CREATE EXTENSION arroyo_stream;
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE ticks (counter bigint) SERVER imp
  OPTIONS (event_rate '$RATE', message_count '$EVENTS', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 millisecond');
CREATE FOREIGN TABLE jittered (counter bigint, t timestamptz GENERATED ALWAYS AS
    (to_timestamp(1767225600 + (counter * 7 % 1000 + counter) / 1000.0)) STORED) SERVER imp
  OPTIONS (event_rate '$((RATE / 2))', message_count '$((EVENTS / 4))', event_time_field 't',
           watermark_delay '2 seconds');
CREATE FOREIGN TABLE jittered_ref (counter bigint, t timestamptz GENERATED ALWAYS AS
    (to_timestamp(1767225600 + (counter * 7 % 1000 + counter) / 1000.0)) STORED) SERVER imp
  OPTIONS (event_rate '0', message_count '$((EVENTS / 4))', event_time_field 't',
           watermark_delay '2 seconds');
CREATE FOREIGN TABLE halves (counter bigint) SERVER imp
  OPTIONS (event_rate '$((RATE / 2))', message_count '$((EVENTS / 2))',
           start_time '2026-01-01 00:00:00+00', event_time_interval '2 milliseconds');
CREATE FOREIGN TABLE timed (counter bigint, t timestamptz GENERATED ALWAYS AS
    (to_timestamp(1767225600 + counter / 1000.0)) STORED) SERVER imp
  OPTIONS (event_rate '$((RATE / 2))', message_count '$((EVENTS / 4))', event_time_field 't',
           watermark_delay '0 seconds');
CREATE TABLE r (c bigint, prev bigint, nxt bigint, last3 numeric);
SELECT stream_create('r', \$\$INSERT INTO r
  SELECT counter, lag(counter) OVER w, lead(counter) OVER w,
         sum(counter) OVER (PARTITION BY counter % 7 ORDER BY t ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
  FROM timed WINDOW w AS (PARTITION BY counter % 7 ORDER BY t)\$\$);
CREATE TABLE t (k bigint, n bigint, rn bigint);
SELECT stream_create('t', \$\$INSERT INTO t SELECT k, n, rn FROM (
    SELECT k, n, row_number() OVER (ORDER BY n DESC, k) AS rn
    FROM (SELECT counter % 13 AS k, count(*) AS n FROM ticks WHERE counter % 5 <> 0 GROUP BY 1) c) x
  WHERE rn <= 3\$\$);
CREATE TABLE j (k bigint PRIMARY KEY, n bigint, matched bigint, s numeric);
SELECT stream_create('j', \$\$INSERT INTO j
  SELECT t.counter % 7, count(*), count(x.counter), sum(x.counter)
  FROM ticks t LEFT JOIN halves x ON x.counter = t.counter GROUP BY 1\$\$);
CREATE TABLE e (k bigint PRIMARY KEY, n bigint, s numeric);
SELECT stream_create('e', \$\$INSERT INTO e SELECT t.counter % 7, count(*), sum(t.counter)
  FROM ticks t WHERE EXISTS (SELECT 1 FROM halves h WHERE h.counter = t.counter)
  AND t.counter NOT IN (SELECT counter * 3 FROM halves) GROUP BY 1\$\$);
CREATE TABLE i (a bigint, b bigint);
SELECT stream_create('i', \$\$INSERT INTO i SELECT a.counter, b.counter
  FROM jittered a LEFT JOIN jittered b ON b.counter = a.counter + 500
  AND b.t BETWEEN a.t AND a.t + interval '1 second'\$\$);
CREATE TABLE h (w tstzrange, k bigint, n bigint, sd numeric, d bigint, arr bigint[]);
CREATE TABLE h_ref (LIKE h);
CREATE TABLE s (w tstzrange, k bigint, n bigint, txt text, d bigint);
CREATE TABLE s_ref (LIKE s);
CREATE FOREIGN TABLE f_out (counter bigint, twice bigint) SERVER files
  OPTIONS (path '$OUT_FILE', format 'json', type 'sink');
CREATE TABLE w (win tstzrange, k bigint, n bigint, s numeric, av numeric, a bigint[],
                PRIMARY KEY (win, k));
CREATE TABLE u (k bigint PRIMARY KEY, n bigint, s numeric, lo bigint, hi bigint, av numeric);
CREATE TABLE d (win tstzrange PRIMARY KEY, n bigint, s numeric);
SELECT stream_create('w', \$\$INSERT INTO w
  SELECT tumble(interval '1 second'), counter % 3, count(*), sum(counter), avg(counter),
         array_agg(counter) FILTER (WHERE counter % 500 = 0)
  FROM ticks GROUP BY 1, 2\$\$);
SELECT stream_create('u', \$\$INSERT INTO u
  SELECT counter % 11, count(*), sum(counter), min(counter), max(counter), avg(counter)
  FROM ticks GROUP BY 1\$\$);
SELECT stream_create('f', 'INSERT INTO f_out SELECT counter, counter * 2 FROM ticks');
SELECT stream_create('d', \$\$INSERT INTO d
  SELECT tumble(interval '1 second'), count(*), sum(c)
  FROM (SELECT counter AS c FROM ticks UNION ALL SELECT -counter FROM ticks WHERE counter % 4 = 0) x
  GROUP BY 1\$\$);
SELECT stream_create(t, format(\$\$INSERT INTO %s
  SELECT hop(interval '1 second', interval '3 seconds'), counter %% 3, count(*),
         round(stddev(counter), 6), count(DISTINCT counter %% 11),
         array_agg(counter) FILTER (WHERE counter %% 997 = 0)
  FROM %s GROUP BY 1, 2\$\$, t, src))
FROM (VALUES ('h', 'jittered'), ('h_ref', 'jittered_ref')) v(t, src);
SELECT stream_create(t, format(\$\$INSERT INTO %s
  SELECT session(interval '300 milliseconds'), counter %% 13, count(*),
         string_agg((counter %% 100)::text, ','), count(DISTINCT counter %% 7)
  FROM %s WHERE counter %% 50 < 5 GROUP BY 1, 2\$\$, t, src))
FROM (VALUES ('s', 'jittered'), ('s_ref', 'jittered_ref')) v(t, src);
SELECT stream_start('w'), stream_start('u'), stream_start('f'), stream_start('h'),
       stream_start('s'), stream_start('d'), stream_start('j'), stream_start('i'),
       stream_start('e'), stream_start('r'), stream_start('t');
" >/dev/null
wait_for "the pipelines to run" all_resumed
echo "ok: pipelines w, u, f, h, s, d, j, i, e, r and t running"

# One fault (see the header).
inject_fault() {
    case $1 in
        term)
            q "SELECT count(pg_terminate_backend(pid)) FROM stream_pipelines WHERE pid IS NOT NULL" \
                >/dev/null
            ;;
        sigkill)
            pid=$(q "SELECT pid FROM stream_pipelines WHERE pid IS NOT NULL ORDER BY random() LIMIT 1")
            [[ -n $pid ]] && kill -9 "$pid"
            # The postmaster notices the crash, ends every backend and reinitializes.
            sleep 1
            ;;
        immediate)
            pg_test_ctl -m immediate stop
            pg_test_ctl start
            ;;
    esac
}
recovery_fault_cycles "$CYCLES" all_finished all_resumed \
    term sigkill term immediate term immediate sigkill term immediate term immediate term

POLL_TIMEOUT=$((EVENTS / RATE * 3 + 120))
wait_for "the pipelines to finish" all_finished
expect_eq "errors of the pipelines" "" \
    "$(q "SELECT string_agg(name || ': ' || last_error, '; ') FROM stream_pipelines
          WHERE last_error IS NOT NULL")"

# --- exact outputs -------------------------------------------------------------------------
expected_w="
SELECT tstzrange(t0 + (c / 1000) * interval '1 second', t0 + (c / 1000 + 1) * interval '1 second'),
       c % 3, count(*), sum(c), avg(c),
       coalesce(array_agg(c ORDER BY c) FILTER (WHERE c % 500 = 0), '{}')
FROM generate_series(0::bigint, $EVENTS - 1) c,
     (SELECT timestamptz '2026-01-01 00:00:00+00' AS t0) s
GROUP BY 1, 2"
actual_w="
SELECT win, k, n, s, av, coalesce((SELECT array_agg(x ORDER BY x) FROM unnest(a) x), '{}') FROM w"
expect_eq "window rows missing from w" 0 "$(q "SELECT count(*) FROM (($expected_w) EXCEPT ($actual_w)) x")"
expect_eq "window rows in w that should not be there" 0 \
    "$(q "SELECT count(*) FROM (($actual_w) EXCEPT ($expected_w)) x")"
expect_eq "rows of w" "$((EVENTS / 1000 * 3))" "$(q "SELECT count(*) FROM w")"
echo "ok: w holds every window exactly once, with exact aggregates"

expected_d="
SELECT tstzrange(t0 + (c / 1000) * interval '1 second', t0 + (c / 1000 + 1) * interval '1 second'),
       count(*) + count(*) FILTER (WHERE c % 4 = 0), sum(c) - coalesce(sum(c) FILTER (WHERE c % 4 = 0), 0)
FROM generate_series(0::bigint, $EVENTS - 1) c,
     (SELECT timestamptz '2026-01-01 00:00:00+00' AS t0) s
GROUP BY 1"
expect_eq "rows of d differing from the batch query" 0 \
    "$(q "SELECT count(*) FROM ((($expected_d) EXCEPT (SELECT * FROM d))
                                UNION ALL ((SELECT * FROM d) EXCEPT ($expected_d))) x")"
expect_eq "rows of d" "$((EVENTS / 1000))" "$(q "SELECT count(*) FROM d")"
echo "ok: d (a diamond: one source, two branches, one window) holds every window exactly once"

expected_u="SELECT c % 11, count(*), sum(c), min(c), max(c), avg(c)
            FROM generate_series(0::bigint, $EVENTS - 1) c GROUP BY 1"
expect_eq "rows of u differing from the batch query" 0 \
    "$(q "SELECT count(*) FROM ((($expected_u) EXCEPT (SELECT * FROM u))
                                UNION ALL ((SELECT * FROM u) EXCEPT ($expected_u))) x")"
expect_eq "rows of u" 11 "$(q "SELECT count(*) FROM u")"
echo "ok: u equals the batch aggregate"

expect_eq "lines of the file sink (total, distinct, min, max, twice ok)" \
    "$EVENTS|$EVENTS|0|$((EVENTS - 1))|t" \
    "$(q "SELECT count(*) || '|' || count(DISTINCT (j->>'counter')) || '|' ||
                 min((j->>'counter')::bigint) || '|' || max((j->>'counter')::bigint) || '|' ||
                 CASE WHEN bool_and((j->>'twice')::bigint = 2 * (j->>'counter')::bigint)
                      THEN 't' ELSE 'f' END
          FROM (SELECT l::json AS j
                FROM regexp_split_to_table(rtrim(pg_read_file('$OUT_FILE'), E'\n'), E'\n') l) x")"
echo "ok: the file sink holds every row exactly once"

expected_j="SELECT c % 7, count(*), count(c) FILTER (WHERE c < $EVENTS / 2),
                   sum(c) FILTER (WHERE c < $EVENTS / 2)
            FROM generate_series(0::bigint, $EVENTS - 1) c GROUP BY 1"
expect_eq "rows of j differing from the batch join" "0|7" \
    "$(q "SELECT count(*) || '|' || (SELECT count(*) FROM j)
          FROM ((($expected_j) EXCEPT (SELECT * FROM j)) UNION ALL ((SELECT * FROM j) EXCEPT ($expected_j))) x")"
echo "ok: j (updating join under an aggregate) equals the batch query"
expected_e="SELECT c % 7, count(*), sum(c) FROM generate_series(0::bigint, $EVENTS / 2 - 1) c
            WHERE c % 3 <> 0 GROUP BY 1"
expect_eq "rows of e differing from the batch query" "0|7" \
    "$(q "SELECT count(*) || '|' || (SELECT count(*) FROM e)
          FROM ((($expected_e) EXCEPT (SELECT * FROM e)) UNION ALL ((SELECT * FROM e) EXCEPT ($expected_e))) x")"
echo "ok: e (semi and anti joins under an aggregate) equals the batch query"
m=$((EVENTS / 4))
expected_i="SELECT c, CASE WHEN c + 500 < $m THEN c + 500 END FROM generate_series(0::bigint, $m - 1) c"
expect_eq "rows of i differing from the batch join" "0|$m" \
    "$(q "SELECT count(*) || '|' || (SELECT count(*) FROM i)
          FROM ((($expected_i) EXCEPT ALL (SELECT * FROM i)) UNION ALL ((SELECT * FROM i) EXCEPT ALL ($expected_i))) x")"
echo "ok: i (interval join) holds every row exactly once"

# r (event-time OVER per key) and t (updating top-N) against the batch queries.
expected_r="SELECT counter, lag(counter) OVER w, lead(counter) OVER w,
         sum(counter) OVER (PARTITION BY counter % 7 ORDER BY t ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
  FROM (SELECT c AS counter, to_timestamp(1767225600 + c / 1000.0) AS t
        FROM generate_series(0::bigint, $m - 1) c) x WINDOW w AS (PARTITION BY counter % 7 ORDER BY t)"
expect_eq "rows of r differing from the batch query" "0|$m" \
    "$(q "SELECT count(*) || '|' || (SELECT count(*) FROM r)
          FROM ((($expected_r) EXCEPT ALL (SELECT * FROM r)) UNION ALL ((SELECT * FROM r) EXCEPT ALL ($expected_r))) x")"
expected_t="SELECT k, n, rn FROM (SELECT k, n, row_number() OVER (ORDER BY n DESC, k) AS rn
    FROM (SELECT c % 13 AS k, count(*) AS n FROM generate_series(0::bigint, $EVENTS - 1) c
          WHERE c % 5 <> 0 GROUP BY 1) c) x WHERE rn <= 3"
expect_eq "rows of t differing from the batch query" "0|3" \
    "$(q "SELECT count(*) || '|' || (SELECT count(*) FROM t)
          FROM ((($expected_t) EXCEPT ALL (SELECT * FROM t)) UNION ALL ((SELECT * FROM t) EXCEPT ALL ($expected_t))) x")"
echo "ok: r (lag/lead per key) and t (updating top-N) equal the batch queries"

# h and s against the same queries run without faults. (string_agg's order within a window is
# unspecified: compare its elements sorted.)
q "SELECT stream_start('h_ref'), stream_start('s_ref')" >/dev/null
expect_eq "reference runs" "finished|finished" \
    "$(q "SELECT stream_wait('h_ref', '120 s') || '|' || stream_wait('s_ref', '120 s')")"
sorted_s="SELECT w, k, n, d, (SELECT array_agg(x ORDER BY x) FROM unnest(string_to_array(txt, ',')) x)"
expect_eq "hop rows differing from the run without faults" "0|$(q "SELECT count(*) FROM h_ref")" \
    "$(q "SELECT count(*) || '|' || (SELECT count(*) FROM h)
          FROM ((TABLE h EXCEPT TABLE h_ref) UNION ALL (TABLE h_ref EXCEPT TABLE h)) x")"
expect_eq "session rows differing from the run without faults" "0|$(q "SELECT count(*) FROM s_ref")" \
    "$(q "SELECT count(*) || '|' || (SELECT count(*) FROM s)
          FROM ((($sorted_s FROM s) EXCEPT ($sorted_s FROM s_ref))
                UNION ALL (($sorted_s FROM s_ref) EXCEPT ($sorted_s FROM s))) x")"
expect_eq "hop and session results exist" t "$(q "SELECT (SELECT count(*) FROM h) > 30 AND (SELECT count(*) FROM s) > 30")"
echo "ok: h (hop) and s (session) equal their runs without faults"

# --- checkpoints are visible, and stream_drop removes them -----------------------------------
expect_eq "checkpoints recorded" "d|t e|t f|t h|t h_ref|t i|t j|t r|t s|t s_ref|t t|t u|t w|t" \
    "$(q "SELECT string_agg(pipeline || '|' || CASE WHEN count > 0 AND last_ok THEN 't' ELSE 'f' END, ' '
                            ORDER BY pipeline)
          FROM (SELECT pipeline, count(*) AS count,
                       bool_and(epoch > 0 AND bytes >= 0 AND duration >= interval '0') AS last_ok
                FROM stream_checkpoints GROUP BY pipeline) c")"
expect_eq "last_checkpoint_at" "13" \
    "$(q "SELECT count(*) FROM stream_pipelines WHERE last_checkpoint_at IS NOT NULL")"
q "SELECT stream_drop(name) FROM stream_pipelines" >/dev/null
expect_eq "state left after stream_drop" "0|0" \
    "$(q "SELECT (SELECT count(*) FROM _arroyo_stream.state) || '|' ||
                 (SELECT count(*) FROM _arroyo_stream.checkpoints)")"
echo "ok: recovery test passed"
