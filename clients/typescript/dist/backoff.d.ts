export interface Backoff {
    /** First delay, in milliseconds (default 250). */
    initialMs?: number;
    /** Longest delay, in milliseconds (default 10 000). */
    maxMs?: number;
}
/** The delay before attempt `attempt` (0-based): a random point in the upper half of the exponential step. */
export declare function backoffDelay(attempt: number, { initialMs, maxMs }?: Backoff): number;
/** Resolves after `ms`, or at once when `signal` aborts. */
export declare function sleep(ms: number, signal?: AbortSignal): Promise<void>;
