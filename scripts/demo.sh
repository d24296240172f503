#!/usr/bin/env bash
# Quick start, part 1: install dependencies, build and install arroyo_stream, (re)start a private
# PostgreSQL instance with the library preloaded, and run scripts/demo.sql in it.
#
# The instance: data directory and unix socket directory /var/tmp/arroyo_stream/demo, port 5499,
# no TCP listener, running as the unprivileged OS user chosen by test/lib.sh (`arroyo` when run
# as root).  It is restarted if already running, so the freshly installed library is loaded.
# It keeps running afterwards; the end of the output says how to connect and how to stop it.
# The system cluster (port 5432) is never touched.
# Environment: ARROYO_DEMO_DIR, ARROYO_DEMO_PORT override the directory and port.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../test/lib.sh
source "$here/../test/lib.sh"

demo_dir=${ARROYO_DEMO_DIR:-$ARROYO_WORK_ROOT/demo}
demo_port=${ARROYO_DEMO_PORT:-5499}

"$here/install_deps.sh"
"$here/build.sh"
arroyo_server_settings_load # install_deps.sh may have installed another minor version

pg_instance_start "$demo_dir" "$demo_port" "${ARROYO_SERVER_SETTINGS[@]}"

arroyo_log "running scripts/demo.sql"
echo
pg_psql "$demo_dir" "$demo_port" -q -f "$here/demo.sql"

bindir=$(pg_bindir)
if arroyo_is_root; then
    as_user="runuser -u $ARROYO_PG_USER -- "
else
    as_user=""
fi
cat <<MSG

The demo instance is still running (data, socket and log in $demo_dir).
  Connect:  psql -h $demo_dir -p $demo_port -U $ARROYO_PG_USER postgres
       or:  ${as_user}$bindir/psql -h $demo_dir -p $demo_port postgres
  Log:      $demo_dir/server.log
  Stop:     ${as_user}$bindir/pg_ctl -D $demo_dir stop
  Remove:   stop it, then rm -rf $demo_dir
MSG
