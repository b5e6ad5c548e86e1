// channelhub: the TypeScript client. Browser-safe (fetch, WebSocket and
// WebCrypto only); Node ≥ 20 takes a WebSocket implementation such as `ws`.
import { RestClient, type Event, type EventInput, type CallOptions, type Operation } from './rest.js';
import { publish, publishBatch, type PublishOptions } from './publish.js';
import { subscribe, events, type SubscribeOptions, type Subscription } from './subscribe.js';

export { ChannelhubError, type Problem } from './errors.js';
export * from './rest.js';
export { MAX_BATCH, type PublishOptions } from './publish.js';
export { classifyClose, type SubscribeOptions, type Subscription, type SubscribeMode, type Gap } from './subscribe.js';
export { verifyWebhook, WebhookVerificationError, type VerifyOptions, type WebhookHeaders } from './webhooks.js';
export type { Backoff } from './backoff.js';
export type { components, paths } from './generated/openapi.js';

/** The client: every REST operation, plus publishing and subscribing helpers. */
export class Channelhub extends RestClient {
  /** Publishes one event; with `idempotencyKey`, network errors are retried. */
  publish(channel: string, event: EventInput, options?: PublishOptions): Promise<Event> {
    return publish(this, channel, event, options);
  }
  /** Publishes any number of events in order, in batches of 100. */
  publishBatch(channel: string, batch: EventInput[], options?: PublishOptions): Promise<Event[]> {
    return publishBatch(this, channel, batch, options);
  }
  /** Follows a channel with callbacks; see `SubscribeOptions`. */
  subscribe(channel: string, options?: SubscribeOptions): Subscription {
    return subscribe(this, channel, options);
  }
  /** Follows a channel as `for await (const event of client.events(channel))`. */
  events(channel: string, options?: Omit<SubscribeOptions, 'onEvent'>): AsyncGenerator<Event, void, undefined> {
    return events(this, channel, options);
  }
}

/**
 * Each operation of the OpenAPI document and the method that performs it.
 * `satisfies` makes the build fail when the document gains (or loses) one.
 */
export const OPERATIONS = {
  'POST /channels': 'createChannel',
  'GET /channels': 'listChannels',
  'GET /channels/{channel_id}': 'getChannel',
  'PATCH /channels/{channel_id}': 'updateChannel',
  'DELETE /channels/{channel_id}': 'deleteChannel',
  'POST /channels/{channel_id}/tokens': 'createToken',
  'GET /channels/{channel_id}/tokens': 'listTokens',
  'DELETE /channels/{channel_id}/tokens/{token_id}': 'revokeToken',
  'POST /channels/{channel_id}/events': 'publish',
  'POST /channels/{channel_id}/events/validate': 'validateEvents',
  'GET /channels/{channel_id}/events': 'pollEvents',
  'GET /channels/{channel_id}/events/{event_id}': 'getEvent',
  'DELETE /channels/{channel_id}/events/{event_id}': 'deleteEvent',
  'GET /channels/{channel_id}/ws': 'subscribe',
  'GET /ws': 'multiplexedUrl',
  'GET /channels/{channel_id}/stream': 'streamUrl',
  'GET /channels/{channel_id}/feed.json': 'feed',
  'GET /channels/{channel_id}/rss': 'rss',
  'POST /channels/{channel_id}/webhooks': 'registerWebhook',
  'GET /channels/{channel_id}/webhooks': 'listWebhooks',
  'GET /channels/{channel_id}/webhooks/{webhook_id}/deliveries': 'listDeliveries',
  'DELETE /channels/{channel_id}/webhooks/{webhook_id}': 'deleteWebhook',
  'POST /keys': 'addKey',
  'GET /keys': 'listKeys',
  'DELETE /keys/{kid}': 'removeKey',
  'POST /revocations': 'revokeJwt',
  'GET /revocations': 'listRevocations',
  'DELETE /revocations/{revocation_id}': 'deleteRevocation',
  'GET /whoami': 'whoami',
  'GET /status': 'clusterStatus',
  'GET /server': 'serverMeta',
  'PUT /server': 'updateServerMeta',
  'POST /directory/claim': 'directoryClaim',
  'GET /tokens/claims': 'tokenClaims',
  'POST /tokens': 'mintToken',
} as const satisfies Record<Operation, keyof Channelhub>;

export type { CallOptions };
