// Waiting between attempts: exponential backoff with jitter, so that clients
// dropped together (a server restart) do not all come back in the same instant.
/** The delay before attempt `attempt` (0-based): a random point in the upper half of the exponential step. */
export function backoffDelay(attempt, { initialMs = 250, maxMs = 10_000 } = {}) {
    const step = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
    return step / 2 + Math.random() * (step / 2);
}
/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms, signal) {
    return new Promise((resolve) => {
        if (signal?.aborted)
            return resolve();
        const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener('abort', done, { once: true });
    });
}
//# sourceMappingURL=backoff.js.map