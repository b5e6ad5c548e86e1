import { type Backoff } from './backoff.js';
import type { Event, EventInput, RestClient, CallOptions } from './rest.js';
/** The server's limit on one batch. */
export declare const MAX_BATCH = 100;
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
export declare function publish(client: RestClient, channel: string, event: EventInput, options?: PublishOptions): Promise<Event>;
/** Publishes events in order, in chunks of `MAX_BATCH`; resolves with every stored event. */
export declare function publishBatch(client: RestClient, channel: string, events: EventInput[], options?: PublishOptions): Promise<Event[]>;
