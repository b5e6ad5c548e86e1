// Typed REST: one method per operation of the server's OpenAPI document.
// Every parameter and result type comes from src/generated/openapi.ts, which
// the build regenerates from openapi/openapi.json; `OPERATIONS` below makes
// the build fail when the document gains an operation this client lacks.
import type { components, paths } from './generated/openapi.js';
import { ChannelhubError } from './errors.js';

export type Schemas = components['schemas'];
export type Event = Schemas['Event'];
export type Channel = Schemas['Channel'];
export type EventInput = Schemas['EventInput'];

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';
/** "METHOD /path" for every operation the document declares. */
export type Operation = {
  [P in keyof paths]: {
    [M in Method]: [paths[P][M]] extends [undefined] ? never : `${Uppercase<M>} ${P}`;
  }[Method];
}[keyof paths];
/** The query parameters of one operation, as the document declares them. */
export type QueryOf<P extends keyof paths, M extends Method> = paths[P][M] extends {
  parameters: { query?: infer Q };
}
  ? NonNullable<Q>
  : never;

export type PollQuery = QueryOf<'/channels/{channel_id}/events', 'get'>;
export type ListChannelsQuery = QueryOf<'/channels', 'get'>;

/** The constructor of a WHATWG WebSocket: the browser's, or `ws` in Node 20. */
export type WebSocketConstructor = new (url: string) => WebSocket;

export interface ClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080` (no `/api/v1`). */
  url: string;
  /** Admin, publish or subscribe token, or a JWT, sent as `Authorization: Bearer`. */
  token?: string;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Defaults to the global `WebSocket` (browsers, Node ≥ 22); pass `ws` in Node 20. */
  WebSocket?: WebSocketConstructor;
}

/** Per-call options: another token than the client's, and cancellation. */
export interface CallOptions {
  token?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** Query values that are absent are left out; the rest become strings. */
export type Query = Record<string, string | number | boolean | undefined>;

export class RestClient {
  readonly baseUrl: string;
  readonly token?: string;
  protected readonly fetchImpl: typeof fetch;
  readonly WebSocketImpl?: WebSocketConstructor;

  constructor(options: ClientOptions) {
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.token = options.token;
    // Bound so that a browser's fetch is not called with the client as `this`.
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  }

  /** An absolute URL under the server (`path` starts with `/`). */
  url(path: string, query: Query = {}): URL {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  /** Sends one request and returns its response, or throws `ChannelhubError` for a non-2xx. */
  async send(method: string, path: string, init: { query?: Query; body?: unknown } & CallOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...init.headers };
    const token = init.token ?? this.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.fetchImpl(this.url(path, init.query), {
      method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: init.signal,
    });
    if (!response.ok) throw await ChannelhubError.fromResponse(response);
    return response;
  }

  /** `send` under `/api/v1`, answering the JSON body (nothing for a 204). */
  async call<T>(method: string, path: string, init: { query?: Query; body?: unknown } & CallOptions = {}): Promise<T> {
    const response = await this.send(method, `/api/v1${path}`, init);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  // --- Channels ---------------------------------------------------------

  createChannel(body: Schemas['CreateChannel'], options?: CallOptions): Promise<Channel> {
    return this.call('POST', '/channels', { ...options, body });
  }
  listChannels(query: ListChannelsQuery = {}, options?: CallOptions): Promise<Schemas['ChannelPage']> {
    return this.call('GET', '/channels', { ...options, query });
  }
  getChannel(channel: string, options?: CallOptions): Promise<Channel> {
    return this.call('GET', `/channels/${seg(channel)}`, options);
  }
  updateChannel(channel: string, body: Schemas['UpdateChannel'], options?: CallOptions): Promise<Channel> {
    return this.call('PATCH', `/channels/${seg(channel)}`, { ...options, body });
  }
  deleteChannel(channel: string, options?: CallOptions): Promise<void> {
    return this.call('DELETE', `/channels/${seg(channel)}`, options);
  }

  // --- Tokens -----------------------------------------------------------

  createToken(channel: string, body: Schemas['CreateToken'], options?: CallOptions): Promise<Schemas['CreatedTokenBody']> {
    return this.call('POST', `/channels/${seg(channel)}/tokens`, { ...options, body });
  }
  listTokens(channel: string, options?: CallOptions): Promise<Schemas['TokenInfo'][]> {
    return this.call('GET', `/channels/${seg(channel)}/tokens`, options);
  }
  revokeToken(channel: string, tokenId: string, options?: CallOptions): Promise<void> {
    return this.call('DELETE', `/channels/${seg(channel)}/tokens/${seg(tokenId)}`, options);
  }

  // --- Events (publishing is in publish.ts) -----------------------------

  /** One page of events; follow `cursor` to see every event once, in order. */
  pollEvents(channel: string, query: PollQuery = {}, options?: CallOptions): Promise<Schemas['EventPage']> {
    return this.call('GET', `/channels/${seg(channel)}/events`, { ...options, query });
  }
  getEvent(channel: string, eventId: string, options?: CallOptions): Promise<Event> {
    return this.call('GET', `/channels/${seg(channel)}/events/${seg(eventId)}`, options);
  }
  deleteEvent(channel: string, eventId: string, options?: CallOptions): Promise<void> {
    return this.call('DELETE', `/channels/${seg(channel)}/events/${seg(eventId)}`, options);
  }
  /**
   * Checks a publish (one event, or `{events: [...]}`) as publishing would,
   * strict types included, without storing it: resolves when it would be
   * stored, rejects with the problem publishing would answer.
   */
  validateEvents(channel: string, body: EventInput | { events: EventInput[] }, options?: CallOptions): Promise<Schemas['Validation']> {
    return this.call('POST', `/channels/${seg(channel)}/events/validate`, { ...options, body });
  }

  // --- Live (subscribing is in subscribe.ts) ----------------------------

  /** The WebSocket URL (`ws:`/`wss:`) of a channel; the token goes in the query, as browsers cannot set headers. */
  wsUrl(channel: string, query: QueryOf<'/channels/{channel_id}/ws', 'get'> = {}): string {
    const url = this.url(`/api/v1/channels/${seg(channel)}/ws`, query);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.toString();
  }
  /**
   * The URL of the multiplexed WebSocket (`GET /api/v1/ws`): one socket, many
   * channels, driven with `subscribe` / `unsubscribe` / `refresh` frames (the
   * server README's "One socket, many channels"). `token` is the connection
   * credential, in the query as browsers cannot set headers.
   */
  multiplexedUrl(query: QueryOf<'/ws', 'get'> = {}): string {
    const url = this.url('/api/v1/ws', query);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.toString();
  }
  /** The Server-Sent Events URL of a channel, for `new EventSource(url)`. */
  streamUrl(channel: string, query: QueryOf<'/channels/{channel_id}/stream', 'get'> = {}): string {
    return this.url(`/api/v1/channels/${seg(channel)}/stream`, query).toString();
  }

  // --- Feeds -------------------------------------------------------------

  feed(channel: string, options?: CallOptions): Promise<Schemas['JsonFeed']> {
    return this.call('GET', `/channels/${seg(channel)}/feed.json`, options);
  }
  async rss(channel: string, options?: CallOptions): Promise<string> {
    return (await this.send('GET', `/api/v1/channels/${seg(channel)}/rss`, options)).text();
  }

  // --- Webhooks ----------------------------------------------------------

  /**
   * Registers a URL. A new webhook (201) carries its `secret`, shown once; a
   * URL the channel had already (200) comes back without it.
   */
  registerWebhook(channel: string, body: Schemas['RegisterWebhook'], options?: CallOptions): Promise<Schemas['CreatedWebhook'] | Schemas['Webhook']> {
    return this.call('POST', `/channels/${seg(channel)}/webhooks`, { ...options, body });
  }
  listWebhooks(channel: string, options?: CallOptions): Promise<Schemas['Webhook'][]> {
    return this.call('GET', `/channels/${seg(channel)}/webhooks`, options);
  }
  listDeliveries(channel: string, webhookId: string, options?: CallOptions): Promise<Schemas['DeliveryAttempt'][]> {
    return this.call('GET', `/channels/${seg(channel)}/webhooks/${seg(webhookId)}/deliveries`, options);
  }
  deleteWebhook(channel: string, webhookId: string, options?: CallOptions): Promise<void> {
    return this.call('DELETE', `/channels/${seg(channel)}/webhooks/${seg(webhookId)}`, options);
  }

  // --- Keys, revocations, whoami (JWTs) ---------------------------------

  /** Trusts a public key (admin): Zooid's shape (`kid`, Ed25519 `x`) or any public `jwk`. */
  addKey(body: Schemas['CreateKey'], options?: CallOptions): Promise<Schemas['TrustedKey']> {
    return this.call('POST', '/keys', { ...options, body });
  }
  listKeys(options?: CallOptions): Promise<Schemas['KeyList']> {
    return this.call('GET', '/keys', options);
  }
  /** Stops trusting a key: its tokens stop working and their sockets close (4001). */
  removeKey(kid: string, options?: CallOptions): Promise<Schemas['Removed']> {
    return this.call('DELETE', `/keys/${seg(kid)}`, options);
  }
  /** Revokes JWTs before their `exp`: one by `jti`, or a subject's by `sub`. */
  revokeJwt(body: Schemas['CreateRevocation'], options?: CallOptions): Promise<Schemas['Revocation']> {
    return this.call('POST', '/revocations', { ...options, body });
  }
  listRevocations(options?: CallOptions): Promise<Schemas['Revocation'][]> {
    return this.call('GET', '/revocations', options);
  }
  deleteRevocation(revocationId: string, options?: CallOptions): Promise<void> {
    return this.call('DELETE', `/revocations/${seg(revocationId)}`, options);
  }
  /** What the client's credential (or `options.token`) is and grants; a refused JWT's 401 says why. */
  whoami(options?: CallOptions): Promise<Schemas['Identity']> {
    return this.call('GET', '/whoami', options);
  }
  /** Admin: every node sharing the server's database (this one now, the others as they last reported), the database's health and the webhook backlog. */
  clusterStatus(options?: CallOptions): Promise<Schemas['ClusterStatus']> {
    return this.call('GET', '/status', options);
  }

  // --- Zooid's routes -------------------------------------------------------

  /** This server, as Zooid's `GET /api/v1/server` describes one. */
  serverMeta(options?: CallOptions): Promise<Schemas['ServerMeta']> {
    return this.call('GET', '/server', options);
  }
  /** Change what this server says about itself (admin), as Zooid's `PUT /api/v1/server`: absent fields stay, `null` clears. */
  updateServerMeta(body: Schemas['UpdateServerMeta'], options?: CallOptions): Promise<Schemas['ServerMeta']> {
    return this.call('PUT', '/server', { ...options, body });
  }
  /** A claim listing channels in Zooid's directory (or withdrawing them: `action: 'delete'`), signed with the server key (admin). */
  directoryClaim(body: Schemas['DirectoryClaimBody'], options?: CallOptions): Promise<Schemas['DirectoryClaim']> {
    return this.call('POST', '/directory/claim', { ...options, body });
  }
  /** What the client's credential grants, in Zooid's shape (`scopes`, `sub`, `iat`, `exp`). */
  tokenClaims(options?: CallOptions): Promise<Schemas['TokenClaims']> {
    return this.call('GET', '/tokens/claims', options);
  }
  /** A JWT signed with the server's HS256 secret (admin); 404 when the server has none. */
  mintToken(body: Schemas['MintToken'], options?: CallOptions): Promise<Schemas['MintedJwt']> {
    return this.call('POST', '/tokens', { ...options, body });
  }

  // --- Outside /api/v1 (not in the OpenAPI document) ---------------------

  /** `/.well-known/channelhub.json`: server id, version and the webhook public key (`whpk_…`). */
  async serverInfo(options?: CallOptions): Promise<ServerInfo> {
    return (await this.send('GET', '/.well-known/channelhub.json', options)).json() as Promise<ServerInfo>;
  }
  /** `/readyz`: resolves when the server and its database answer. */
  async ready(options?: CallOptions): Promise<void> {
    await this.send('GET', '/readyz', options);
  }
}

export interface ServerInfo {
  server_id: string;
  version: string;
  webhook_public_key: string;
  /** Which JWTs the server accepts. */
  jwt: {
    algorithms: string[];
    hs256: boolean;
    audience: string[];
    require_audience: boolean;
    leeway_seconds: number;
    keys: number;
  };
}

function seg(value: string): string {
  return encodeURIComponent(value);
}
