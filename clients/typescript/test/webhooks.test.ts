// verifyWebhook against deliveries the real server makes to a local receiver.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { verifyWebhook, WebhookVerificationError, type Event } from 'channelhub';
import { TestServer, channelId, waitFor } from './server.js';

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

let server: TestServer;
let receiver: Server;
const deliveries: Delivery[] = [];

before(async () => {
  server = await TestServer.start();
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      deliveries.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  await new Promise((resolve) => receiver?.close(resolve));
  await server?.close();
});

async function otherPublicKey(): Promise<string> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return `whpk_${Buffer.from(raw).toString('base64')}`;
}

async function refused(promise: Promise<unknown>, why: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => e instanceof WebhookVerificationError, why);
}

test('deliveries from the server verify with the secret (v1) and the public key (v1a); tampering does not', async () => {
  const admin = server.client();
  const id = channelId('hooks');
  await admin.createChannel({ id });
  const { port } = receiver.address() as { port: number };
  const hook = await admin.registerWebhook(id, { url: `http://127.0.0.1:${port}/hook` });
  assert.ok('secret' in hook);
  const secret = hook.secret;
  const publicKey = (await admin.serverInfo()).webhook_public_key;

  const published = await admin.publishBatch(id, [{ type: 'a', data: { n: 1 } }, { type: 'b', data: 'two' }, { data: null }]);
  await waitFor(20_000, 'the server delivered three events to the receiver', () => deliveries.length >= 3);

  const verified: Event[] = [];
  for (const { headers, body } of deliveries) {
    const bySecret = await verifyWebhook(headers, body, { secret });
    const byKey = await verifyWebhook(headers, new TextEncoder().encode(body), { publicKey });
    assert.deepEqual(byKey, bySecret);
    assert.equal(bySecret.id, headers['webhook-id'], 'webhook-id is the event id');
    // A Fetch API Headers object works too (Workers, Deno, Next.js).
    await verifyWebhook(new Headers(headers as Record<string, string>), body, { secret, publicKey });
    verified.push(bySecret);
  }
  assert.deepEqual(verified.map((e) => e.id), published.map((e) => e.id));

  const { headers, body } = deliveries[0];
  const tampered = body.replace('"n":1', '"n":2');
  assert.notEqual(tampered, body);
  await refused(verifyWebhook(headers, tampered, { secret }), 'a tampered body fails the HMAC');
  await refused(verifyWebhook(headers, tampered, { publicKey }), 'a tampered body fails Ed25519');
  await refused(verifyWebhook({ ...headers, 'webhook-id': published[1].id }, body, { secret }), 'another id fails');

  const wrongSecret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64')}`;
  await refused(verifyWebhook(headers, body, { secret: wrongSecret }), 'a wrong secret fails');
  await refused(verifyWebhook(headers, body, { publicKey: await otherPublicKey() }), 'a wrong public key fails');

  const sent = Number(headers['webhook-timestamp']) * 1000;
  await verifyWebhook(headers, body, { secret, now: sent + 299_000 }); // inside the default 300 s
  await refused(verifyWebhook(headers, body, { secret, now: sent + 301_000 }), 'a stale timestamp fails');
  await refused(verifyWebhook(headers, body, { secret, now: sent - 301_000 }), 'a timestamp from the future fails');
  await refused(verifyWebhook(headers, body, { secret, now: sent + 11_000, toleranceSeconds: 10 }), 'toleranceSeconds is honoured');
  const { ['webhook-signature']: _, ...unsigned } = headers;
  await refused(verifyWebhook(unsigned, body, { secret }), 'a delivery without a signature fails');
});

// Zooid's `verifyWebhook` (its SDK's verify.ts), step for step with WebCrypto:
// the SPKI key from /.well-known/zooid.json, Ed25519 over `${timestamp}.${body}`.
test("deliveries carry Zooid's headers, which verify as Zooid's verifyWebhook checks them", async () => {
  await waitFor(20_000, 'a delivery arrived', () => deliveries.length >= 1);
  const discovery = (await (await fetch(`${server.client().baseUrl}/.well-known/zooid.json`)).json()) as {
    public_key: string; public_key_format: string; algorithm: string;
  };
  assert.equal(discovery.public_key_format, 'spki');
  assert.equal(discovery.algorithm, 'Ed25519');
  const key = await crypto.subtle.importKey('spki', Buffer.from(discovery.public_key, 'base64url'), 'Ed25519', false, ['verify']);
  const { headers, body } = deliveries[0];
  const timestamp = String(headers['x-zooid-timestamp']);
  assert.ok(Math.abs(Date.now() - Date.parse(timestamp)) < 300_000, 'fresh, as maxAge: 300 wants');
  const signature = Buffer.from(String(headers['x-zooid-signature']), 'base64');
  const message = (text: string) => new TextEncoder().encode(`${timestamp}.${text}`);
  assert.ok(await crypto.subtle.verify('Ed25519', key, signature, message(body)), 'the signature verifies');
  assert.ok(!(await crypto.subtle.verify('Ed25519', key, signature, message(body.replace('"n":1', '"n":2')))), 'tampering fails');
  assert.equal(headers['x-zooid-event-id'], headers['webhook-id']);
  assert.ok(String(headers['x-zooid-channel']).length > 0);
});
