// One socket per client: every subscription of a `Channelhub` rides the
// server's multiplexed socket (`/api/v1/ws`), each ending alone; a second
// subscription to the same channel gets a socket of its own; against a server
// without the route, every subscription uses the per-channel route.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createServer as createHttpServer, request } from 'node:http';
import WebSocket from 'ws';
import { ChannelhubError, type Event, type Subscription, type WebSocketConstructor } from 'channelhub';
import { TestServer, channelId, freePort, waitFor, within } from './server.js';

const FAST = { initialMs: 20, maxMs: 300 };

let server: TestServer;
before(async () => {
  server = await TestServer.start();
});
const opened: Subscription[] = [];
afterEach(async () => {
  for (const subscription of opened.splice(0)) subscription.close();
});
after(async () => {
  await server?.close();
});

/** A `ws` WebSocket that records the URLs clients open. */
const urls: string[] = [];
class Recorded extends WebSocket {
  constructor(url: string) {
    super(url);
    urls.push(url);
  }
}
const RecordedWs = Recorded as unknown as WebSocketConstructor;

function follow(subscribe: (onEvent: (e: Event) => void, onError: (e: Error, info: { fatal: boolean }) => void) => Subscription) {
  const events: Event[] = [];
  const errors: { error: Error; fatal: boolean }[] = [];
  const subscription = subscribe((e) => { events.push(e); }, (error, { fatal }) => { errors.push({ error, fatal }); });
  opened.push(subscription);
  return { events, errors, subscription };
}

test('every subscription of one client shares one socket, and each ends alone', async () => {
  const admin = server.client();
  const channels = [channelId('m'), channelId('m'), channelId('m')];
  for (const id of channels) await admin.createChannel({ id });
  const vault = channelId('vault');
  await admin.createChannel({ id: vault, is_public: false });
  const vaultToken = await admin.createToken(vault, { kind: 'subscribe' });

  urls.length = 0;
  const client = server.client({ token: null, WebSocket: RecordedWs });
  const subs = channels.map((id) => follow((onEvent, onError) => client.subscribe(id, { backoff: FAST, onEvent, onError })));
  const typed = follow((onEvent, onError) => client.subscribe(channels[0], { types: ['b'], backoff: FAST, onEvent, onError }));
  const secret = follow((onEvent, onError) => client.subscribe(vault, { token: vaultToken.token, backoff: FAST, onEvent, onError }));
  await waitFor(10_000, 'every subscription counted', async () =>
    (await Promise.all([...channels, vault].map(async (id) => (await admin.getChannel(id)).subscribers))).every((n, i) => n === (i === 0 ? 2 : 1)));
  assert.equal(urls.filter((u) => u.includes('/api/v1/ws')).length, 1, `one shared socket: ${urls.join(' ')}`);
  assert.deepEqual(urls.filter((u) => !u.includes('/api/v1/ws')).map((u) => new URL(u).pathname), [`/api/v1/channels/${channels[0]}/ws`],
    'the second subscription to one channel has a socket of its own');

  const published: Record<string, Event[]> = {};
  for (const id of [...channels, vault]) {
    published[id] = await admin.publishBatch(id, [{ type: 'a', data: 1 }, { type: 'b', data: 2 }, { type: 'a', data: 3 }]);
  }
  await waitFor(10_000, 'every event', () => subs.every((s) => s.events.length === 3) && secret.events.length === 3 && typed.events.length === 1);
  channels.forEach((id, i) => assert.deepEqual(subs[i].events.map((e) => e.id), published[id].map((e) => e.id)));
  assert.deepEqual(secret.events.map((e) => e.id), published[vault].map((e) => e.id));
  assert.deepEqual(typed.events.map((e) => e.id), [published[channels[0]][1].id]);

  // Revoking the vault's token ends that subscription only.
  await admin.revokeToken(vault, vaultToken.id);
  const ended = await within(10_000, 'the revocation', secret.subscription.done.then(() => undefined, (e: unknown) => e));
  assert.ok(ended instanceof ChannelhubError && ended.closeCode === 4001, `revocation: ${ended}`);
  const more = await admin.publish(channels[1], { data: 'after' });
  await waitFor(10_000, 'the others carry on', () => subs[1].events.some((e) => e.id === more.id));
  assert.equal(urls.filter((u) => u.includes('/api/v1/ws')).length, 1, 'still the same socket');

  // A channel that does not exist is refused on the socket (404) and ends that subscription.
  const missing = follow((onEvent, onError) => client.subscribe(channelId('none'), { backoff: FAST, onEvent, onError }));
  const refused = await within(10_000, 'the refusal', missing.subscription.done.then(() => undefined, (e: unknown) => e));
  assert.ok(refused instanceof ChannelhubError && refused.status === 404, `missing: ${refused}`);
});

/**
 * A proxy in front of the server that knows only the per-channel routes, as
 * an older server would: `/api/v1/ws` is a 404, everything else passes.
 */
async function olderServer(port: number): Promise<{ url: string; close: () => void }> {
  const missing = (res: { writeHead: (s: number, h: Record<string, string>) => void; end: (b: string) => void }) => {
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    res.end('{"status":404,"title":"Not Found","detail":"no such route","type":"about:blank"}');
  };
  const proxy = createHttpServer((req, res) => {
    if (req.url?.startsWith('/api/v1/ws')) return missing(res);
    const upstream = request({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  proxy.on('upgrade', (req, client: Socket, head: Buffer) => {
    if (req.url?.startsWith('/api/v1/ws')) {
      client.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    const upstream = connect(port, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const proxyPort = await freePort();
  await new Promise<void>((resolve) => proxy.listen(proxyPort, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${proxyPort}`, close: () => { proxy.closeAllConnections(); proxy.close(); } };
}

test('against a server without the multiplexed route, subscriptions use the per-channel route', async () => {
  const older = await olderServer(server.port);
  try {
    const probe = await new Promise<number>((resolve) => request(`${older.url}/api/v1/ws`, (res) => resolve(res.statusCode ?? 0)).end());
    assert.equal(probe, 404);
    const admin = server.client();
    const ids = [channelId('old'), channelId('old')];
    for (const id of ids) await admin.createChannel({ id });
    urls.length = 0;
    const { Channelhub } = await import('channelhub');
    const client = new Channelhub({ url: older.url, WebSocket: RecordedWs });
    const subs = ids.map((id) => follow((onEvent, onError) => client.subscribe(id, { backoff: FAST, onEvent, onError })));
    await waitFor(15_000, 'both subscribed', async () => (await Promise.all(ids.map(async (id) => (await admin.getChannel(id)).subscribers))).every((n) => n === 1));
    const published = await Promise.all(ids.map((id) => admin.publishBatch(id, [{ data: 1 }, { data: 2 }])));
    await waitFor(10_000, 'every event', () => subs.every((s) => s.events.length === 2));
    ids.forEach((_, i) => assert.deepEqual(subs[i].events.map((e) => e.id), published[i].map((e) => e.id)));
    const paths = urls.map((u) => new URL(u).pathname);
    assert.ok(paths.includes(`/api/v1/channels/${ids[0]}/ws`) && paths.includes(`/api/v1/channels/${ids[1]}/ws`), paths.join(' '));
    assert.ok(subs.every((s) => s.errors.every(({ fatal }) => !fatal)));
  } finally {
    for (const subscription of opened.splice(0)) subscription.close();
    older.close();
  }
});
