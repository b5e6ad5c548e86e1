import { type Backoff } from './backoff.js';
import type { Event, RestClient } from './rest.js';
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
    onError?: (error: Error, info: {
        fatal: boolean;
    }) => void;
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
type Verdict = 'resume' | 'retry' | 'fatal';
/**
 * What a close means. The client asks for the server's application codes
 * (`close_codes=app`: 4000 slow consumer, 4001 token revoked, 4002 channel made
 * private, 4003 token expired, 4004 channel deleted, 4011 replay failed); the
 * seed's codes and reasons are understood too.
 */
export declare function classifyClose(code: number, reason: string): Verdict;
export declare function subscribe(client: RestClient, channel: string, options?: SubscribeOptions): Subscription;
/**
 * The subscription as an async iterator. Events wait in a buffer between the
 * socket and the loop body; past `ITERATOR_HIGH_WATER` the subscription waits
 * for the loop (long-polling then stops asking; a WebSocket's frames queue
 * in the delivery chain, since browsers' WebSockets cannot be paused). A
 * fatal close ends the loop by throwing; leaving the loop closes the
 * subscription.
 */
export declare function events(client: RestClient, channel: string, options?: Omit<SubscribeOptions, 'onEvent'>): AsyncGenerator<Event, void, undefined>;
export {};
