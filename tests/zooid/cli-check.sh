#!/usr/bin/env bash
# Zooid's CLI, built unmodified, against a channelhub server: the everyday
# commands, each with what it must print. Run by tests/zooid/run.sh, which
# sets ZOOID_CLI (the built dist/index.js) and ZOOID_CONFIG_DIR (a scratch
# folder, so the user's own Zooid configuration is never read or changed).
#
#   cli-check.sh <server URL> <admin token>
set -uo pipefail

url=${1:?usage: cli-check.sh <server URL> <admin token>}
admin=${2:?usage: cli-check.sh <server URL> <admin token>}
: "${ZOOID_CLI:?set ZOOID_CLI to the built CLI (dist/index.js)}"
: "${ZOOID_CONFIG_DIR:?set ZOOID_CONFIG_DIR to a scratch folder}"
export ZOOID_CONFIG_DIR ZOOID_TELEMETRY=0
mkdir -p "$ZOOID_CONFIG_DIR"
channel="cli-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
passed=0
failed=0
out=

zooid() { node "$ZOOID_CLI" "$@"; }

# expect <what> <exit: ok|fail> <regex the output must match> -- <zooid args>
expect() {
  local what=$1 exit_wanted=$2 pattern=$3
  shift 4
  out=$(zooid "$@" < /dev/null 2>&1)
  local code=$?
  local exit_ok=1
  if [ "$exit_wanted" = ok ] && [ $code -ne 0 ]; then exit_ok=0; fi
  if [ "$exit_wanted" = fail ] && [ $code -eq 0 ]; then exit_ok=0; fi
  if [ $exit_ok = 1 ] && grep -Eq -- "$pattern" <<< "$out"; then
    passed=$((passed + 1))
    printf '%-44s works\n' "$what"
  else
    failed=$((failed + 1))
    printf '%-44s FAILS (exit %s): %s\n' "$what" "$code" "$(tr '\n' ' ' <<< "$out" | cut -c1-160)"
  fi
}

expect "config set server" ok "" -- config set server "$url"
expect "config set admin-token" ok "" -- config set admin-token "$admin"
expect "status" ok "Server ID" -- status
expect "server set" ok "" -- server set --name "cli-check" --description "set by the CLI" --tags a,b
expect "server get" ok "cli-check" -- server get
expect "whoami" ok "Scopes: admin" -- whoami

schema=$(mktemp)
printf '{"note": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}}' > "$schema"
expect "channel create --public --strict --schema" ok "Created channel: $channel" \
  -- channel create "$channel" --public --strict --schema "$schema" --description "made by the CLI"
expect "channel list" ok "$channel" -- channel list
expect "channel update --tags" ok "" -- channel update "$channel" --tags x,y
expect "publish (valid for the schema)" ok "Published event: [0-9A-Z]{26}" \
  -- publish "$channel" '{"text": "hello from the CLI"}' --type note
event_id=$(grep -Eo '[0-9A-Z]{26}' <<< "$out" | head -1)
expect "publish (refused by the schema, says why)" fail "text|schema|type" \
  -- publish "$channel" '{"text": 42}' --type note
expect "tail -n" ok "hello from the CLI" -- tail "$channel" -n 5

# tail -f over a WebSocket: start it, publish, read what it printed.
follow_log=$(mktemp)
zooid tail "$channel" -f --mode ws > "$follow_log" 2>&1 &
follow_pid=$!
sleep 1.5
zooid publish "$channel" '{"text": "live line"}' --type note > /dev/null 2>&1
for _ in $(seq 50); do grep -q "live line" "$follow_log" && break; sleep 0.1; done
kill "$follow_pid" 2>/dev/null
wait "$follow_pid" 2>/dev/null
if grep -q "live line" "$follow_log"; then
  passed=$((passed + 1)); printf '%-44s works\n' "tail -f --mode ws"
else
  failed=$((failed + 1)); printf '%-44s FAILS: %s\n' "tail -f --mode ws" "$(tr '\n' ' ' < "$follow_log" | cut -c1-160)"
fi

expect "token mint (JWT with --jwt-secret)" ok "^ey[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$" \
  -- token mint "pub:$channel" "sub:$channel" --sub cli-bot --name "CLI bot" --expires-in 1h
minted=$(tail -1 <<< "$out")
# The CLI keeps this token for the channel from now on.
expect "publish --token <minted JWT>" ok "Published event: [0-9A-Z]{26}" \
  -- publish "$channel" '{"text": "from the minted token"}' --type note --token "$minted"
own_id=$(grep -Eo '[0-9A-Z]{26}' <<< "$out" | head -1)
# As in Zooid: only the admin or the event's publisher may delete it.
expect "delete-event of another's event (refused)" fail "only the admin|publish" \
  -- delete-event "$channel" "$event_id" -y
expect "delete-event -y (its own event)" ok "Deleted event: $own_id" -- delete-event "$channel" "$own_id" -y
expect "channel delete -y" ok "Deleted channel: $channel" -- channel delete "$channel" -y
expect "tail of a deleted channel (says why)" fail "not exist|not found|404" -- tail "$channel"

echo
echo "$passed of $((passed + failed)) CLI checks work"
[ "$failed" -eq 0 ]
