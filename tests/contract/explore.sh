#!/usr/bin/env bash
# Explores the API contract with fresh seeds, outside the CI gate: runs the
# gate itself (tests/contract/run.sh: a fresh server on a fresh SQLite file,
# the generated client's session, schemathesis with the admin token and
# without credentials) with one new random seed after another, until MINUTES
# have passed. A failing seed therefore replays exactly with
#   CONTRACT_SEED=SEED tests/contract/run.sh sqlite:///tmp/replay.db
# Its output is kept in target/contract-explore/SEED.log; the summary lists
# the failing seeds. What a seed finds is either fixed (and its case becomes
# a test) or, when the server is right, stated in the document and in
# tests/contract/schemathesis.toml.
#
# usage: tests/contract/explore.sh [MINUTES]     (default 30)
#   Needs target/debug/channelhub (cargo build) and PY, a Python with the
#   tools .ci/run pins (it makes one in /tmp/channelhub-contract-venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
MINUTES="${1:-30}"
OUT=target/contract-explore
mkdir -p "$OUT"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
END=$(( $(date +%s) + MINUTES * 60 ))
RUNS=0
FAILED=()
while [ "$(date +%s)" -lt "$END" ]; do
  SEED="$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
  RUNS=$((RUNS + 1))
  echo "== seed $SEED ($(date +%H:%M:%S))"
  rm -f "$SCRATCH"/*
  if CONTRACT_SEED="$SEED" tests/contract/run.sh "sqlite://$SCRATCH/contract.db" >"$OUT/$SEED.log" 2>&1; then
    rm -f "$OUT/$SEED.log"
  else
    FAILED+=("$SEED")
    echo "   FAILED: $OUT/$SEED.log"
    grep -E '^(_+ .* _+|[0-9]+\. .*|\[[0-9]+\] .*)$' "$OUT/$SEED.log" | head -20 || true
  fi
done
echo "== explored $RUNS seeds in $MINUTES minutes; ${#FAILED[@]} failed${FAILED:+: ${FAILED[*]}}"
[ "${#FAILED[@]}" -eq 0 ]
