#!/usr/bin/env bash
# Zooid's own SDK and CLI, built unmodified, against a local channelhub.
#
#   tests/zooid/run.sh <path of a Zooid checkout>
#
# Not part of CI (it needs Zooid's source and the npm registry). Checked
# with github.com/bhardwajRahul/zooid (a fork of zooid-ai/zooid) at commit
# c2d851965e00: @zooid/sdk 0.6.0, zooid (the CLI) 0.6.1.
#
# What it does:
# 1. Copies the checkout to a scratch folder (the checkout is not touched)
#    and installs the workspace with pnpm 10.7.0 (fetched by npx). The
#    scratch copy's pnpm-workspace.yaml lists only the packages the SDK and
#    the CLI are built from: Zooid's full workspace also holds its docs
#    site, whose git+ssh dependency needs GitHub access. No source file of
#    Zooid's is changed.
# 2. Builds @zooid/types, @zooid/sdk and the CLI with their own scripts.
# 3. Starts target/debug/channelhub (building it if missing) on SQLite in
#    the scratch folder, with an admin token, --jwt-secret (for mintToken)
#    and --allow-private-webhooks (the webhook receiver is on loopback).
# 4. Runs tests/zooid/sdk-check.mjs (each of the SDK's 23 functions) and
#    tests/zooid/cli-check.sh (the CLI's everyday commands), and prints
#    what works, what works with a difference the README names, and what
#    fails.
#
# Exit status: 0 when at least 19 SDK functions and every CLI check work.
set -euo pipefail

zooid=${1:?usage: tests/zooid/run.sh <path of a Zooid checkout>}
zooid=$(cd "$zooid" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/zooid-check.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
echo "scratch folder: $scratch"

# 1–2. Zooid's SDK and CLI, built as its workspace builds them.
mkdir "$scratch/zooid"
tar -C "$zooid" --exclude=node_modules --exclude=.git -cf - . | tar -C "$scratch/zooid" -xf -
cd "$scratch/zooid"
printf 'packages:\n' > pnpm-workspace.yaml
for package in types auth sdk ui web server cli; do
  printf '  - packages/%s\n' "$package" >> pnpm-workspace.yaml
done
pnpm=(npx --yes pnpm@10.7.0)
CI= "${pnpm[@]}" install --no-frozen-lockfile > "$scratch/install.log" 2>&1 \
  || { tail -20 "$scratch/install.log"; exit 1; }
"${pnpm[@]}" --filter @zooid/types --filter @zooid/sdk --filter zooid run build \
  > "$scratch/build.log" 2>&1 || { tail -20 "$scratch/build.log"; exit 1; }
sdk="$scratch/zooid/packages/sdk/dist/index.js"
cli="$scratch/zooid/packages/cli/dist/index.js"
echo "built Zooid's SDK ($(node -p "require('$scratch/zooid/packages/sdk/package.json').version")) and CLI ($(node "$cli" --version))"

# 3. A local channelhub.
binary="$root/target/debug/channelhub"
[ -x "$binary" ] || (cd "$root" && cargo build --quiet)
admin="admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
"$binary" serve --listen "127.0.0.1:$port" --database-url "sqlite://$scratch/channelhub.db" \
  --admin-token "$admin" --jwt-secret "zooid-check-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" \
  --allow-private-webhooks --exempt-loopback > "$scratch/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fs "$url/readyz" > /dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$url/readyz" > /dev/null || { cat "$scratch/server.log"; exit 1; }

# Node 20 has WebSocket (which the SDK uses) behind a flag; 22 has it on.
node_flags=()
if node -e 'process.exit(typeof WebSocket === "undefined" ? 0 : 1)'; then
  node_flags=(--experimental-websocket)
fi
export NODE_OPTIONS="${node_flags[*]:-} --no-warnings"

# 4. The checks.
status=0
echo
echo "== Zooid's SDK"
node "$root/tests/zooid/sdk-check.mjs" "$sdk" "$url" "$admin" || status=1
echo
echo "== Zooid's CLI"
ZOOID_CLI="$cli" ZOOID_CONFIG_DIR="$scratch/cli-config" ZOOID_TELEMETRY=0 \
  bash "$root/tests/zooid/cli-check.sh" "$url" "$admin" || status=1
exit $status
