#!/usr/bin/env bash
# ALTER EXTENSION arroyo_stream UPDATE from 0.1.0 (no checkpoints) to 0.7.0 (through 0.2.0 ... 0.6.0): a
# pipeline created
# under 0.1.0 keeps its catalog row, gains the checkpoint tables and views, runs, checkpoints,
# and resumes after a stop. Uses its own instance (port 55445, ARROYO_UPGRADE_PORT overrides).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_test_instance upgrade "${ARROYO_UPGRADE_PORT:-55445}"

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }


q "CREATE EXTENSION arroyo_stream VERSION '0.1.0';
   CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
   CREATE FOREIGN TABLE ticks (counter bigint) SERVER imp
     OPTIONS (event_rate '2000', message_count '4000');
   CREATE TABLE out (n bigint);
   SELECT stream_create('p', 'INSERT INTO out SELECT counter FROM ticks');" >/dev/null
expect_eq "version before" 0.1.0 "$(q "SELECT extversion FROM pg_extension WHERE extname = 'arroyo_stream'")"
expect_eq "stream_checkpoints before" "" "$(q "SELECT to_regclass('stream_checkpoints')")"

q "ALTER EXTENSION arroyo_stream UPDATE" >/dev/null
expect_eq "version after" 0.7.0 "$(q "SELECT extversion FROM pg_extension WHERE extname = 'arroyo_stream'")"
expect_eq "pipeline kept" "p|created|0" \
    "$(q "SELECT name || '|' || state || '|' || checkpoint_epoch FROM _arroyo_stream.pipelines")"
expect_eq "0.6.0's parallelism column and stream_workers view" "1|0" \
    "$(q "SELECT parallelism || '|' || (SELECT count(*) FROM stream_workers) FROM stream_pipelines")"
expect_eq "0.7.0's stream_rescale" "stream_rescale(text,integer)" \
    "$(q "SELECT 'stream_rescale(text,integer)'::regprocedure")"
expect_eq "config dump of the new tables" "_arroyo_stream.checkpoints _arroyo_stream.state" \
    "$(q "SELECT string_agg(c::regclass::text, ' ' ORDER BY c::regclass::text)
          FROM pg_extension, unnest(extconfig) c
          WHERE extname = 'arroyo_stream' AND c::regclass::text IN
                ('_arroyo_stream.state', '_arroyo_stream.checkpoints')")"

q "SELECT stream_start('p')" >/dev/null
sleep 0.5
q "SELECT stream_stop('p')" >/dev/null
q "SELECT stream_start('p')" >/dev/null
expect_eq "stream_wait" finished "$(q "SELECT stream_wait('p', '60 s')")"
expect_eq "rows: each counter once" "4000|4000|0|3999" \
    "$(q "SELECT count(*) || '|' || count(DISTINCT n) || '|' || min(n) || '|' || max(n) FROM out")"
expect_eq "checkpoints visible" t \
    "$(q "SELECT count(*) > 0 FROM stream_checkpoints WHERE pipeline = 'p'")"
expect_eq "last_checkpoint_at" t \
    "$(q "SELECT last_checkpoint_at IS NOT NULL FROM stream_pipelines WHERE name = 'p'")"

# The same objects as a fresh 0.2.0 install (compared through pg_describe_object of members).
members() {
    q "SELECT string_agg(d, E'\n' ORDER BY d) FROM (SELECT pg_describe_object(classid, objid, 0) AS d
       FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
         AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'arroyo_stream')) m"
}
views() {
    q "SELECT pg_get_viewdef('stream_pipelines') || pg_get_viewdef('stream_checkpoints')"
}
updated=$(members)
updated_views=$(views)
q "SELECT stream_drop('p'); DROP EXTENSION arroyo_stream CASCADE; CREATE EXTENSION arroyo_stream;" \
    >/dev/null
expect_eq "objects of an updated and a fresh install" "$(members)" "$updated"
expect_eq "views of an updated and a fresh install" "$(views)" "$updated_views"
echo "ok: upgrade test passed"
