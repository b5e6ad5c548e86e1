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
PGBENCH_LOG=""
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$PGBENCH_LOG" ] && rm -f "$PGBENCH_LOG"
  # WITH (FORCE) needs PostgreSQL 13 or later.
  psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $LOAD_DB WITH (FORCE)" >/dev/null \
    || echo "could not drop the scratch database $LOAD_DB" >&2
}
trap cleanup EXIT

psql "$TEST_DATABASE_URL" -qc "CREATE DATABASE $LOAD_DB"
# The same server and credentials, the scratch database.
LOAD_URL="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$TEST_DATABASE_URL" "$LOAD_DB")"
PGBENCH_LOG="$(mktemp)"
pgbench -q -i -s 5 "$LOAD_URL" >"$PGBENCH_LOG" 2>&1 || { cat "$PGBENCH_LOG" >&2; exit 1; }
# -P: a progress line every 30 s, so the log shows the load was there throughout.
pgbench -n -c "$LOAD_CLIENTS" -j 1 -T 86400 -P 30 "$LOAD_URL" >"$PGBENCH_LOG" 2>&1 &
PGBENCH=$!
PIDS+=("$PGBENCH")
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
echo "pgbench progress (transactions per second while the suite ran):"
grep -E '^progress' "$PGBENCH_LOG" || true
# A load that died early would make this run say less than it claims.
kill -0 "$PGBENCH" 2>/dev/null || { echo "pgbench stopped during the run:" >&2; cat "$PGBENCH_LOG" >&2; exit 1; }
exit "$STATUS"
