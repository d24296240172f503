#!/usr/bin/env bash
# The differential tester (test/differential/differential.py) with a fixed seed and a small
# budget: random data sets (file, Debezium and CDC sources) and random pipelines, each pipeline's
# final result compared with PostgreSQL's batch query over the same rows, as a multiset.
# Uses its own instance (port 55490, ARROYO_DIFFERENTIAL_PORT overrides).
#
#   ARROYO_DIFF_SEED      seed (default 20260101; "random" picks one and prints it)
#   ARROYO_DIFF_ROUNDS    data sets (default 300), ARROYO_DIFF_QUERIES pipelines per data set (8)
#   ARROYO_DIFF_SEEDS     seeds to run, from ARROYO_DIFF_SEED on (default 1)
#   ARROYO_DIFF_EXCLUDE   feature classes left out (differential.py --list-classes); the default
#                         lists the classes with known wrong results (test/differential/FINDINGS.md)
#   ARROYO_DIFF_ARGS      more arguments for differential.py (e.g. --no-shrink)
#   ARROYO_SUBQ_SEED, ARROYO_SUBQ_ROUNDS, ARROYO_SUBQ_QUERIES: the same for subqueries.py
# A long run with random seeds (see README, "Correctness"):
#   ARROYO_SKIP_BUILD=1 ARROYO_DIFF_SEED=random ARROYO_DIFF_SEEDS=20 ARROYO_DIFF_ROUNDS=100 \
#     ARROYO_TEST_TIMEOUT=7200 ./test/run.sh differential
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Classes with wrong results today (FINDINGS.md); remove one here once it is fixed.
# Not excluded although it fails today: class late (FINDINGS.md L1, hop windows over panes give
# a row behind the watermark windows that had ended; seed 20260101 round 18), because its fix is
# three lines in WindowAggregateOperator::fire_panes. Until it is merged this test fails; to run
# without it: ARROYO_DIFF_EXCLUDE=late.
default_exclude=
exclude=${ARROYO_DIFF_EXCLUDE-$default_exclude}

pg_test_instance differential "${ARROYO_DIFFERENTIAL_PORT:-55490}"
pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -q -c 'CREATE EXTENSION arroyo_stream'

# Source files: in a directory the server (ARROYO_PG_USER) can read.
data_dir=$ARROYO_WORK_ROOT/tests/differential_data
rm -rf -- "$data_dir"
mkdir -p -- "$data_dir"
chmod 755 -- "$data_dir"
arroyo_on_exit "rm -rf -- '$data_dir'"

seed=${ARROYO_DIFF_SEED:-20260101}
seed_args=(--seed "$seed")
[[ $seed == random ]] && seed_args=()
# shellcheck disable=SC2086  # ARROYO_DIFF_ARGS is a list of words
"$PYTHON" "$ARROYO_ROOT/test/differential/differential.py" \
    --conninfo "$(pg_conninfo "$PGTEST_DIR" "$PGTEST_PORT")" --data-dir "$data_dir" \
    "${seed_args[@]}" --seeds "${ARROYO_DIFF_SEEDS:-1}" \
    --rounds "${ARROYO_DIFF_ROUNDS:-300}" --queries "${ARROYO_DIFF_QUERIES:-8}" \
    --exclude "$exclude" ${ARROYO_DIFF_ARGS:-}

# Joins (test/differential/joins.py): two random sources per round, random join queries.
"$PYTHON" "$ARROYO_ROOT/test/differential/joins.py" \
    --conninfo "$(pg_conninfo "$PGTEST_DIR" "$PGTEST_PORT")" --data-dir "$data_dir" \
    --seed "${ARROYO_JOIN_SEED:-20261205}" --rounds "${ARROYO_JOIN_ROUNDS:-40}" \
    --queries "${ARROYO_JOIN_QUERIES:-8}"

# Subqueries, WITH, DISTINCT, GROUPING SETS (test/differential/subqueries.py): two random
# sources per round, random queries of those forms.
"$PYTHON" "$ARROYO_ROOT/test/differential/subqueries.py" \
    --conninfo "$(pg_conninfo "$PGTEST_DIR" "$PGTEST_PORT")" --data-dir "$data_dir" \
    --seed "${ARROYO_SUBQ_SEED:-20261206}" --rounds "${ARROYO_SUBQ_ROUNDS:-100}" \
    --queries "${ARROYO_SUBQ_QUERIES:-8}"

# Lookup joins (test/differential/lookups.py): random streams looked up in a random frozen table.
"$PYTHON" "$ARROYO_ROOT/test/differential/lookups.py" \
    --conninfo "$(pg_conninfo "$PGTEST_DIR" "$PGTEST_PORT")" --data-dir "$data_dir" \
    --seed "${ARROYO_LOOKUP_SEED:-20261206}" --rounds "${ARROYO_LOOKUP_ROUNDS:-60}" \
    --queries "${ARROYO_LOOKUP_QUERIES:-8}"

# Window functions (test/differential/window_functions.py): one random source per round,
# window functions per closed window, top-N (windowed and updating), event-time OVER per key,
# ORDER BY … LIMIT n.
"$PYTHON" "$ARROYO_ROOT/test/differential/window_functions.py" \
    --conninfo "$(pg_conninfo "$PGTEST_DIR" "$PGTEST_PORT")" --data-dir "$data_dir" \
    --seed "${ARROYO_WINFN_SEED:-20261219}" --rounds "${ARROYO_WINFN_ROUNDS:-40}" \
    --queries "${ARROYO_WINFN_QUERIES:-8}"

# Set-returning functions (test/differential/set_returning.py): one random source per round,
# random queries with set-returning functions in the select list, in FROM, under aggregates.
"$PYTHON" "$ARROYO_ROOT/test/differential/set_returning.py" \
    --conninfo "$(pg_conninfo "$PGTEST_DIR" "$PGTEST_PORT")" --data-dir "$data_dir" \
    --seed "${ARROYO_SRF_SEED:-20261206}" --rounds "${ARROYO_SRF_ROUNDS:-60}" \
    --queries "${ARROYO_SRF_QUERIES:-8}"
