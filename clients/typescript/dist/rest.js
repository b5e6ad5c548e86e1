import { ChannelhubError } from './errors.js';
export class RestClient {
    baseUrl;
    token;
    fetchImpl;
    WebSocketImpl;
    constructor(options) {
        this.baseUrl = options.url.replace(/\/+$/, '');
        this.token = options.token;
        // Bound so that a browser's fetch is not called with the client as `this`.
        this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
        this.WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
    }
    /** An absolute URL under the server (`path` starts with `/`). */
    url(path, query = {}) {
        const url = new URL(this.baseUrl + path);
        for (const [key, value] of Object.entries(query)) {
            if (value !== undefined)
                url.searchParams.set(key, String(value));
        }
        return url;
    }
    /** Sends one request and returns its response, or throws `ChannelhubError` for a non-2xx. */
    async send(method, path, init = {}) {
        const headers = { accept: 'application/json, application/problem+json', ...init.headers };
        const token = init.token ?? this.token;
        if (token)
            headers.authorization = `Bearer ${token}`;
        if (init.body !== undefined)
            headers['content-type'] = 'application/json';
        const response = await this.fetchImpl(this.url(path, init.query), {
            method,
            headers,
            body: init.body === undefined ? undefined : JSON.stringify(init.body),
            signal: init.signal,
        });
        if (!response.ok)
            throw await ChannelhubError.fromResponse(response);
        return response;
    }
    /** `send` under `/api/v1`, answering the JSON body (nothing for a 204). */
    async call(method, path, init = {}) {
        const response = await this.send(method, `/api/v1${path}`, init);
        if (response.status === 204)
            return undefined;
        return (await response.json());
    }
    // --- Channels ---------------------------------------------------------
    createChannel(body, options) {
        return this.call('POST', '/channels', { ...options, body });
    }
    listChannels(query = {}, options) {
        return this.call('GET', '/channels', { ...options, query });
    }
    getChannel(channel, options) {
        return this.call('GET', `/channels/${seg(channel)}`, options);
    }
    updateChannel(channel, body, options) {
        return this.call('PATCH', `/channels/${seg(channel)}`, { ...options, body });
    }
    deleteChannel(channel, options) {
        return this.call('DELETE', `/channels/${seg(channel)}`, options);
    }
    // --- Tokens -----------------------------------------------------------
    createToken(channel, body, options) {
        return this.call('POST', `/channels/${seg(channel)}/tokens`, { ...options, body });
    }
    listTokens(channel, options) {
        return this.call('GET', `/channels/${seg(channel)}/tokens`, options);
    }
    revokeToken(channel, tokenId, options) {
        return this.call('DELETE', `/channels/${seg(channel)}/tokens/${seg(tokenId)}`, options);
    }
    // --- Events (publishing is in publish.ts) -----------------------------
    /** One page of events; follow `cursor` to see every event once, in order. */
    pollEvents(channel, query = {}, options) {
        return this.call('GET', `/channels/${seg(channel)}/events`, { ...options, query });
    }
    getEvent(channel, eventId, options) {
        return this.call('GET', `/channels/${seg(channel)}/events/${seg(eventId)}`, options);
    }
    deleteEvent(channel, eventId, options) {
        return this.call('DELETE', `/channels/${seg(channel)}/events/${seg(eventId)}`, options);
    }
    /**
     * Checks a publish (one event, or `{events: [...]}`) as publishing would,
     * strict types included, without storing it: resolves when it would be
     * stored, rejects with the problem publishing would answer.
     */
    validateEvents(channel, body, options) {
        return this.call('POST', `/channels/${seg(channel)}/events/validate`, { ...options, body });
    }
    // --- Live (subscribing is in subscribe.ts) ----------------------------
    /** The WebSocket URL (`ws:`/`wss:`) of a channel; the token goes in the query, as browsers cannot set headers. */
    wsUrl(channel, query = {}) {
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
    multiplexedUrl(query = {}) {
        const url = this.url('/api/v1/ws', query);
        url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
        return url.toString();
    }
    /** The Server-Sent Events URL of a channel, for `new EventSource(url)`. */
    streamUrl(channel, query = {}) {
        return this.url(`/api/v1/channels/${seg(channel)}/stream`, query).toString();
    }
    // --- Feeds -------------------------------------------------------------
    feed(channel, options) {
        return this.call('GET', `/channels/${seg(channel)}/feed.json`, options);
    }
    async rss(channel, options) {
        return (await this.send('GET', `/api/v1/channels/${seg(channel)}/rss`, options)).text();
    }
    // --- Webhooks ----------------------------------------------------------
    /**
     * Registers a URL. A new webhook (201) carries its `secret`, shown once; a
     * URL the channel had already (200) comes back without it.
     */
    registerWebhook(channel, body, options) {
        return this.call('POST', `/channels/${seg(channel)}/webhooks`, { ...options, body });
    }
    listWebhooks(channel, options) {
        return this.call('GET', `/channels/${seg(channel)}/webhooks`, options);
    }
    listDeliveries(channel, webhookId, options) {
        return this.call('GET', `/channels/${seg(channel)}/webhooks/${seg(webhookId)}/deliveries`, options);
    }
    deleteWebhook(channel, webhookId, options) {
        return this.call('DELETE', `/channels/${seg(channel)}/webhooks/${seg(webhookId)}`, options);
    }
    // --- Keys, revocations, whoami (JWTs) ---------------------------------
    /** Trusts a public key (admin): Zooid's shape (`kid`, Ed25519 `x`) or any public `jwk`. */
    addKey(body, options) {
        return this.call('POST', '/keys', { ...options, body });
    }
    listKeys(options) {
        return this.call('GET', '/keys', options);
    }
    /** Stops trusting a key: its tokens stop working and their sockets close (4001). */
    removeKey(kid, options) {
        return this.call('DELETE', `/keys/${seg(kid)}`, options);
    }
    /** Revokes JWTs before their `exp`: one by `jti`, or a subject's by `sub`. */
    revokeJwt(body, options) {
        return this.call('POST', '/revocations', { ...options, body });
    }
    listRevocations(options) {
        return this.call('GET', '/revocations', options);
    }
    deleteRevocation(revocationId, options) {
        return this.call('DELETE', `/revocations/${seg(revocationId)}`, options);
    }
    /** What the client's credential (or `options.token`) is and grants; a refused JWT's 401 says why. */
    whoami(options) {
        return this.call('GET', '/whoami', options);
    }
    /** Admin: every node sharing the server's database (this one now, the others as they last reported), the database's health and the webhook backlog. */
    clusterStatus(options) {
        return this.call('GET', '/status', options);
    }
    // --- Zooid's routes -------------------------------------------------------
    /** This server, as Zooid's `GET /api/v1/server` describes one. */
    serverMeta(options) {
        return this.call('GET', '/server', options);
    }
    /** Change what this server says about itself (admin), as Zooid's `PUT /api/v1/server`: absent fields stay, `null` clears. */
    updateServerMeta(body, options) {
        return this.call('PUT', '/server', { ...options, body });
    }
    /** A claim listing channels in Zooid's directory (or withdrawing them: `action: 'delete'`), signed with the server key (admin). */
    directoryClaim(body, options) {
        return this.call('POST', '/directory/claim', { ...options, body });
    }
    /** What the client's credential grants, in Zooid's shape (`scopes`, `sub`, `iat`, `exp`). */
    tokenClaims(options) {
        return this.call('GET', '/tokens/claims', options);
    }
    /** A JWT signed with the server's HS256 secret (admin); 404 when the server has none. */
    mintToken(body, options) {
        return this.call('POST', '/tokens', { ...options, body });
    }
    // --- Outside /api/v1 (not in the OpenAPI document) ---------------------
    /** `/.well-known/channelhub.json`: server id, version and the webhook public key (`whpk_…`). */
    async serverInfo(options) {
        return (await this.send('GET', '/.well-known/channelhub.json', options)).json();
    }
    /** `/readyz`: resolves when the server and its database answer. */
    async ready(options) {
        await this.send('GET', '/readyz', options);
    }
}
function seg(value) {
    return encodeURIComponent(value);
}
//# sourceMappingURL=rest.js.map