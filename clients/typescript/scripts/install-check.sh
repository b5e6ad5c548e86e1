#!/usr/bin/env bash
# Installs this client the way a user does, from outside the repository
# (`npm install <clone>/clients/typescript ws` in a scratch project), and
# runs the README's Node agent shape against the real server: create a
# channel, publish, receive it through `events()`. Run by .ci/run after the
# client's tests; needs target/debug/channelhub (or $CHANNELHUB_BIN).
set -euo pipefail

client=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$client/../.." && pwd)
binary=${CHANNELHUB_BIN:-$root/target/debug/channelhub}
scratch=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$scratch"' EXIT

cd "$scratch"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "$client" ws >/dev/null

admin="install-check-admin-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$binary" serve --listen "127.0.0.1:$port" --database-url "sqlite://$scratch/x.db" \
  --admin-token "$admin" --exempt-loopback >"$scratch/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

cat > agent.mjs <<'JS'
import WebSocket from 'ws';
import { Channelhub } from 'channelhub';

const [url, token] = process.argv.slice(2);
const hub = new Channelhub({ url, token, WebSocket });
await hub.createChannel({ id: 'installed', is_public: true });
setTimeout(() => hub.publish('installed', { type: 'hello', data: { from: 'an installed client' } }), 300);
for await (const event of hub.events('installed', { types: ['hello'] })) {
  if (event.data.from !== 'an installed client') throw new Error(`unexpected event ${JSON.stringify(event)}`);
  console.log(`installed client: received ${event.id}`);
  break;
}
JS
timeout 60 node agent.mjs "http://127.0.0.1:$port" "$admin"
