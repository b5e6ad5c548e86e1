// Subscriptions against the real server: every event once and in order
// across a restart, a forced disconnect mid-burst and a slow-consumer close;
// long-polling; and the closes that end a subscription.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Channelhub, ChannelhubError, classifyClose, type Event, type Gap, type SubscribeOptions, type Subscription, type WebSocketConstructor } from 'channelhub';
import { ADMIN_TOKEN, TestServer, channelId, waitFor, within } from './server.js';

const FAST = { initialMs: 20, maxMs: 300 };

let server: TestServer;
before(async () => {
  // A small queue bound, so that a paused reader trips it quickly.
  server = await TestServer.start(['--subscriber-queue-frames', '200', '--subscriber-queue-bytes', '262144', '--retention-interval', '0.2']);
});
/** Every subscription a test opened: closed after it, even when it failed half-way. */
const opened: Subscription[] = [];
afterEach(async () => {
  for (const subscription of opened.splice(0)) subscription.close();
});
after(async () => {
  await server?.close();
});

/** A `ws` WebSocket that the test can reach: to cut it, or to stop reading from it. */
class TrackedWebSocket extends WebSocket {
  static all: TrackedWebSocket[] = [];
  constructor(url: string) {
    super(url);
    TrackedWebSocket.all.push(this);
  }
  static last(): TrackedWebSocket {
    return TrackedWebSocket.all[TrackedWebSocket.all.length - 1];
  }
}
const Tracked = TrackedWebSocket as unknown as WebSocketConstructor;

/** A subscriber that records everything it is told. */
function record(client: Channelhub, channel: string, options: Omit<SubscribeOptions, 'onEvent' | 'onError' | 'onOpen'> = {}) {
  const events: Event[] = [];
  const errors: { error: Error; fatal: boolean }[] = [];
  const opens: string[] = [];
  const subscription: Subscription = client.subscribe(channel, {
    backoff: FAST,
    ...options,
    onEvent: (e) => { events.push(e); },
    onError: (error, { fatal }) => { errors.push({ error, fatal }); },
    onOpen: (transport) => { opens.push(transport); },
  });
  opened.push(subscription);
  return { events, errors, opens, subscription };
}

function assertExactly(received: Event[], published: Event[]): void {
  const ids = received.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'no event was delivered twice');
  assert.deepEqual(ids, published.map((e) => e.id), 'every event arrived, in publish order');
}

function numbered(from: number, count: number, bytes = 0) {
  return Array.from({ length: count }, (_, i) => ({ type: 'n', data: { n: from + i, pad: 'x'.repeat(bytes) } }));
}

test('closes are told apart by code and reason', () => {
  assert.equal(classifyClose(1008, 'slow consumer: too far behind, reconnect and catch up'), 'resume');
  assert.equal(classifyClose(1008, 'token revoked'), 'fatal');
  assert.equal(classifyClose(1000, 'channel deleted'), 'fatal');
  // The application codes the client asks for.
  assert.equal(classifyClose(4000, ''), 'resume');
  for (const code of [4001, 4002, 4003, 4004]) assert.equal(classifyClose(code, ''), 'fatal');
  assert.equal(classifyClose(4011, ''), 'retry');
  assert.equal(classifyClose(1001, 'server shutting down'), 'retry');
  assert.equal(classifyClose(1006, ''), 'retry');
  assert.equal(classifyClose(4000, ''), 'resume');
  assert.equal(classifyClose(4001, ''), 'fatal');
});

test('every event once, in order, across a server restart', async () => {
  const admin = server.client();
  const id = channelId('restart');
  await admin.createChannel({ id });
  const published = await admin.publishBatch(id, numbered(0, 5));
  const sub = record(server.client({ WebSocket: Tracked }), id, { after: published[0].id });
  await waitFor(10_000, 'the replay before the restart', () => sub.events.length === 4);

  published.push(...(await admin.publishBatch(id, numbered(5, 50))));
  await server.restart();
  published.push(...(await admin.publishBatch(id, numbered(55, 50))));

  await waitFor(20_000, 'every event after the restart', () => sub.events.length >= published.length - 1);
  sub.subscription.close();
  await within(5_000, 'the subscription closed', sub.subscription.done);
  assertExactly(sub.events, published.slice(1));
  assert.ok(sub.errors.some(({ error }) => error instanceof ChannelhubError && error.closeCode === 1001), 'the shutdown close (1001) was seen');
  assert.ok(sub.opens.length >= 2, 'it reconnected');
  assert.ok(sub.errors.every(({ fatal }) => !fatal));
});

test('every event once, in order, across a forced disconnect in the middle of a burst', async () => {
  const admin = server.client();
  const id = channelId('burst');
  await admin.createChannel({ id });
  const sub = record(server.client({ WebSocket: Tracked }), id);
  await waitFor(10_000, 'the subscriber connected', () => sub.opens.length === 1);

  const published: Event[] = [];
  let cut = false;
  for (let batch = 0; batch < 10; batch++) {
    published.push(...(await admin.publishBatch(id, numbered(batch * 100, 100))));
    if (!cut && sub.events.length > 0 && batch >= 3) {
      TrackedWebSocket.last().terminate(); // drops the TCP connection: no close frame
      cut = true;
    }
  }
  assert.ok(cut, 'the socket was cut mid-burst');
  await waitFor(20_000, 'every event of the burst', () => sub.events.length >= published.length);
  sub.subscription.close();
  await sub.subscription.done;
  assertExactly(sub.events, published);
  assert.ok(sub.opens.length >= 2, 'it reconnected');
});

test('a slow consumer is closed (4000) and resumes where it was', async () => {
  const admin = server.client();
  const id = channelId('slow');
  await admin.createChannel({ id });
  const slowBefore = await server.metric('channelhub_slow_consumer_disconnects_total');
  const sub = record(server.client({ WebSocket: Tracked }), id);
  await waitFor(10_000, 'the subscriber connected', () => sub.opens.length === 1);
  const socket = TrackedWebSocket.last();
  socket.pause(); // stop reading: the server's queue for this socket fills up

  // 600 events of 16 KiB (in requests under the 1 MiB body limit): far more
  // than the socket buffers and the 256 KiB bound.
  const published: Event[] = [];
  for (let batch = 0; batch < 12; batch++) published.push(...(await admin.publishBatch(id, numbered(batch * 50, 50, 16 * 1024))));
  await waitFor(15_000, 'the server closed the slow consumer', async () =>
    (await server.metric('channelhub_slow_consumer_disconnects_total')) > slowBefore);
  socket.resume();

  await waitFor(20_000, 'every event after the resume', () => sub.events.length >= published.length);
  sub.subscription.close();
  await sub.subscription.done;
  assertExactly(sub.events, published);
  const slow = sub.errors.find(({ error }) => error instanceof ChannelhubError && error.closeCode === 4000);
  assert.ok(slow, 'the slow-consumer close (4000) reached the client');
  assert.equal(slow.fatal, false, 'and did not end the subscription');
  assert.ok(sub.opens.length >= 2, 'it reconnected');
});

test('mode poll follows the channel by long-polling', async () => {
  const admin = server.client();
  const id = channelId('poll');
  await admin.createChannel({ id });
  const sub = record(server.client({ WebSocket: undefined }), id, { mode: 'poll', pollWait: 5 });
  await waitFor(10_000, 'the first poll answered', () => sub.opens.length === 1);
  const published = await admin.publishBatch(id, numbered(0, 150));
  published.push(await admin.publish(id, { type: 'n', data: 150 }));
  await waitFor(15_000, 'every event by long-polling', () => sub.events.length >= published.length);
  sub.subscription.close();
  await within(5_000, 'close ends a pending long-poll', sub.subscription.done);
  assertExactly(sub.events, published);
  assert.deepEqual(sub.opens, ['poll']);
});

test('mode auto falls back to long-polling when WebSockets cannot connect', async () => {
  const admin = server.client();
  const id = channelId('fallback');
  await admin.createChannel({ id });
  const before = await admin.publish(id, { data: 'before' });
  // Something in between eats WebSockets: every handshake goes to a closed port.
  class Blocked extends WebSocket {
    constructor(url: string) {
      super(url.replace(`:${server.port}/`, ':1/'));
    }
  }
  const sub = record(server.client({ WebSocket: Blocked as unknown as WebSocketConstructor }), id);
  await waitFor(10_000, 'the fallback to polling', () => sub.opens.includes('poll'));
  const published = await admin.publishBatch(id, numbered(0, 20));
  await waitFor(15_000, 'every event by the fallback', () => sub.events.length >= published.length);
  sub.subscription.close();
  await sub.subscription.done;
  assertExactly(sub.events, published);
  assert.ok(!sub.events.some((e) => e.id === before.id), 'it started at the newest event, as a WebSocket would');
  assert.ok(!sub.opens.includes('ws'));
});

test('for await over events, and leaving the loop closes the subscription', async () => {
  const admin = server.client();
  const id = channelId('iter');
  await admin.createChannel({ id });
  const published = await admin.publishBatch(id, numbered(0, 10));
  const received: Event[] = [];
  await within(10_000, 'the iterator yielded five events', (async () => {
    for await (const event of server.client().events(id, { after: published[0].id, backoff: FAST })) {
      received.push(event);
      if (received.length === 5) break;
    }
  })());
  assertExactly(received, published.slice(1, 6));
  await waitFor(10_000, 'the socket was closed after the loop', async () => (await admin.getChannel(id)).subscribers === 0);
});

test('channel deleted, token revoked and channel made private end the subscription with an error', async () => {
  const admin = server.client();

  const deleted = channelId('deleted');
  await admin.createChannel({ id: deleted });
  const onDeleted = record(server.client(), deleted);
  await waitFor(10_000, 'connected', () => onDeleted.opens.length === 1);
  await admin.deleteChannel(deleted);
  const deletedError = await within(10_000, 'deletion ended the subscription', onDeleted.subscription.done.then(() => undefined, (e: unknown) => e));
  assert.ok(deletedError instanceof ChannelhubError && deletedError.closeCode === 4004, `deletion: ${deletedError}`);

  const revoked = channelId('revoked');
  await admin.createChannel({ id: revoked, is_public: false });
  const token = await admin.createToken(revoked, { kind: 'subscribe' });
  const onRevoked = record(server.client({ token: token.token }), revoked);
  await waitFor(10_000, 'connected with a token', () => onRevoked.opens.length === 1);
  await admin.revokeToken(revoked, token.id);
  const revokedError = await within(10_000, 'revocation ended the subscription', onRevoked.subscription.done.then(() => undefined, (e: unknown) => e));
  assert.ok(revokedError instanceof ChannelhubError && revokedError.closeCode === 4001, `revocation: ${revokedError}`);
  assert.ok(onRevoked.errors.some(({ fatal }) => fatal), 'onError was told it is fatal');

  const madePrivate = channelId('private');
  await admin.createChannel({ id: madePrivate });
  const onPrivate = record(server.client({ token: null }), madePrivate);
  await waitFor(10_000, 'connected anonymously', () => onPrivate.opens.length === 1);
  await admin.updateChannel(madePrivate, { is_public: false });
  const privateError = await within(10_000, 'going private ended the subscription', onPrivate.subscription.done.then(() => undefined, (e: unknown) => e));
  assert.ok(privateError instanceof ChannelhubError && privateError.closeCode === 4002, `made private: ${privateError}`);

  // Subscribing to a channel that does not exist fails with the HTTP problem.
  const missing = record(server.client(), channelId('missing'));
  const missingError = await within(10_000, 'an unknown channel ended the subscription', missing.subscription.done.then(() => undefined, (e: unknown) => e));
  assert.ok(missingError instanceof ChannelhubError && missingError.status === 404, `unknown channel: ${missingError}`);
});

test('a slow for-await loop holds the subscription back instead of buffering without bound', async () => {
  const admin = server.client();
  const id = channelId('iterslow');
  await admin.createChannel({ id });
  const published: Event[] = [];
  for (let batch = 0; batch < 25; batch++) published.push(...(await admin.publishBatch(id, numbered(batch * 100, 100))));
  let polls = 0;
  const counting: typeof fetch = (input, init) => {
    if (String(input).includes('/events')) polls++;
    return fetch(input, init);
  };
  const client = new Channelhub({ url: server.url, token: ADMIN_TOKEN, fetch: counting });
  const received: Event[] = [];
  let pollsWhileBehind = -1;
  await within(30_000, 'the loop saw every event', (async () => {
    for await (const event of client.events(id, { mode: 'poll', after: published[0].id, pollWait: 1 })) {
      received.push(event);
      if (received.length === 100) {
        // A slow body: given time, an unbounded buffer would fetch every page now.
        await new Promise((r) => setTimeout(r, 300));
        pollsWhileBehind = polls;
      }
      if (received.length === published.length - 1) break;
    }
  })());
  assertExactly(received, published.slice(1));
  // Unbounded, all three pages and the long-poll after them (4 requests)
  // would have gone out during the pause; bounded, the buffer fills (1000
  // events) within the first two pages and the next request waits.
  assert.ok(pollsWhileBehind >= 1 && pollsWhileBehind <= 2, `${pollsWhileBehind} polls while the loop was behind`);
});

test('without after, on an empty channel: events published before the socket opened, or while it was down, are not lost', async () => {
  const admin = server.client();
  const id = channelId('empty');
  await admin.createChannel({ id });

  // Events published after the client last read the store (the feed, then
  // one page of the empty channel) and before its WebSocket opened reach it
  // from the store, before the first live event.
  const published: Event[] = [];
  let raced = false;
  const racing: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (!raced && /\/events(\?|$)/.test(String(input))) {
      raced = true;
      published.push(...(await admin.publishBatch(id, numbered(0, 3))));
    }
    return response;
  };
  const client = new Channelhub({ url: server.url, token: ADMIN_TOKEN, fetch: racing, WebSocket: Tracked });
  const sub = record(client, id, { backoff: { initialMs: 400, maxMs: 400 } });
  await waitFor(10_000, 'the subscriber connected', () => sub.opens.length === 1);
  assert.equal(published.length, 3, 'three events were published in the window');
  published.push(await admin.publish(id, { type: 'n', data: 3 }));
  await waitFor(10_000, 'the three stored events and the live one', () => sub.events.length >= 4);
  assertExactly(sub.events, published);

  // And with no event seen yet: a second subscriber whose socket is cut
  // before anything was published reads what it missed from the store.
  const other = channelId('empty2');
  await admin.createChannel({ id: other });
  const second = record(server.client({ WebSocket: Tracked }), other, { backoff: { initialMs: 400, maxMs: 400 } });
  await waitFor(10_000, 'the second subscriber connected', () => second.opens.length === 1);
  TrackedWebSocket.last().terminate();
  const missed = await admin.publishBatch(other, numbered(0, 5)); // while it waits to reconnect
  await waitFor(10_000, 'the events published while it was down', () => second.events.length >= 5);
  missed.push(await admin.publish(other, { type: 'n', data: 5 }));
  await waitFor(10_000, 'the live event after them', () => second.events.length >= 6);
  assertExactly(second.events, missed);
  assert.ok(second.opens.length >= 2, 'it reconnected');
  sub.subscription.close();
  second.subscription.close();
  await Promise.all([sub.subscription.done, second.subscription.done]);
});

test('a resume point whose followers were removed calls onGap, then goes on with what is held', async () => {
  const admin = server.client();
  const id = channelId('gap');
  await admin.createChannel({ id, retention: { max_events: 5 } });
  const published = await admin.publishBatch(id, numbered(0, 20));
  await waitFor(10_000, 'retention keeps the newest 5', async () => (await admin.pollEvents(id, { limit: 100 })).events.length === 5);
  for (const mode of ['ws', 'poll'] as const) {
    const gaps: Gap[] = [];
    const sub = record(server.client(), id, { after: published[0].id, mode, pollWait: 1, onGap: (gap) => { gaps.push(gap); } });
    await waitFor(10_000, `the 5 held events (${mode})`, () => sub.events.length === 5);
    assert.deepEqual(gaps, [{ after: published[0].id, removedThrough: published[14].id }], mode);
    assertExactly(sub.events, published.slice(15));
    sub.subscription.close();
  }
});
