// Subscriptions that lose nothing: a WebSocket (or long-polling) session
// that reconnects with backoff and resumes after the last event seen.
//
// The resume point is the id of the last event handed to `onEvent`. Event ids
// increase within a channel, so anything at or below it is a duplicate (a
// replay overlapping what the last socket already sent) and is dropped: the
// server promises no duplicates on `after=`, this is the safety net.
import { ChannelhubError } from './errors.js';
import { backoffDelay, sleep, type Backoff } from './backoff.js';
import type { Event, RestClient, WebSocketConstructor } from './rest.js';
import { NIL_ID, sharedSocket, type Lane, type WsEnd } from './shared.js';

export type SubscribeMode = 'auto' | 'ws' | 'poll';

/**
 * The server's gap signal: events after the resume point were removed
 * (retention or deletion) before this subscriber read them. `onGap` is called
 * and the subscription goes on with the events still held.
 */
export interface Gap {
  /** The resume point (the last event this subscriber had). */
  after: string;
  /** Every event after `after` up to and including this id is gone. */
  removedThrough: string;
}

export interface SubscribeOptions {
  /** Only these event types (default: every event). */
  types?: string[];
  /** A subscribe token for a private channel (default: the client's token). */
  token?: string;
  /** Resume after this event id. Without it, the subscription starts at the channel's newest event. */
  after?: string;
  /** `auto` (default): WebSocket, long-polling when WebSockets cannot connect. */
  mode?: SubscribeMode;
  /** Called once per event, in order; the next waits for a returned promise. */
  onEvent?: (event: Event) => void | Promise<void>;
  /** Events after the resume point were removed before they could be read: see `Gap`. */
  onGap?: (gap: Gap) => void;
  /** Every disconnection or failure; `fatal` ones end the subscription. */
  onError?: (error: Error, info: { fatal: boolean }) => void;
  /** Each time a transport is up: after a connect, and after each reconnect. */
  onOpen?: (transport: 'ws' | 'poll') => void;
  signal?: AbortSignal;
  backoff?: Backoff;
  /** Seconds each long-poll waits for an event (default 30, the server allows 0–60). */
  pollWait?: number;
  /** In `auto` mode, how long to long-poll before trying a WebSocket again (ms, default 60 000). */
  wsRetryAfterMs?: number;
}

export interface Subscription {
  /** The id of the last event delivered: where a reconnect resumes. */
  readonly lastEventId: string | undefined;
  /** Ends the subscription; `done` then resolves. */
  close(): void;
  /** Resolves when closed by the caller; rejects with the error that ended it otherwise. */
  readonly done: Promise<void>;
}

/** How a WebSocket session ended. */
/** The WebSocket frame that announces a gap before a replay. */
interface GapFrame {
  gap: { after: string; removed_through: string };
}


type Verdict = 'resume' | 'retry' | 'fatal';

/**
 * What a close means. The client asks for the server's application codes
 * (`close_codes=app`: 4000 slow consumer, 4001 token revoked, 4002 channel made
 * private, 4003 token expired, 4004 channel deleted, 4011 replay failed); the
 * seed's codes and reasons are understood too.
 */
export function classifyClose(code: number, reason: string): Verdict {
  if (code === 4000) return 'resume';
  if (code === 4001 || code === 4002 || code === 4003 || code === 4004) return 'fatal';
  if (code === 4011) return 'retry';
  if (code === 1008) return /slow|behind/i.test(reason) ? 'resume' : 'fatal';
  if (code === 1000 && /deleted/i.test(reason)) return 'fatal';
  // Going away (1001), server error (1011), a dropped connection (1006), and
  // anything unknown: reconnect; a channel that is gone fails the next handshake.
  return 'retry';
}

export function subscribe(client: RestClient, channel: string, options: SubscribeOptions = {}): Subscription {
  return new Session(client, channel, options).start();
}

class Session implements Subscription {
  lastEventId: string | undefined;
  done!: Promise<void>;
  private readonly stop = new AbortController();
  private readonly token: string | undefined;
  private readonly typeList: string | undefined;
  /** The channel had no event when we started: with no event seen yet, a resume reads it from the start. */
  private startedEmpty = false;
  /** Events are handed on one at a time, in arrival order. */
  private delivery: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  /** The shared socket cannot carry this subscription: it uses a per-channel socket. */
  private ownSocket = false;

  constructor(
    private readonly client: RestClient,
    private readonly channel: string,
    private readonly options: SubscribeOptions,
  ) {
    this.lastEventId = options.after;
    this.token = options.token ?? client.token;
    this.typeList = options.types?.length ? options.types.join(',') : undefined;
    options.signal?.addEventListener('abort', () => this.close(), { once: true });
    if (options.signal?.aborted) this.stop.abort();
  }

  start(): this {
    this.done = this.run();
    // A caller that uses callbacks only must not see an unhandled rejection.
    this.done.catch(() => {});
    return this;
  }

  close(): void {
    this.stop.abort();
  }

  private get stopped(): boolean {
    return this.stop.signal.aborted || this.failure !== undefined;
  }

  private async run(): Promise<void> {
    const mode = this.options.mode ?? 'auto';
    let useWs = mode !== 'poll';
    let attempt = 0;
    /** Handshakes in a row that failed while the server answered HTTP. */
    let blocked = 0;
    try {
      if (this.lastEventId === undefined) await this.anchor();
      while (!this.stopped) {
        let verdict: Verdict;
        if (useWs) {
          if (this.lastEventId === undefined && this.startedEmpty && !(await this.readStore())) {
            await sleep(backoffDelay(attempt++, this.options.backoff), this.stop.signal);
            continue;
          }
          const end = await this.runWs();
          await this.delivery;
          if (this.stopped) break;
          const closed = new ChannelhubError(closeProblem(end), { closeCode: end.code });
          if (end.opened) {
            attempt = blocked = 0;
            verdict = classifyClose(end.code, end.reason);
            if (verdict === 'fatal') {
              this.fail(closed);
              break;
            }
          } else {
            verdict = 'retry';
            // Twice, so that a server coming back from a restart between the
            // handshake and the probe does not switch us to polling.
            if ((await this.answersHttp()) && ++blocked >= 2 && mode === 'auto') {
              useWs = false;
              continue;
            }
          }
          this.report(closed, false);
        } else {
          verdict = await this.runPoll(mode === 'auto');
          if (verdict === 'resume') {
            useWs = true;
            attempt = blocked = 0;
            continue;
          }
        }
        if (this.stopped) break;
        // A slow-consumer close resumes at once: the backlog is on the server.
        await sleep(verdict === 'resume' ? 0 : backoffDelay(attempt++, this.options.backoff), this.stop.signal);
      }
    } catch (error) {
      if (!this.stop.signal.aborted) this.fail(asError(error));
    }
    await this.delivery;
    if (this.failure) throw this.failure;
  }

  /** No `after` given: start at the channel's newest event, so a reconnect before the first event has a resume point. */
  private async anchor(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const feed = await this.client.feed(this.channel, { token: this.token, signal: this.stop.signal });
        this.lastEventId = feed.items[0]?._channelhub.id;
        this.startedEmpty = this.lastEventId === undefined;
        return;
      } catch (error) {
        if (isFinal(error)) throw error;
        this.report(asError(error), false);
        await sleep(backoffDelay(attempt, this.options.backoff), this.stop.signal);
      }
    }
  }

  /**
   * For a channel that was empty at the start, with no event seen yet: hands
   * on the stored events (all published since the start) from the first,
   * up to `before` when given. False after a failure that a reconnect can
   * cure (it is reported); a refusal throws.
   */
  private async readStore(before?: string): Promise<boolean> {
    try {
      let page;
      do {
        page = await this.client.pollEvents(this.channel, { cursor: this.lastEventId, type: this.typeList, limit: 1000 }, { token: this.token, signal: this.stop.signal });
        for (const event of page.events) {
          if (before !== undefined && event.id >= before) return true;
          await this.handOver(event);
        }
      } while (page.has_more && !this.stopped);
      return true;
    } catch (error) {
      if (isFinal(error)) throw error;
      if (!this.stop.signal.aborted) this.report(asError(error), false);
      return false;
    }
  }

  private runWs(): Promise<WsEnd> {
    const WebSocketImpl = this.client.WebSocketImpl;
    if (!WebSocketImpl) throw new TypeError('no WebSocket implementation: pass `WebSocket` (e.g. from the `ws` package) to the client, or use mode "poll"');
    return this.runShared() ?? this.runOwnSocket(WebSocketImpl);
  }

  /**
   * On the client's shared socket, when the server has one; undefined when
   * this subscription must use its own (see `shared.ts`). An empty channel
   * with no event seen yet resumes from its first stored event (the nil id).
   */
  private runShared(): Promise<WsEnd> | undefined {
    const shared = sharedSocket(this.client);
    if (this.ownSocket) return undefined;
    const after = this.lastEventId ?? (this.startedEmpty ? NIL_ID : undefined);
    const request = {
      types: this.options.types?.length ? this.options.types : undefined,
      after,
      token: this.token !== this.client.token ? this.token : undefined,
    };
    let settle: (end: WsEnd | Error | 'elsewhere') => void = () => {};
    const ended = new Promise<WsEnd | Error | 'elsewhere'>((resolve) => (settle = resolve));
    const frames = this.frameHandler(() => {
      shared.detach(this.channel, lane);
      settle({ opened: true, code: 4000, reason: 'catching up from the store' });
    });
    const lane: Lane = {
      onSubscribed: () => this.options.onOpen?.('ws'),
      onFrame: frames,
      onEnd: (end) => settle(end),
      onRefused: (error) => settle(error),
      onElsewhere: () => settle('elsewhere'),
    };
    if (!shared.attach(this.channel, request, lane)) return undefined;
    const onAbort = () => {
      shared.detach(this.channel, lane);
      settle({ opened: true, code: 1000, reason: 'client closed' });
    };
    this.stop.signal.addEventListener('abort', onAbort, { once: true });
    return ended.then((end) => {
      this.stop.signal.removeEventListener('abort', onAbort);
      if (end instanceof Error) throw end;
      if (end === 'elsewhere') {
        this.ownSocket = true;
        return this.runOwnSocket(this.client.WebSocketImpl!);
      }
      return end;
    });
  }

  private runOwnSocket(WebSocketImpl: WebSocketConstructor): Promise<WsEnd> {
    // On a server with the multiplexed socket (so one that knows the nil id),
    // an empty channel with no event seen yet resumes from its first stored
    // event: one published between the store read and this connect is replayed.
    const fromStart = this.startedEmpty && sharedSocket(this.client).supported === true;
    const url = this.client.wsUrl(this.channel, {
      types: this.typeList,
      token: this.token,
      after: this.lastEventId ?? (fromStart ? NIL_ID : undefined),
      close_codes: 'app',
    });
    return new Promise((resolve) => {
      const socket = new WebSocketImpl(url);
      let opened = false;
      const onAbort = () => socket.close(1000, 'client closed');
      this.stop.signal.addEventListener('abort', onAbort, { once: true });
      socket.onopen = () => {
        opened = true;
        this.options.onOpen?.('ws');
      };
      const frames = this.frameHandler(() => socket.close());
      socket.onmessage = (message) => {
        if (typeof message.data === 'string') frames(JSON.parse(message.data) as Record<string, unknown>);
      };
      socket.onclose = (close) => {
        this.stop.signal.removeEventListener('abort', onAbort);
        resolve({ opened, code: close.code, reason: close.reason });
      };
      // An error is always followed by a close, which decides what happens.
      socket.onerror = () => {};
    });
  }

  /** Hands one transport's frames on, in order; `restart` ends the transport so the next one catches up from the store. */
  private frameHandler(restart: () => void): (frame: Record<string, unknown>) => void {
    /** Set when this transport's events can no longer be handed on without a gap. */
    let discard = false;
    return (frame) => {
      const parsed = frame as Partial<Event> & Partial<GapFrame>;
      // Sent before a replay when events after `after` were removed: no `id`.
      if (parsed.gap && parsed.id === undefined) {
        const gap = parsed.gap;
        this.enqueue(async () => this.options.onGap?.({ after: gap.after, removedThrough: gap.removed_through }));
        return;
      }
      const event = parsed as Event;
      this.enqueue(async () => {
        // The first live event with no resume point (an empty channel at the
        // start) may follow events published before this socket opened:
        // those come from the store first.
        if (!discard && this.lastEventId === undefined && this.startedEmpty && !(await this.readStore(event.id))) {
          discard = true;
          restart(); // the next connection catches up from the store
        }
        if (!discard) await this.handOver(event);
      });
    };
  }

  /**
   * After a WebSocket that never opened, which says nothing about why
   * (browsers hide the HTTP answer): whether the server answers HTTP. A
   * refusal there (401, 403, 404) ends the subscription; a server that answers
   * HTTP but not WebSockets has something in between that blocks them.
   */
  private async answersHttp(): Promise<boolean> {
    try {
      await this.client.getChannel(this.channel, { token: this.token, signal: this.stop.signal });
      return true;
    } catch (error) {
      if (isFinal(error)) throw error;
      return false; // the server is down or restarting
    }
  }

  /** Long-polls until an error (`retry`) or, when `tryWs`, until it is time to try a WebSocket again (`resume`). */
  private async runPoll(tryWs: boolean): Promise<Verdict> {
    const until = Date.now() + (this.options.wsRetryAfterMs ?? 60_000);
    let announced = false;
    while (!this.stopped) {
      if (tryWs && Date.now() >= until) return 'resume';
      try {
        const page = await this.client.pollEvents(
          this.channel,
          { cursor: this.lastEventId, type: this.typeList, limit: 1000, wait: pollWait(this.options, announced) },
          { token: this.token, signal: this.stop.signal },
        );
        if (!announced) {
          announced = true;
          this.options.onOpen?.('poll');
        }
        if (page.gap && this.lastEventId !== undefined) {
          const gap: Gap = { after: this.lastEventId, removedThrough: page.gap.removed_through };
          this.enqueue(async () => this.options.onGap?.(gap));
        }
        for (const event of page.events) this.enqueue(() => this.handOver(event));
        await this.delivery;
      } catch (error) {
        if (this.stop.signal.aborted) return 'retry';
        if (isFinal(error)) throw error;
        this.report(asError(error), false);
        if (error instanceof ChannelhubError && error.retryAfter) await sleep(error.retryAfter * 1000, this.stop.signal);
        return 'retry';
      }
    }
    return 'retry';
  }

  /** Runs `step` after every step queued before it: events are handed on one at a time, in arrival order. */
  private enqueue(step: () => Promise<void>): void {
    this.delivery = this.delivery.then(() => (this.stopped ? undefined : step()));
    // A failed step is thrown where `run` awaits the chain; until then it is not "unhandled".
    this.delivery.catch(() => {});
  }

  /** Hands one event to `onEvent`, unless it is at or below the resume point (a duplicate). */
  private async handOver(event: Event): Promise<void> {
    if (this.stopped) return;
    if (this.lastEventId !== undefined && event.id <= this.lastEventId) return;
    this.lastEventId = event.id;
    try {
      await this.options.onEvent?.(event);
    } catch (error) {
      // The caller's handler failed: stop rather than skip the event silently.
      this.fail(asError(error));
    }
  }

  private report(error: Error, fatal: boolean): void {
    this.options.onError?.(error, { fatal });
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.report(error, true);
    this.stop.abort();
  }
}

/** The first poll answers at once, so that a fallback is announced promptly. */
function pollWait(options: SubscribeOptions, announced: boolean): number {
  return announced ? (options.pollWait ?? 30) : 0;
}

/** Refusals that a retry cannot fix: bad request, no access, no such channel. */
function isFinal(error: unknown): boolean {
  return error instanceof ChannelhubError && [400, 401, 403, 404, 410].includes(error.status);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function closeProblem(end: WsEnd) {
  const detail = end.opened ? `WebSocket closed with ${end.code}${end.reason ? ` "${end.reason}"` : ''}` : 'WebSocket could not connect';
  return { type: 'about:blank', title: end.reason || 'WebSocket closed', status: 0, detail, error: detail };
}

/** Events an iterator holds for a slow loop body before it stops taking more. */
const ITERATOR_HIGH_WATER = 1000;

/**
 * The subscription as an async iterator. Events wait in a buffer between the
 * socket and the loop body; past `ITERATOR_HIGH_WATER` the subscription waits
 * for the loop (long-polling then stops asking; a WebSocket's frames queue
 * in the delivery chain, since browsers' WebSockets cannot be paused). A
 * fatal close ends the loop by throwing; leaving the loop closes the
 * subscription.
 */
export async function* events(client: RestClient, channel: string, options: Omit<SubscribeOptions, 'onEvent'> = {}): AsyncGenerator<Event, void, undefined> {
  const buffer: Event[] = [];
  let wake: (() => void) | undefined;
  let drained: (() => void) | undefined;
  const nudge = () => {
    wake?.();
    wake = undefined;
  };
  const release = () => {
    drained?.();
    drained = undefined;
  };
  const subscription = subscribe(client, channel, {
    ...options,
    onEvent: (event) => {
      buffer.push(event);
      nudge();
      if (buffer.length >= ITERATOR_HIGH_WATER) return new Promise<void>((resolve) => (drained = resolve));
    },
  });
  let ended = false;
  const end = () => {
    ended = true;
    nudge();
  };
  subscription.done.then(end, end);
  try {
    for (;;) {
      while (buffer.length) {
        const event = buffer.shift()!;
        if (buffer.length < ITERATOR_HIGH_WATER / 2) release();
        yield event;
      }
      if (ended) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    await subscription.done; // rethrows a fatal ending
  } finally {
    subscription.close();
    release();
  }
}
