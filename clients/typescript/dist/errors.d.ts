import type { components } from './generated/openapi.js';
/** An RFC 9457 problem document, as the server sends every error. */
export type Problem = components['schemas']['Problem'];
/**
 * An error answer from the server (its problem+json body), or a subscription
 * that the server ended for good (`code`/`reason` of the WebSocket close).
 */
export declare class ChannelhubError extends Error {
    readonly status: number;
    readonly title: string;
    readonly detail: string;
    readonly type: string;
    /** Seconds from a `Retry-After` header (429, 503), when there was one. */
    readonly retryAfter?: number;
    /** The WebSocket close code, for a subscription the server ended. */
    readonly closeCode?: number;
    constructor(problem: Problem, extra?: {
        retryAfter?: number;
        closeCode?: number;
    });
    /** Reads a failed response: its problem+json body, or a stand-in when it has none. */
    static fromResponse(response: Response): Promise<ChannelhubError>;
}
