// The official TypeScript MCP SDK and the MCP Inspector's CLI (with its
// --strict schema portability check on tools/list) against channelhub's
// /mcp. Starts the debug binary (or $CHANNELHUB_BIN) on SQLite.
//
//   npm ci && node check.mjs
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const BINARY = process.env.CHANNELHUB_BIN ?? fileURLToPath(new URL('../../../target/debug/channelhub', import.meta.url));
const ADMIN = 'mcp-ts-admin-token-0123456789';
const port = await new Promise((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const base = `http://127.0.0.1:${port}`;
const dir = mkdtempSync(join(tmpdir(), 'channelhub-mcp-ts-'));
const server = spawn(BINARY, ['serve', '--listen', `127.0.0.1:${port}`, '--database-url', `sqlite://${dir}/x.db`,
  '--admin-token', ADMIN, '--exempt-loopback'], { stdio: 'ignore' });
let checks = 0;
const check = (condition, what) => { assert.ok(condition, what); checks += 1; };
try {
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/readyz`)).ok) break; } catch { /* not yet */ }
    if (i > 100) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const rest = (path, body) => fetch(`${base}/api/v1${path}`, {
    method: 'POST', headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  check((await rest('/channels', { id: 'ts-sdk', is_public: true })).status === 201, 'create the channel');

  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${ADMIN}` } },
  });
  const client = new Client({ name: 'channelhub-ts-check', version: '1.0.0' });
  await client.connect(transport);
  const tools = (await client.listTools()).tools.map((t) => t.name).sort();
  check(JSON.stringify(tools) === JSON.stringify(['get_channel', 'list_channels', 'publish_events', 'read_events', 'wait_for_events']), `the tools: ${tools}`);
  const published = await client.callTool({ name: 'publish_events', arguments: { channel: 'ts-sdk', events: [{ type: 'note', data: { n: 1 } }] } });
  check(!published.isError && published.structuredContent.events.length === 1, 'publish_events (the SDK validates the answer against its output schema)');
  // A wait longer than the request timeout, kept alive by progress (the README's advice for this SDK).
  const progress = [];
  setTimeout(() => rest('/channels/ts-sdk/events', { type: 'note', data: { n: 2 } }), 12_000);
  const woken = await client.callTool(
    { name: 'wait_for_events', arguments: { channel: 'ts-sdk', after: published.structuredContent.cursor, timeout_seconds: 30 } },
    undefined,
    { onprogress: (p) => progress.push(p.progress), timeout: 11_000, resetTimeoutOnProgress: true },
  );
  check(!woken.isError && woken.structuredContent.events[0].data.n === 2, 'wait_for_events is woken by a publish');
  check(progress.length >= 1, `progress arrived while waiting (${progress})`);
  const refused = await client.callTool({ name: 'get_channel', arguments: { channel: 'no-such-channel' } });
  check(refused.isError && refused.content[0].text.includes('(404)'), 'a refusal is a tool error in REST\'s words');
  await client.close();

  // The Inspector's CLI, strict: every tool schema portable to the hosts' dialects.
  const inspector = fileURLToPath(new URL('./node_modules/.bin/mcp-inspector', import.meta.url));
  const { stdout } = await promisify(execFile)(inspector, ['--cli', `${base}/mcp`, '--transport', 'http',
    '--header', `Authorization: Bearer ${ADMIN}`, '--method', 'tools/list', '--strict']);
  check(JSON.parse(stdout).tools.length === 5, 'MCP Inspector --strict lists the five tools with no portability error');
  console.log(`TypeScript MCP SDK and MCP Inspector: ${checks} checks passed`);
} finally {
  server.kill();
}
