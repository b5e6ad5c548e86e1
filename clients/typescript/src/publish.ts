// Publishing: one event, or any number in batches of the server's maximum.
import { ChannelhubError } from './errors.js';
import { backoffDelay, sleep, type Backoff } from './backoff.js';
import type { Event, EventInput, RestClient, CallOptions } from './rest.js';

/** The server's limit on one batch. */
export const MAX_BATCH = 100;

export interface PublishOptions extends CallOptions {
  /**
   * Sent as `Idempotency-Key`. A repeat with the same key answers the first
   * result instead of storing the events again, which is what makes retrying
   * safe: only with a key are network errors retried. (Servers before
   * idempotent publishing ignore the header.) A batch larger than
   * `MAX_BATCH` sends `<key>:<n>` for its n-th chunk.
   */
  idempotencyKey?: string;
  /** Retries after a network error, when a key is given (default 3). */
  retries?: number;
  backoff?: Backoff;
}

/** Publishes one event; resolves once it is durable. */
export async function publish(client: RestClient, channel: string, event: EventInput, options: PublishOptions = {}): Promise<Event> {
  return withRetries(client, channel, event, options) as Promise<Event>;
}

/** Publishes events in order, in chunks of `MAX_BATCH`; resolves with every stored event. */
export async function publishBatch(client: RestClient, channel: string, events: EventInput[], options: PublishOptions = {}): Promise<Event[]> {
  const stored: Event[] = [];
  for (let start = 0; start < events.length; start += MAX_BATCH) {
    const chunk = events.slice(start, start + MAX_BATCH);
    const key = options.idempotencyKey === undefined ? undefined : chunkKey(options.idempotencyKey, start / MAX_BATCH, events.length);
    const answer = (await withRetries(client, channel, { events: chunk }, { ...options, idempotencyKey: key })) as { events: Event[] };
    stored.push(...answer.events);
  }
  return stored;
}

/** One batch keeps the caller's key as it is; a split one numbers its chunks. */
function chunkKey(key: string, index: number, total: number): string {
  return total <= MAX_BATCH ? key : `${key}:${index}`;
}

async function withRetries(client: RestClient, channel: string, body: unknown, options: PublishOptions): Promise<unknown> {
  const { idempotencyKey, retries = 3, backoff, ...call } = options;
  const headers = idempotencyKey === undefined ? call.headers : { ...call.headers, 'idempotency-key': idempotencyKey };
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.call('POST', `/channels/${encodeURIComponent(channel)}/events`, { ...call, headers, body });
    } catch (error) {
      // Without a key a retry could store the events twice; an HTTP answer
      // (ChannelhubError) or a cancellation is final either way.
      const retriable = idempotencyKey !== undefined && !(error instanceof ChannelhubError) && !call.signal?.aborted;
      if (!retriable || attempt >= retries) throw error;
      await sleep(backoffDelay(attempt, backoff), call.signal);
    }
  }
}
