// Every operation of the OpenAPI document, through the typed client, against
// the real server; and errors as typed problem documents.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelhubError, OPERATIONS, type Channelhub } from 'channelhub';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import WebSocket from 'ws';
import { TestServer, channelId, within } from './server.js';

let server: TestServer;
before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.close();
});

/** The client, recording which of its methods a test called. */
function recording(client: Channelhub, called: Set<string>): Channelhub {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        called.add(String(property));
        return value.apply(target, args);
      };
    },
  });
}

test('every REST operation of the OpenAPI document works against the server', async () => {
  const called = new Set<string>();
  const admin = recording(server.client(), called);
  const id = channelId('rest');

  const created = await admin.createChannel({ id, name: 'REST', tags: ['t'], is_public: false });
  assert.equal(created.id, id);
  assert.equal(created.is_public, false);
  const page = await admin.listChannels({ limit: 1000 });
  assert.ok(page.channels.some((c) => c.id === id));
  assert.equal((await admin.getChannel(id)).name, 'REST');
  assert.equal((await admin.updateChannel(id, { description: 'changed' })).description, 'changed');

  const subscribeToken = await admin.createToken(id, { kind: 'subscribe', name: 'reader' });
  const publishToken = await admin.createToken(id, { kind: 'publish', publisher_id: 'agent-1' });
  assert.match(subscribeToken.token, /^chs_/);
  const tokens = await admin.listTokens(id);
  assert.deepEqual(tokens.map((t) => t.id).sort(), [subscribeToken.id, publishToken.id].sort());
  assert.ok(tokens.every((t) => !('token' in t)), 'listed tokens carry no secret');

  const publisher = recording(server.client({ token: publishToken.token }), called);
  assert.deepEqual(await publisher.validateEvents(id, { events: [{ type: 'a', data: 0 }, { type: 'b', data: 0 }] }), { valid: true, events: 2 });
  const one = await publisher.publish(id, { type: 'a', data: { n: 1 } });
  assert.equal(one.publisher_id, 'agent-1');
  const batch = await publisher.publishBatch(id, [{ type: 'b', data: 2 }, { type: 'a', data: 3 }]);
  assert.deepEqual(batch.map((e) => e.data), [2, 3]);

  const reader = recording(server.client({ token: subscribeToken.token }), called);
  const polled = await reader.pollEvents(id, { type: 'a', limit: 10 });
  assert.deepEqual(polled.events.map((e) => e.data), [{ n: 1 }, 3]);
  assert.deepEqual(await reader.getEvent(id, one.id), one);
  const feed = await reader.feed(id);
  assert.equal(feed.items[0]._channelhub.id, batch[1].id, 'the feed is newest first');
  assert.match(await reader.rss(id), /<rss/);

  // The SSE stream: its URL replays after `after`, then stays open.
  const abort = new AbortController();
  const stream = await fetch(reader.streamUrl(id, { after: one.id, token: subscribeToken.token }), { signal: abort.signal });
  assert.equal(stream.status, 200);
  const decoder = new TextDecoder();
  let text = '';
  const chunks = stream.body!.getReader();
  await within(10_000, 'the SSE stream sent the replayed events', (async () => {
    while (!text.includes(batch[1].id)) text += decoder.decode((await chunks.read()).value);
  })());
  abort.abort();
  assert.ok(text.indexOf(batch[0].id) < text.indexOf(batch[1].id));

  // The WebSocket route, through subscribe.
  const seen: string[] = [];
  const sub = reader.subscribe(id, { after: one.id, onEvent: (e) => { seen.push(e.id); } });
  await within(10_000, 'the WebSocket subscription replayed two events', (async () => {
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 20));
  })());
  sub.close();
  await sub.done;
  assert.deepEqual(seen, [batch[0].id, batch[1].id]);

  // The multiplexed socket: the token as its connection credential, then a
  // subscribe frame replays the channel after `one` and says caught_up.
  const frames: any[] = [];
  const mux = new WebSocket(reader.multiplexedUrl({ token: subscribeToken.token }));
  mux.on('message', (data) => frames.push(JSON.parse(data.toString())));
  await within(10_000, 'the multiplexed socket said hello', (async () => {
    while (frames.length < 1) await new Promise((r) => setTimeout(r, 20));
  })());
  assert.equal(frames[0].hello.credential.kind, 'token');
  mux.send(JSON.stringify({ subscribe: { ref: 's1', channel: id, after: one.id } }));
  await within(10_000, 'the multiplexed socket caught up', (async () => {
    while (!frames.some((f) => f.caught_up)) await new Promise((r) => setTimeout(r, 20));
  })());
  mux.close();
  assert.deepEqual(frames.slice(1).map((f) => f.id ?? Object.keys(f)[0]), ['subscribed', batch[0].id, batch[1].id, 'caught_up']);
  assert.equal(frames[1].subscribed.ref, 's1');

  const hook = await reader.registerWebhook(id, { url: 'http://127.0.0.1:9/hook', event_types: ['a'] });
  assert.ok('secret' in hook && hook.secret.startsWith('whsec_'), 'a new webhook shows its secret');
  const again = await reader.registerWebhook(id, { url: 'http://127.0.0.1:9/hook' });
  assert.equal(again.id, hook.id, 're-registering answers the same webhook');
  assert.ok(!('secret' in again), 'and does not show the secret again');
  assert.deepEqual((await admin.listWebhooks(id)).map((w) => w.id), [hook.id]);
  assert.ok(Array.isArray(await admin.listDeliveries(id, hook.id)));
  await admin.deleteWebhook(id, hook.id);
  assert.deepEqual(await admin.listWebhooks(id), []);

  // JWTs minted by an independent library (jose), signed by a key the admin
  // trusts in Zooid's shape (kid + Ed25519 x), under a scope ceiling.
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = `key-${id}`;
  const key = await admin.addKey({ kid, kty: 'OKP', crv: 'Ed25519', x: (await exportJWK(publicKey)).x!, max_scopes: [`sub:${id}`, `pub:${id}`] });
  assert.equal(key.alg, 'EdDSA');
  assert.ok((await admin.listKeys()).keys.some((k) => k.kid === kid && k.max_scopes?.length === 2));
  const jwt = await new SignJWT({ scopes: [`sub:${id}`, `pub:${id}`], name: 'Ada' })
    .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
    .setSubject('ada').setJti(`jti-${id}`).setIssuedAt().setExpirationTime('10m')
    .sign(privateKey);
  const status = await admin.clusterStatus();
  assert.ok(status.database_ready && status.nodes.some((n) => n.this_node && n.state === 'up'));
  const holder = recording(server.client({ token: jwt }), called);
  const who = await holder.whoami();
  assert.equal(who.kind, 'jwt');
  assert.equal(who.subject, 'ada');
  assert.deepEqual(who.scopes, [`sub:${id}`, `pub:${id}`]);
  const byJwt = await holder.publish(id, { type: 'a', data: 'from a JWT' });
  assert.equal(byJwt.publisher_id, 'ada');
  assert.equal(byJwt.publisher_name, 'Ada');
  assert.ok((await holder.pollEvents(id)).events.some((e) => e.id === byJwt.id), 'sub: reads the private channel');
  const revocation = await admin.revokeJwt({ jti: `jti-${id}` });
  await assert.rejects(holder.whoami(), (e: unknown) => e instanceof ChannelhubError && e.status === 401 && /revoked/.test(e.detail));
  assert.ok((await admin.listRevocations()).some((r) => r.id === revocation.id && r.jti === `jti-${id}`));
  await admin.deleteRevocation(revocation.id);
  assert.equal((await holder.whoami()).kind, 'jwt', 'a removed revocation lets the token in again');
  const claims = await holder.tokenClaims();
  assert.deepEqual(claims.scopes, [`sub:${id}`, `pub:${id}`]);
  assert.equal(claims.sub, 'ada');
  assert.equal(typeof claims.exp, 'number');
  assert.equal((await admin.serverMeta()).name, 'channelhub');
  const profile = await admin.updateServerMeta({ name: 'Test hub', description: 'for tests', tags: ['t'] });
  assert.deepEqual([profile.name, profile.description, profile.tags], ['Test hub', 'for tests', ['t']]);
  assert.equal((await admin.serverMeta()).description, 'for tests');
  assert.equal((await admin.updateServerMeta({ description: null })).description, null, 'null clears');
  await assert.rejects(holder.updateServerMeta({ name: 'x' }), (e: unknown) => e instanceof ChannelhubError && e.status === 403);
  // A directory claim verifies with the key /.well-known/zooid.json publishes.
  const signed = await admin.directoryClaim({ channels: [id] });
  const claimText = Buffer.from(signed.claim, 'base64url');
  assert.deepEqual(JSON.parse(claimText.toString()).channels, [id]);
  const discovery = (await (await fetch(`${server.url}/.well-known/zooid.json`)).json()) as { public_key: string; server_name: string };
  assert.equal(discovery.server_name, 'Test hub');
  const serverKey = await crypto.subtle.importKey('spki', Buffer.from(discovery.public_key, 'base64url'), 'Ed25519', false, ['verify']);
  assert.ok(await crypto.subtle.verify('Ed25519', serverKey, Buffer.from(signed.signature, 'base64url'), claimText));
  await assert.rejects(admin.directoryClaim({ channels: ['no-such-channel'] }), (e: unknown) => e instanceof ChannelhubError && e.status === 400 && /no-such-channel/.test(e.detail));
  // The test server has no --jwt-secret: minting is a documented 404.
  await assert.rejects(admin.mintToken({ scopes: [`sub:${id}`] }), (e: unknown) => e instanceof ChannelhubError && e.status === 404);
  assert.deepEqual(await admin.removeKey(kid), { ok: true });
  await assert.rejects(holder.whoami(), (e: unknown) => e instanceof ChannelhubError && e.status === 401);

  await publisher.deleteEvent(id, one.id);
  await assert.rejects(reader.getEvent(id, one.id), (e: unknown) => e instanceof ChannelhubError && e.status === 404);
  await admin.revokeToken(id, publishToken.id);
  await assert.rejects(publisher.publish(id, { data: 1 }), (e: unknown) => e instanceof ChannelhubError && e.status === 401);
  await admin.deleteChannel(id);
  await assert.rejects(admin.getChannel(id), (e: unknown) => e instanceof ChannelhubError && e.status === 404);

  const info = await admin.serverInfo();
  assert.match(info.webhook_public_key, /^whpk_/);
  assert.ok(Array.isArray(info.jwt.algorithms));
  await admin.ready();

  const missing = Object.entries(OPERATIONS).filter(([, method]) => !called.has(method));
  assert.deepEqual(missing, [], 'every operation was exercised');
});

test('errors are typed problem documents', async () => {
  const anonymous = server.client({ token: null });
  const error = await anonymous.createChannel({ id: channelId('nope') }).then(
    () => assert.fail('creating a channel without a token succeeded'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ChannelhubError);
  assert.equal(error.status, 401);
  assert.equal(typeof error.title, 'string');
  assert.equal(typeof error.type, 'string');
  assert.ok(error.detail.length > 0);

  const admin = server.client();
  const bad = await admin.createChannel({ id: 'X' }).catch((e: unknown) => e);
  assert.ok(bad instanceof ChannelhubError && bad.status === 400, 'an invalid id is a 400 problem');
  const id = channelId('dup');
  await admin.createChannel({ id });
  const taken = await admin.createChannel({ id }).catch((e: unknown) => e);
  assert.ok(taken instanceof ChannelhubError && taken.status === 409, 'a taken id is a 409 problem');
});
