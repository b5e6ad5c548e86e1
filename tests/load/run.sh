#!/usr/bin/env bash
# Runs the test suite while the machine is busy (issue 23): races that show
# only under load are the ones users meet in production.
#
# The load, for as long as the suite runs:
#   - a CPU hog on every core (a shell busy loop each, at normal priority);
#   - a pgbench write load (TPC-B-like transactions, LOAD_CLIENTS clients) on
#     a scratch database of the same PostgreSQL the tests use.
# The suite's deadlines are stretched by CHANNELHUB_TEST_TIME_SCALE (SCALE,
# default 4), never retried: a test either holds under load or fails.
#
# usage: tests/load/run.sh [cargo test arguments...]
#   e.g. tests/load/run.sh                      the whole suite
#        tests/load/run.sh --test live_faults   one file
#   TEST_DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/test
#   (the PostgreSQL variant of every test runs, as in CI). Needs pgbench
#   (PostgreSQL's client package) and what .ci/run installs for the suite.
set -euo pipefail
cd "$(dirname "$0")/../.."

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export CI="${CI:-true}"
export CHANNELHUB_TEST_TIME_SCALE="${SCALE:-4}"
LOAD_CLIENTS="${LOAD_CLIENTS:-4}"
command -v pgbench >/dev/null || { echo "pgbench is missing (apt-get install postgresql-client)" >&2; exit 1; }

# Build first, without the load: the load is for the tests, not the compiler.
cargo test --no-run "$@"

LOAD_DB="channelhub_load_$$"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $LOAD_DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql "$TEST_DATABASE_URL" -qc "CREATE DATABASE $LOAD_DB"
LOAD_URL="$(echo "$TEST_DATABASE_URL" | sed -E "s#/[^/?]+(\?|$)#/$LOAD_DB\1#")"
pgbench -q -i -s 5 "$LOAD_URL" >/dev/null 2>&1
pgbench -n -c "$LOAD_CLIENTS" -j 1 -T 86400 "$LOAD_URL" >/tmp/channelhub-load-pgbench.$$.log 2>&1 &
PIDS+=($!)
for _ in $(seq 1 "$(nproc)"); do
  bash -c 'while :; do :; done' &
  PIDS+=($!)
done
echo "load: $(nproc) CPU hogs, pgbench with $LOAD_CLIENTS clients on $LOAD_DB; deadlines x$CHANNELHUB_TEST_TIME_SCALE"
START=$(date +%s)
set +e
cargo test "$@"
STATUS=$?
set -e
echo "suite under load: exit $STATUS after $(( $(date +%s) - START )) s"
exit "$STATUS"
