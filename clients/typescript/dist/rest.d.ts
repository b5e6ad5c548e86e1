import type { components, paths } from './generated/openapi.js';
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
    parameters: {
        query?: infer Q;
    };
} ? NonNullable<Q> : never;
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
export declare class RestClient {
    readonly baseUrl: string;
    readonly token?: string;
    protected readonly fetchImpl: typeof fetch;
    readonly WebSocketImpl?: WebSocketConstructor;
    constructor(options: ClientOptions);
    /** An absolute URL under the server (`path` starts with `/`). */
    url(path: string, query?: Query): URL;
    /** Sends one request and returns its response, or throws `ChannelhubError` for a non-2xx. */
    send(method: string, path: string, init?: {
        query?: Query;
        body?: unknown;
    } & CallOptions): Promise<Response>;
    /** `send` under `/api/v1`, answering the JSON body (nothing for a 204). */
    call<T>(method: string, path: string, init?: {
        query?: Query;
        body?: unknown;
    } & CallOptions): Promise<T>;
    createChannel(body: Schemas['CreateChannel'], options?: CallOptions): Promise<Channel>;
    listChannels(query?: ListChannelsQuery, options?: CallOptions): Promise<Schemas['ChannelPage']>;
    getChannel(channel: string, options?: CallOptions): Promise<Channel>;
    updateChannel(channel: string, body: Schemas['UpdateChannel'], options?: CallOptions): Promise<Channel>;
    deleteChannel(channel: string, options?: CallOptions): Promise<void>;
    createToken(channel: string, body: Schemas['CreateToken'], options?: CallOptions): Promise<Schemas['CreatedTokenBody']>;
    listTokens(channel: string, options?: CallOptions): Promise<Schemas['TokenInfo'][]>;
    revokeToken(channel: string, tokenId: string, options?: CallOptions): Promise<void>;
    /** One page of events; follow `cursor` to see every event once, in order. */
    pollEvents(channel: string, query?: PollQuery, options?: CallOptions): Promise<Schemas['EventPage']>;
    getEvent(channel: string, eventId: string, options?: CallOptions): Promise<Event>;
    deleteEvent(channel: string, eventId: string, options?: CallOptions): Promise<void>;
    /**
     * Checks a publish (one event, or `{events: [...]}`) as publishing would,
     * strict types included, without storing it: resolves when it would be
     * stored, rejects with the problem publishing would answer.
     */
    validateEvents(channel: string, body: EventInput | {
        events: EventInput[];
    }, options?: CallOptions): Promise<Schemas['Validation']>;
    /** The WebSocket URL (`ws:`/`wss:`) of a channel; the token goes in the query, as browsers cannot set headers. */
    wsUrl(channel: string, query?: QueryOf<'/channels/{channel_id}/ws', 'get'>): string;
    /**
     * The URL of the multiplexed WebSocket (`GET /api/v1/ws`): one socket, many
     * channels, driven with `subscribe` / `unsubscribe` / `refresh` frames (the
     * server README's "One socket, many channels"). `token` is the connection
     * credential, in the query as browsers cannot set headers.
     */
    multiplexedUrl(query?: QueryOf<'/ws', 'get'>): string;
    /** The Server-Sent Events URL of a channel, for `new EventSource(url)`. */
    streamUrl(channel: string, query?: QueryOf<'/channels/{channel_id}/stream', 'get'>): string;
    feed(channel: string, options?: CallOptions): Promise<Schemas['JsonFeed']>;
    rss(channel: string, options?: CallOptions): Promise<string>;
    /**
     * Registers a URL. A new webhook (201) carries its `secret`, shown once; a
     * URL the channel had already (200) comes back without it.
     */
    registerWebhook(channel: string, body: Schemas['RegisterWebhook'], options?: CallOptions): Promise<Schemas['CreatedWebhook'] | Schemas['Webhook']>;
    listWebhooks(channel: string, options?: CallOptions): Promise<Schemas['Webhook'][]>;
    listDeliveries(channel: string, webhookId: string, options?: CallOptions): Promise<Schemas['DeliveryAttempt'][]>;
    deleteWebhook(channel: string, webhookId: string, options?: CallOptions): Promise<void>;
    /** Trusts a public key (admin): Zooid's shape (`kid`, Ed25519 `x`) or any public `jwk`. */
    addKey(body: Schemas['CreateKey'], options?: CallOptions): Promise<Schemas['TrustedKey']>;
    listKeys(options?: CallOptions): Promise<Schemas['KeyList']>;
    /** Stops trusting a key: its tokens stop working and their sockets close (4001). */
    removeKey(kid: string, options?: CallOptions): Promise<Schemas['Removed']>;
    /** Revokes JWTs before their `exp`: one by `jti`, or a subject's by `sub`. */
    revokeJwt(body: Schemas['CreateRevocation'], options?: CallOptions): Promise<Schemas['Revocation']>;
    listRevocations(options?: CallOptions): Promise<Schemas['Revocation'][]>;
    deleteRevocation(revocationId: string, options?: CallOptions): Promise<void>;
    /** What the client's credential (or `options.token`) is and grants; a refused JWT's 401 says why. */
    whoami(options?: CallOptions): Promise<Schemas['Identity']>;
    /** Admin: every node sharing the server's database (this one now, the others as they last reported), the database's health and the webhook backlog. */
    clusterStatus(options?: CallOptions): Promise<Schemas['ClusterStatus']>;
    /** This server, as Zooid's `GET /api/v1/server` describes one. */
    serverMeta(options?: CallOptions): Promise<Schemas['ServerMeta']>;
    /** Change what this server says about itself (admin), as Zooid's `PUT /api/v1/server`: absent fields stay, `null` clears. */
    updateServerMeta(body: Schemas['UpdateServerMeta'], options?: CallOptions): Promise<Schemas['ServerMeta']>;
    /** A claim listing channels in Zooid's directory (or withdrawing them: `action: 'delete'`), signed with the server key (admin). */
    directoryClaim(body: Schemas['DirectoryClaimBody'], options?: CallOptions): Promise<Schemas['DirectoryClaim']>;
    /** What the client's credential grants, in Zooid's shape (`scopes`, `sub`, `iat`, `exp`). */
    tokenClaims(options?: CallOptions): Promise<Schemas['TokenClaims']>;
    /** A JWT signed with the server's HS256 secret (admin); 404 when the server has none. */
    mintToken(body: Schemas['MintToken'], options?: CallOptions): Promise<Schemas['MintedJwt']>;
    /** `/.well-known/channelhub.json`: server id, version and the webhook public key (`whpk_…`). */
    serverInfo(options?: CallOptions): Promise<ServerInfo>;
    /** `/readyz`: resolves when the server and its database answer. */
    ready(options?: CallOptions): Promise<void>;
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
export {};
