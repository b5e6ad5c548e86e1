#!/usr/bin/env bash
# Explores the API contract with fresh seeds, outside the CI gate: runs
# schemathesis (admin token, then no credentials) with a new random seed
# after another against one server, until MINUTES have passed. Every failing
# seed's output is kept in target/contract-explore/SEED.log; the summary
# lists them. Replay one with CONTRACT_SEED=SEED tests/contract/run.sh URL.
# What a seed finds is either fixed (and its case becomes a test) or, when
# the server is right, stated in the document and tests/contract/schemathesis.toml.
#
# usage: tests/contract/explore.sh [MINUTES] [DATABASE_URL]
#   MINUTES defaults to 30; DATABASE_URL to a fresh SQLite file.
#   Needs target/debug/channelhub (cargo build) and PY, a Python with the
#   tools .ci/run pins (it makes one in /tmp/channelhub-contract-venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/contract/lib.sh
. tests/contract/lib.sh
MINUTES="${1:-30}"
DB_DIR="$(mktemp -d)"
start_server "${2:-sqlite://$DB_DIR/explore.db}"
OUT=target/contract-explore
mkdir -p "$OUT"
END=$(( $(date +%s) + MINUTES * 60 ))
RUNS=0
FAILED=()
while [ "$(date +%s)" -lt "$END" ]; do
  SEED="$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
  RUNS=$((RUNS + 1))
  echo "== seed $SEED ($(date +%H:%M:%S))"
  if { run_schemathesis "$SEED" -H "Authorization: Bearer $ADMIN_TOKEN" \
       && run_schemathesis "$SEED"; } >"$OUT/$SEED.log" 2>&1; then
    rm -f "$OUT/$SEED.log"
  else
    FAILED+=("$SEED")
    echo "   FAILED: $OUT/$SEED.log"
    grep -E '^(_+ |[0-9]+\. |    \[[0-9]+\] )' "$OUT/$SEED.log" | head -20 || true
  fi
done
rm -rf "$DB_DIR"
echo "== explored $RUNS seeds in $MINUTES minutes; ${#FAILED[@]} failed${FAILED:+: ${FAILED[*]}}"
[ "${#FAILED[@]}" -eq 0 ]
