import type { Event } from './rest.js';
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;
export interface VerifyOptions {
    /** The webhook's `whsec_…` secret: checks the `v1,` signature. */
    secret?: string;
    /** The server's `whpk_…` public key: checks the `v1a,` signature. */
    publicKey?: string;
    /** Largest difference between `webhook-timestamp` and now, in seconds (default 300). */
    toleranceSeconds?: number;
    /** The current time (ms since the epoch), for tests. */
    now?: number;
}
export declare class WebhookVerificationError extends Error {
    constructor(message: string);
}
/**
 * Checks a delivery and answers its event. Pass the body exactly as received
 * (before any JSON parsing), and at least one of `secret` and `publicKey`.
 * Throws `WebhookVerificationError` when a header is missing, the timestamp
 * is outside the tolerance (a replay), or no signature matches.
 */
export declare function verifyWebhook(headers: WebhookHeaders, rawBody: string | Uint8Array, options: VerifyOptions): Promise<Event>;
