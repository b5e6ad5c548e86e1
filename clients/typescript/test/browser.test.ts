// The client inside headless Chromium, on the console page's origin: the
// browser's own fetch, WebSocket and WebCrypto, no `ws`. Chromium is driven
// over the DevTools protocol with the `ws` package, so no browser download
// and no driver are needed; without /usr/bin/chromium the test says it is
// skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { TestServer, channelId, waitFor, within } from './server.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

let server: TestServer;
let files: Server;
let browser: ChildProcess | undefined;
let profile: string;

before(async () => {
  if (!existsSync(CHROMIUM)) return;
  server = await TestServer.start();
  // The built package, served cross-origin as the page would load it from a CDN.
  files = createServer((request, response) => {
    const path = join(DIST, (request.url ?? '/').replace(/\.\./g, ''));
    if (!existsSync(path)) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' }).end(readFileSync(path));
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  // Browser.close has asked it to quit; whatever is left of its own process group goes.
  if (browser && browser.exitCode === null && browser.pid) {
    await within(5_000, 'chromium quit', new Promise((resolve) => browser!.once('exit', resolve))).catch(() => process.kill(-browser!.pid!, 'SIGKILL'));
  }
  if (profile) rmSync(profile, { recursive: true, force: true });
  await new Promise((resolve) => (files ? files.close(resolve) : resolve(undefined)));
  await server?.close();
});

/** A DevTools session on one page: `evaluate` runs an expression there and answers its value. */
async function openPage(url: string): Promise<{ evaluate: (expression: string) => Promise<unknown>; close: () => void }> {
  profile = mkdtempSync(join(tmpdir(), 'channelhub-chromium-'));
  const child = spawn(CHROMIUM, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  browser = child;
  let stderr = '';
  const endpoint = await within(30_000, `chromium did not start its DevTools endpoint: ${stderr}`, new Promise<string>((resolve) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const found = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (found) resolve(found[1]);
    });
  }));
  const socket = new WebSocket(endpoint);
  await within(10_000, 'the DevTools socket opened', new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); }));
  let next = 0;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString());
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(JSON.stringify(message.error)));
    else waiter.resolve(message.result);
  });
  const send = (method: string, params: object = {}, sessionId?: string) =>
    within(30_000, `DevTools ${method} answered`, new Promise<any>((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params, sessionId }));
    }));
  const { targetId } = await send('Target.createTarget', { url });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  const evaluate = async (expression: string) => {
    const result = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId);
    if (result.exceptionDetails) throw new Error(`in the page: ${JSON.stringify(result.exceptionDetails)}`);
    return result.result.value;
  };
  // The first evaluations may meet about:blank being replaced by the page.
  await waitFor(15_000, 'the console page loaded', async () =>
    (await evaluate('location.href + " " + document.readyState').catch(() => '')) === `${url} complete`);
  return { evaluate, close: () => socket.send(JSON.stringify({ id: ++next, method: 'Browser.close' })) };
}

test('in headless Chromium on the console origin: subscribe across a restart, REST, and verifyWebhook with WebCrypto', async (t) => {
  if (!existsSync(CHROMIUM)) {
    console.log(`SKIPPED browser test: ${CHROMIUM} is not installed (apt-get install chromium)`);
    t.skip(`${CHROMIUM} is not installed`);
    return;
  }
  const admin = server.client();
  const id = channelId('browser');
  await admin.createChannel({ id });
  const first = await admin.publish(id, { type: 'n', data: 0 });
  const { port } = files.address() as { port: number };
  const page = await openPage(`${server.url}/`);
  try {
    const module = `http://127.0.0.1:${port}/index.js`;
    assert.equal(await page.evaluate(`(async () => {
      const { Channelhub } = await import(${JSON.stringify(module)});
      const client = new Channelhub({ url: location.origin });
      window.received = [];
      window.subscription = client.subscribe(${JSON.stringify(id)}, {
        after: ${JSON.stringify(first.id)},
        backoff: { initialMs: 20, maxMs: 300 },
        onEvent: (event) => { window.received.push(event.id); },
      });
      return (await client.getChannel(${JSON.stringify(id)})).id;
    })()`), id, 'REST from the page');

    const published = await admin.publishBatch(id, Array.from({ length: 30 }, (_, n) => ({ type: 'n', data: n + 1 })));
    await waitFor(15_000, 'the page received the first events', async () => (await page.evaluate('window.received.length')) === 30);
    await server.restart();
    published.push(...(await admin.publishBatch(id, Array.from({ length: 30 }, (_, n) => ({ type: 'n', data: n + 31 })))));
    await waitFor(20_000, 'the page received every event after the restart', async () => Number(await page.evaluate('window.received.length')) >= 60);
    assert.deepEqual(await page.evaluate('window.received'), published.map((e) => e.id), 'every event once, in order');
    await page.evaluate('window.subscription.close(), window.subscription.done');

    // WebCrypto in the browser: HMAC and Ed25519 signatures made here in Node.
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const publicKey = `whpk_${Buffer.from(await crypto.subtle.exportKey('raw', pair.publicKey)).toString('base64')}`;
    const secretBytes = crypto.getRandomValues(new Uint8Array(24));
    const secret = `whsec_${Buffer.from(secretBytes).toString('base64')}`;
    const body = JSON.stringify(first);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signed = new TextEncoder().encode(`${first.id}.${timestamp}.${body}`);
    const hmac = await crypto.subtle.sign('HMAC', await crypto.subtle.importKey('raw', secretBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']), signed);
    const ed = await crypto.subtle.sign('Ed25519', pair.privateKey, signed);
    const headers = {
      'webhook-id': first.id,
      'webhook-timestamp': timestamp,
      'webhook-signature': `v1,${Buffer.from(hmac).toString('base64')} v1a,${Buffer.from(ed).toString('base64')}`,
    };
    const verify = (options: object, text = body) => page.evaluate(`(async () => {
      const { verifyWebhook } = await import(${JSON.stringify(module)});
      try {
        return (await verifyWebhook(${JSON.stringify(headers)}, ${JSON.stringify(text)}, ${JSON.stringify(options)})).id;
      } catch (error) {
        return error.name;
      }
    })()`);
    assert.equal(await verify({ secret }), first.id, 'HMAC verifies in the browser');
    assert.equal(await verify({ publicKey }), first.id, 'Ed25519 verifies in the browser');
    assert.equal(await verify({ secret, publicKey }, body.replace('"data":0', '"data":1')), 'WebhookVerificationError', 'a tampered body fails');
  } finally {
    page.close();
  }
});
