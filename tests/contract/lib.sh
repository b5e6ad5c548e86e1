# Shared by tests/contract/run.sh (the gate) and tests/contract/explore.sh
# (fresh seeds, outside the gate). Sourced, not run.
#
# start_server DATABASE_URL: starts target/debug/channelhub on a free
#   loopback port with a fresh admin token; sets BASE, ADMIN_TOKEN, WORK and
#   an EXIT trap (replacing the caller's) that stops it and removes WORK.
# run_schemathesis SEED [ARGS...]: one schemathesis run against BASE with
#   every check and phase, EXAMPLES per operation, the given seed and no
#   example database (a database would replay earlier failures, so a run
#   would depend on what ran before it). Hypothesis's `too_slow` health
#   check is off: it times the generator, so on a busy machine it would make
#   the verdict depend on the load rather than on the API.
#
# The WebSocket and SSE routes (/ws, /stream) are left out of schemathesis: it
# cannot hold a socket or read a stream; tests/websocket.rs and tests/streams.rs
# cover them. One worker: hypothesis describes strategies with ast.parse,
# which is not thread-safe on CPython 3.11 ("AST constructor recursion depth
# mismatch"). A long poll may wait its full `wait` (up to 60 s, as
# documented), hence the request timeout and response-time limit.

PY="${PY:-python3}"
EXAMPLES="${EXAMPLES:-100}"
BIN="${BIN:-target/debug/channelhub}"
CONFIG="$PWD/tests/contract/schemathesis.toml"

start_server() {
  local database_url="$1"
  ADMIN_TOKEN="contract-admin-token-$$-$RANDOM"
  WORK="$(mktemp -d)"
  local port
  port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  BASE="http://127.0.0.1:$port"
  "$BIN" serve --listen "127.0.0.1:$port" --database-url "$database_url" \
    --admin-token "$ADMIN_TOKEN" --allow-private-webhooks --exempt-loopback \
    >"$WORK/server.log" 2>&1 &
  SERVER=$!
  trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
  for _ in $(seq 1 300); do
    curl -sf "$BASE/readyz" >/dev/null && return 0
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.1
  done
  echo "the server did not become ready; its log:" >&2
  cat "$WORK/server.log" >&2
  exit 1
}

run_schemathesis() {
  local seed="$1"
  shift
  # From the scratch directory: schemathesis keeps a cache where it runs.
  (cd "$WORK" && "$PY" -m schemathesis.cli --no-color --config-file "$CONFIG" run \
    "$BASE/api/v1/openapi.json" \
    --checks all --phases examples,coverage,fuzzing,stateful \
    --max-examples "$EXAMPLES" --seed "$seed" --generation-database none --workers 1 \
    --suppress-health-check too_slow \
    --request-timeout 70 --max-response-time 65 \
    --exclude-path-regex '/(ws|stream)$' "$@")
}
