import { RestClient, type Event, type EventInput, type CallOptions } from './rest.js';
import { type PublishOptions } from './publish.js';
import { type SubscribeOptions, type Subscription } from './subscribe.js';
export { ChannelhubError, type Problem } from './errors.js';
export * from './rest.js';
export { MAX_BATCH, type PublishOptions } from './publish.js';
export { classifyClose, type SubscribeOptions, type Subscription, type SubscribeMode, type Gap } from './subscribe.js';
export { verifyWebhook, WebhookVerificationError, type VerifyOptions, type WebhookHeaders } from './webhooks.js';
export type { Backoff } from './backoff.js';
export type { components, paths } from './generated/openapi.js';
/** The client: every REST operation, plus publishing and subscribing helpers. */
export declare class Channelhub extends RestClient {
    /** Publishes one event; with `idempotencyKey`, network errors are retried. */
    publish(channel: string, event: EventInput, options?: PublishOptions): Promise<Event>;
    /** Publishes any number of events in order, in batches of 100. */
    publishBatch(channel: string, batch: EventInput[], options?: PublishOptions): Promise<Event[]>;
    /** Follows a channel with callbacks; see `SubscribeOptions`. */
    subscribe(channel: string, options?: SubscribeOptions): Subscription;
    /** Follows a channel as `for await (const event of client.events(channel))`. */
    events(channel: string, options?: Omit<SubscribeOptions, 'onEvent'>): AsyncGenerator<Event, void, undefined>;
}
/**
 * Each operation of the OpenAPI document and the method that performs it.
 * `satisfies` makes the build fail when the document gains (or loses) one.
 */
export declare const OPERATIONS: {
    readonly 'POST /channels': "createChannel";
    readonly 'GET /channels': "listChannels";
    readonly 'GET /channels/{channel_id}': "getChannel";
    readonly 'PATCH /channels/{channel_id}': "updateChannel";
    readonly 'DELETE /channels/{channel_id}': "deleteChannel";
    readonly 'POST /channels/{channel_id}/tokens': "createToken";
    readonly 'GET /channels/{channel_id}/tokens': "listTokens";
    readonly 'DELETE /channels/{channel_id}/tokens/{token_id}': "revokeToken";
    readonly 'POST /channels/{channel_id}/events': "publish";
    readonly 'POST /channels/{channel_id}/events/validate': "validateEvents";
    readonly 'GET /channels/{channel_id}/events': "pollEvents";
    readonly 'GET /channels/{channel_id}/events/{event_id}': "getEvent";
    readonly 'DELETE /channels/{channel_id}/events/{event_id}': "deleteEvent";
    readonly 'GET /channels/{channel_id}/ws': "subscribe";
    readonly 'GET /ws': "multiplexedUrl";
    readonly 'GET /channels/{channel_id}/stream': "streamUrl";
    readonly 'GET /channels/{channel_id}/feed.json': "feed";
    readonly 'GET /channels/{channel_id}/rss': "rss";
    readonly 'POST /channels/{channel_id}/webhooks': "registerWebhook";
    readonly 'GET /channels/{channel_id}/webhooks': "listWebhooks";
    readonly 'GET /channels/{channel_id}/webhooks/{webhook_id}/deliveries': "listDeliveries";
    readonly 'DELETE /channels/{channel_id}/webhooks/{webhook_id}': "deleteWebhook";
    readonly 'POST /keys': "addKey";
    readonly 'GET /keys': "listKeys";
    readonly 'DELETE /keys/{kid}': "removeKey";
    readonly 'POST /revocations': "revokeJwt";
    readonly 'GET /revocations': "listRevocations";
    readonly 'DELETE /revocations/{revocation_id}': "deleteRevocation";
    readonly 'GET /whoami': "whoami";
    readonly 'GET /status': "clusterStatus";
    readonly 'GET /server': "serverMeta";
    readonly 'PUT /server': "updateServerMeta";
    readonly 'POST /directory/claim': "directoryClaim";
    readonly 'GET /tokens/claims': "tokenClaims";
    readonly 'POST /tokens': "mintToken";
};
export type { CallOptions };
