// Publishing helpers: chunking, the Idempotency-Key header, and retries on
// network errors only when a key makes them safe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Channelhub, MAX_BATCH } from 'channelhub';
import { ADMIN_TOKEN, TestServer, channelId } from './server.js';

let server: TestServer;
before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.close();
});

/** A fetch that records each request's Idempotency-Key and fails the first `failures` before sending them. */
function flakyFetch(failures: number) {
  const keys: (string | null)[] = [];
  const impl: typeof fetch = async (input, init) => {
    keys.push(new Headers(init?.headers).get('idempotency-key'));
    if (failures-- > 0) throw new TypeError('fetch failed (simulated network error)');
    return fetch(input, init);
  };
  return { keys, impl };
}

test('publishBatch sends chunks of 100, in order', async () => {
  const admin = server.client();
  const id = channelId('chunks');
  await admin.createChannel({ id });
  const { keys, impl } = flakyFetch(0);
  const client = new Channelhub({ url: server.url, token: ADMIN_TOKEN, fetch: impl });
  const stored = await client.publishBatch(id, Array.from({ length: 250 }, (_, n) => ({ data: n })), { idempotencyKey: 'load-7' });
  assert.equal(MAX_BATCH, 100);
  assert.deepEqual(stored.map((e) => e.data), Array.from({ length: 250 }, (_, n) => n));
  assert.deepEqual(keys, ['load-7:0', 'load-7:1', 'load-7:2'], 'one request per chunk, each with its own key');
  const page = await admin.pollEvents(id, { limit: 1000 });
  assert.deepEqual(page.events.map((e) => e.id), stored.map((e) => e.id));
});

test('a network error is retried with an idempotency key, and not without one', async () => {
  const admin = server.client();
  const id = channelId('retry');
  await admin.createChannel({ id });

  const keyed = flakyFetch(2);
  const withKey = new Channelhub({ url: server.url, token: ADMIN_TOKEN, fetch: keyed.impl });
  const event = await withKey.publish(id, { type: 't', data: 1 }, { idempotencyKey: 'k-1', backoff: { initialMs: 10 } });
  assert.equal(event.data, 1);
  assert.deepEqual(keyed.keys, ['k-1', 'k-1', 'k-1'], 'two failures, then the same key again');

  const bare = flakyFetch(1);
  const withoutKey = new Channelhub({ url: server.url, token: ADMIN_TOKEN, fetch: bare.impl });
  await assert.rejects(withoutKey.publish(id, { data: 2 }), TypeError);
  assert.deepEqual(bare.keys, [null], 'no retry without a key');

  const page = await admin.pollEvents(id);
  assert.deepEqual(page.events.map((e) => e.data), [1], 'the event was stored once');
});

test('an HTTP refusal is not retried, even with a key', async () => {
  const id = channelId('refused');
  const { keys, impl } = flakyFetch(0);
  const client = new Channelhub({ url: server.url, token: ADMIN_TOKEN, fetch: impl });
  await assert.rejects(client.publish(id, { data: 1 }, { idempotencyKey: 'k-2' }), { name: 'ChannelhubError', status: 404 });
  assert.equal(keys.length, 1);
});
