// Drives Zooid's own SDK (built unmodified by tests/zooid/run.sh) against a
// channelhub server and reports, for each of the SDK's 23 exported
// functions, whether it works as it does against Zooid's server, works with
// a difference the README's "Coming from Zooid" section names, or fails.
//
//   node --experimental-websocket tests/zooid/sdk-check.mjs <sdk dist/index.js> <server URL> <admin token>
//
// The server needs --jwt-secret (mintToken) and --allow-private-webhooks
// (the webhook receiver listens on loopback). Exits 1 when fewer than 19
// functions work.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const [sdkPath, server, admin] = process.argv.slice(2);
if (!sdkPath || !server || !admin) {
  console.error('usage: sdk-check.mjs <sdk dist/index.js> <server URL> <admin token>');
  process.exit(2);
}
const { ZooidClient, ZooidError, verifyWebhook } = await import(pathToFileURL(sdkPath).href);

const suffix = randomBytes(4).toString('hex');
const channel = `sdk-${suffix}`;
const client = new ZooidClient({ server, token: admin });
const results = [];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `fn` returns nothing when the function works as against Zooid's server,
 * or the README's name for the difference it shows. */
async function check(name, fn) {
  try {
    const difference = await fn();
    results.push({ name, verdict: difference ? 'works, with a difference' : 'works', note: difference ?? '' });
  } catch (err) {
    const why = err instanceof ZooidError ? `${err.status} ${err.message}` : err?.message ?? String(err);
    results.push({ name, verdict: 'FAILS', note: why.split('\n')[0] });
  }
}

async function until(what, predicate, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (predicate()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** An EdDSA JWT signed with node:crypto (not with channelhub's code). */
function eddsaJwt(privateKey, kid, claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'EdDSA', typ: 'JWT', kid })}.${part(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
}

let discovery;
await check('getMetadata', async () => {
  discovery = await client.getMetadata();
  assert.equal(discovery.public_key_format, 'spki');
  assert.equal(discovery.algorithm, 'Ed25519');
  assert.ok(discovery.delivery.includes('websocket') && discovery.delivery.includes('webhook'));
  assert.equal(typeof discovery.server_id, 'string');
});

await check('getServerMeta', async () => {
  const meta = await client.getServerMeta();
  assert.equal(typeof meta.name, 'string');
  assert.ok(Array.isArray(meta.tags));
});

await check('updateServerMeta', async () => {
  const meta = await client.updateServerMeta({ name: `zooid-check ${suffix}`, description: 'set by the SDK', tags: ['sdk'] });
  assert.equal(meta.name, `zooid-check ${suffix}`);
  assert.equal((await client.getServerMeta()).description, 'set by the SDK');
  assert.equal((await client.updateServerMeta({ description: null })).description, null);
});

const noteSchema = { type: 'object', required: ['text'], properties: { text: { type: 'string' } } };
await check('createChannel', async () => {
  const created = await client.createChannel({
    id: channel,
    name: 'SDK check',
    description: 'made by Zooid\'s SDK',
    is_public: true,
    config: { strict_types: true, types: { note: { schema: noteSchema, description: 'a note' }, tick: { schema: { type: 'object' } } } },
  });
  assert.equal(created.id, channel);
  // Zooid answers {id, token}; channelhub answers the channel.
  if (created.token === undefined) return 'the create answer';
});

await check('listChannels', async () => {
  const listed = (await client.listChannels()).find((c) => c.id === channel);
  assert.ok(listed, 'the new channel is listed');
  assert.equal(listed.name, 'SDK check');
  assert.equal(listed.is_public, true);
  assert.equal(typeof listed.event_count, 'number');
});

await check('updateChannel', async () => {
  const updated = await client.updateChannel(channel, { description: 'updated', tags: ['a', 'b'] });
  assert.equal(updated.description, 'updated');
  assert.deepEqual(updated.tags, ['a', 'b']);
  assert.equal((await client.updateChannel(channel, { tags: null })).tags.length, 0);
});

let first;
await check('publish', async () => {
  first = await client.publish(channel, { type: 'note', data: { text: 'hi' }, meta: { source: 'sdk' } });
  assert.equal(first.channel_id, channel);
  assert.equal(first.type, 'note');
  assert.deepEqual(JSON.parse(first.meta), { source: 'sdk' });
  // The strict type is enforced, with the reason in ZooidError's message.
  await assert.rejects(
    client.publish(channel, { type: 'note', data: { text: 1 } }),
    (err) => err instanceof ZooidError && err.status === 400 && !/^HTTP /.test(err.message),
  );
  // Zooid returns data as a JSON-encoded string.
  if (typeof first.data !== 'string') {
    assert.deepEqual(first.data, { text: 'hi' });
    return 'data is the JSON value you published';
  }
});

await check('publishBatch', async () => {
  const events = await client.publishBatch(channel, [1, 2, 3].map((n) => ({ type: 'note', data: { text: `n${n}` } })));
  assert.deepEqual(events.map((e) => e.data.text ?? JSON.parse(e.data).text), ['n1', 'n2', 'n3']);
});

await check('poll', async () => {
  const page = await client.poll(channel, { limit: 2 });
  assert.equal(page.events.length, 2);
  assert.equal(page.has_more, true);
  const next = await client.poll(channel, { cursor: page.cursor, limit: 10 });
  assert.ok(next.events.length >= 2);
  assert.ok(next.events.every((e) => e.id > page.events[1].id), 'a cursor pages forward');
  const notes = await client.poll(channel, { type: 'note', since: '2000-01-01T00:00:00Z' });
  assert.equal(notes.events.length, 4);
  // Zooid's cursorless poll answers the newest events; channelhub's starts at the oldest.
  if (page.events[0].id === first.id) return 'cursorless polls start at the oldest event';
});

await check('tail', async () => {
  const page = await client.tail(channel, { limit: 1 });
  assert.equal(page.events.length, 1);
  const stream = client.tail(channel, { follow: true, mode: 'ws' });
  const seen = [];
  const reading = (async () => {
    for await (const event of stream) {
      seen.push(event);
      if (seen.length === 1) break;
    }
  })();
  await sleep(300);
  const live = await client.publish(channel, { type: 'note', data: { text: 'followed' } });
  await Promise.race([reading, sleep(5000)]);
  stream.close();
  assert.equal(seen[0]?.id, live.id, 'tail -f receives the live event');
  if (page.events[0].id === first.id) return 'cursorless polls start at the oldest event';
});

await check('subscribe', async () => {
  for (const mode of ['ws', 'auto']) {
    const got = [];
    const unsubscribe = await client.subscribe(channel, (event) => got.push(event), { mode, type: 'note' });
    await sleep(200);
    await client.publish(channel, { type: 'tick', data: { skipped: true } });
    const live = await client.publish(channel, { type: 'note', data: { text: mode } });
    await until(`the ${mode} subscription's event`, () => got.some((e) => e.id === live.id));
    unsubscribe();
    assert.ok(got.every((e) => e.type === 'note'), 'the type filter holds');
  }
});

let deleted;
await check('deleteEvent', async () => {
  deleted = await client.publish(channel, { type: 'note', data: { text: 'doomed' } });
  await client.deleteEvent(channel, deleted.id);
  const page = await client.poll(channel, { limit: 100 });
  assert.ok(!page.events.some((e) => e.id === deleted.id));
});

// A webhook receiver on loopback.
const deliveries = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    deliveries.push({ headers: req.headers, body });
    res.writeHead(200).end();
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

let webhook;
await check('registerWebhook', async () => {
  webhook = await client.registerWebhook(channel, hookUrl, { event_types: ['note'], ttl_seconds: 3600 });
  assert.equal(webhook.url, hookUrl);
  assert.equal(webhook.channel_id, channel);
  assert.ok(webhook.expires_at);
  const sent = await client.publish(channel, { type: 'note', data: { text: 'hooked' } });
  await until('the delivery', () => deliveries.some((d) => d.headers['x-zooid-event-id'] === sent.id), 10000);
});

await check('verifyWebhook', async () => {
  const delivery = deliveries[0];
  assert.ok(delivery, 'a delivery arrived');
  const options = {
    body: delivery.body,
    signature: delivery.headers['x-zooid-signature'],
    timestamp: delivery.headers['x-zooid-timestamp'],
    publicKey: discovery.public_key,
    maxAge: 300,
  };
  assert.equal(await verifyWebhook(options), true);
  assert.equal(await verifyWebhook({ ...options, body: delivery.body.replace('hooked', 'forged') }), false);
});

await check('removeWebhook', async () => {
  await client.removeWebhook(channel, webhook.id);
  const before = deliveries.length;
  await client.publish(channel, { type: 'note', data: { text: 'after removal' } });
  await sleep(1500);
  assert.equal(deliveries.length, before, 'no delivery after removal');
});

await check('getTokenClaims', async () => {
  const claims = await client.getTokenClaims();
  assert.deepEqual(claims.scopes, ['admin']);
});

await check('mintToken', async () => {
  const { token } = await client.mintToken({ scopes: [`pub:${channel}`, `sub:${channel}`], sub: 'agent-1', name: 'Agent One', expires_in: '1h' });
  const agent = new ZooidClient({ server, token });
  const claims = await agent.getTokenClaims();
  assert.deepEqual(claims.scopes, [`pub:${channel}`, `sub:${channel}`]);
  assert.equal(claims.sub, 'agent-1');
  assert.ok(claims.exp - claims.iat === 3600);
  const event = await agent.publish(channel, { type: 'note', data: { text: 'from a minted token' } });
  assert.equal(event.publisher_id, 'agent-1');
  await assert.rejects(agent.createChannel({ id: `no-${suffix}`, name: 'no' }), (err) => err.status === 403);
});

const kid = `sdk-key-${suffix}`;
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const x = publicKey.export({ format: 'jwk' }).x;
const keyJwt = () => eddsaJwt(privateKey, kid, {
  sub: 'keyed', scopes: [`sub:${channel}`], iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600,
});
await check('addKey', async () => {
  const key = await client.addKey({ kid, x, max_scopes: [`sub:${channel}`] });
  assert.equal(key.kid, kid);
  assert.equal(key.x, x);
  const holder = new ZooidClient({ server, token: keyJwt() });
  assert.deepEqual((await holder.getTokenClaims()).scopes, [`sub:${channel}`]);
});

await check('listKeys', async () => {
  const key = (await client.listKeys()).find((k) => k.kid === kid);
  assert.ok(key, 'the key is listed');
  assert.deepEqual(key.max_scopes, [`sub:${channel}`]);
});

await check('revokeKey', async () => {
  await client.revokeKey(kid);
  assert.ok(!(await client.listKeys()).some((k) => k.kid === kid));
  const holder = new ZooidClient({ server, token: keyJwt() });
  await assert.rejects(holder.getTokenClaims(), (err) => err.status === 401);
});

await check('getClaim', async () => {
  const { claim, signature } = await client.getClaim([channel]);
  const text = Buffer.from(claim, 'base64url');
  assert.deepEqual(JSON.parse(text.toString()).channels, [channel]);
  const key = await crypto.subtle.importKey('spki', Buffer.from(discovery.public_key, 'base64url'), 'Ed25519', false, ['verify']);
  assert.ok(await crypto.subtle.verify('Ed25519', key, Buffer.from(signature, 'base64url'), text));
});

await check('listRoles', async () => {
  const roles = await client.listRoles();
  assert.ok(Array.isArray(roles));
});

await check('deleteChannel', async () => {
  await client.deleteChannel(channel);
  await assert.rejects(client.poll(channel), (err) => err.status === 404);
});

receiver.close();
const width = Math.max(...results.map((r) => r.name.length));
for (const r of results) {
  console.log(`${r.name.padEnd(width)}  ${r.verdict}${r.note ? `: ${r.note}` : ''}`);
}
const working = results.filter((r) => r.verdict !== 'FAILS').length;
console.log(`\n${working} of ${results.length} SDK functions work (${results.filter((r) => r.verdict === 'works').length} as against Zooid's server, the rest with a difference the README names)`);
process.exit(results.length === 23 && working >= 19 ? 0 : 1);
