// Publishing: one event, or any number in batches of the server's maximum.
import { ChannelhubError } from './errors.js';
import { backoffDelay, sleep } from './backoff.js';
/** The server's limit on one batch. */
export const MAX_BATCH = 100;
/** Publishes one event; resolves once it is durable. */
export async function publish(client, channel, event, options = {}) {
    return withRetries(client, channel, event, options);
}
/** Publishes events in order, in chunks of `MAX_BATCH`; resolves with every stored event. */
export async function publishBatch(client, channel, events, options = {}) {
    const stored = [];
    for (let start = 0; start < events.length; start += MAX_BATCH) {
        const chunk = events.slice(start, start + MAX_BATCH);
        const key = options.idempotencyKey === undefined ? undefined : chunkKey(options.idempotencyKey, start / MAX_BATCH, events.length);
        const answer = (await withRetries(client, channel, { events: chunk }, { ...options, idempotencyKey: key }));
        stored.push(...answer.events);
    }
    return stored;
}
/** One batch keeps the caller's key as it is; a split one numbers its chunks. */
function chunkKey(key, index, total) {
    return total <= MAX_BATCH ? key : `${key}:${index}`;
}
async function withRetries(client, channel, body, options) {
    const { idempotencyKey, retries = 3, backoff, ...call } = options;
    const headers = idempotencyKey === undefined ? call.headers : { ...call.headers, 'idempotency-key': idempotencyKey };
    for (let attempt = 0;; attempt++) {
        try {
            return await client.call('POST', `/channels/${encodeURIComponent(channel)}/events`, { ...call, headers, body });
        }
        catch (error) {
            // Without a key a retry could store the events twice; an HTTP answer
            // (ChannelhubError) or a cancellation is final either way.
            const retriable = idempotencyKey !== undefined && !(error instanceof ChannelhubError) && !call.signal?.aborted;
            if (!retriable || attempt >= retries)
                throw error;
            await sleep(backoffDelay(attempt, backoff), call.signal);
        }
    }
}
//# sourceMappingURL=publish.js.map