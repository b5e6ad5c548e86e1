// Generated from openapi/openapi.json by scripts/generate.mjs: do not edit.
export interface paths {
    "/channels": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List channels in id order: public ones, or all with the admin token. */
        get: {
            parameters: {
                query?: {
                    /** @description From a previous page's `cursor`. */
                    cursor?: string;
                    /** @description 1–1000, default 100. */
                    limit?: number;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["ChannelPage"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /** Create a channel (admin). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["CreateChannel"];
                };
            };
            responses: {
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Channel"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a channel: anyone if public; a subscribe token or admin if private. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Channel"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Delete a channel with its events, tokens and webhooks (admin). */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        /**
         * Update a channel (admin). Making it private closes every live listener
         *     that may not read it (anonymous, publish tokens, other channels' tokens).
         */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["UpdateChannel"];
                };
            };
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Channel"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        trace?: never;
    };
    "/channels/{channel_id}/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List a channel's tokens, never their secrets (admin). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["TokenInfo"][];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /** Create a subscribe or publish token for a channel (admin). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["CreateToken"];
                };
            };
            responses: {
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["CreatedTokenBody"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}/tokens/{token_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke a token (admin): it stops working at once and sockets using it close with 1008. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                    token_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Poll events in publish order. Following `cursor` sees every event
         *     exactly once. With `wait`, answers as soon as an event is there.
         */
        get: {
            parameters: {
                query?: {
                    /** @description From a previous page: continue after it. */
                    cursor?: string;
                    /** @description RFC 3339: only events created at or after this time. */
                    since?: string;
                    /** @description Comma-separated event types. */
                    type?: string;
                    /** @description 1–1000, default 100. */
                    limit?: number;
                    /** @description Seconds (0–60) to wait for an event when none is there yet. */
                    wait?: number;
                };
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["EventPage"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Publish one event or a batch: a publish token of this channel, or admin.
         *     The 201 is sent once the events are durable. On a channel with
         *     `strict_types`, each event needs one of the channel's types and `data`
         *     valid against that type's JSON Schema (400 with the errors otherwise).
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /**
                     * @description Makes retries safe: a repeat of this key on this channel within the
                     *     key window (24 h) stores nothing and answers what the first request
                     *     stored, even if the channel's strict types changed since (410 with
                     *     their ids, not their data, if those events were removed since);
                     *     reusing it for a different request is a 422.
                     */
                    "Idempotency-Key"?: string;
                };
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["PublishBody"];
                };
            };
            responses: {
                /** @description The event, or for a batch the events in order, stored (or, marked `Idempotent-Replayed`, stored by an earlier request with the same `Idempotency-Key`). */
                201: {
                    headers: {
                        "IDEMPOTENT-REPLAYED"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Event"] | components["schemas"]["EventList"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}/events/validate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Check a publish without storing it: the same body, credential and
         *     checks as publishing (size, `meta`, and on a channel with
         *     `strict_types` each event's type and data against its JSON Schema),
         *     answered 200 when the publish would be stored, else with the problem
         *     publishing would answer. Nothing is stored or delivered; it counts
         *     against the publish rate like a publish.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["PublishBody"];
                };
            };
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Validation"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}/events/{event_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get one event. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                    event_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Event"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Delete an event: admin, or the publish token that published it. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                    event_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}/ws": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Subscribe to a channel over WebSocket. Every event published afterwards
         *     is pushed as one text frame, in publish order. Private channels need a
         *     subscribe token (`?token=` or `Authorization: Bearer`). With `after`,
         *     the stored events after that id come first, then live ones, without
         *     gaps or duplicates.
         */
        get: {
            parameters: {
                query?: {
                    /** @description Comma-separated event types; only those are delivered. */
                    types?: string;
                    /** @description A subscribe token for a private channel. */
                    token?: string;
                    /** @description An event id: replay the stored events after it before live ones. */
                    after?: string;
                    /**
                     * @description `app`: close with application codes that tell endings apart
                     *     (4000 slow consumer, 4001 token revoked, 4002 channel made private,
                     *     4003 token expired, 4004 channel deleted, 4011 replay failed)
                     *     instead of 1008/1000/1011.
                     */
                    close_codes?: components["schemas"]["CloseCodes"];
                };
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Switching to the WebSocket protocol: each event published afterwards arrives as one text frame holding the event JSON */
                101: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request is not a WebSocket upgrade */
                426: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ws": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Subscribe to many channels over one WebSocket. After the `hello`
         *     frame the client sends `subscribe`, `unsubscribe` and `refresh`
         *     frames; each subscription gets `subscribed`, its replay (with
         *     `after`), `caught_up`, then live events (the event JSON, as on the
         *     per-channel route), and ends alone with `unsubscribed`. The frame
         *     protocol is in the README ("One socket, many channels"). An optional
         *     connection credential (`Authorization: Bearer` or `?token=`) stands
         *     for every subscription that brings no token of its own; an invalid
         *     one is refused (401).
         */
        get: {
            parameters: {
                query?: {
                    /** @description A connection credential: a channel token, a JWT or the admin token. */
                    token?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Switching to the WebSocket protocol: each event published afterwards arrives as one text frame holding the event JSON */
                101: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request is not a WebSocket upgrade */
                426: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Subscribe to a channel with Server-Sent Events (`EventSource`). A
         *     reconnecting client sends `Last-Event-ID` and first gets every event it
         *     missed, then live ones, without gaps or duplicates. Same auth and
         *     `types` filter as the WebSocket route.
         */
        get: {
            parameters: {
                query?: {
                    /** @description Comma-separated event types; only those are delivered. */
                    types?: string;
                    /** @description A subscribe token for a private channel. */
                    token?: string;
                    /** @description Like `Last-Event-ID`, for clients that cannot set headers. */
                    after?: string;
                };
                header?: {
                    /** @description Sent by a reconnecting `EventSource`: the last event it received. */
                    "Last-Event-ID"?: string;
                };
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /**
                 * @description One SSE message per event: `id:` the event id, `event:` its \
                 *                                   type, `data:` the event JSON
                 */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "text/event-stream": components["schemas"]["Event"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}/feed.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The newest 50 events as a JSON Feed 1.1, newest first. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["JsonFeed"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}/rss": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The newest 50 events as an RSS 2.0 feed, newest first. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/rss+xml; charset=utf-8": string;
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List a channel's webhooks with their state (admin). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Webhook"][];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Register a webhook: anyone on a public channel, a subscribe token or
         *     admin on a private one. Registering a URL the channel has already
         *     returns that webhook (200), so agents can register on every start.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["RegisterWebhook"];
                };
            };
            responses: {
                /**
                 * @description The channel had this URL already: same id, TTL and filter updated,
                 *     active again. The secret is not shown again.
                 */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Webhook"];
                    };
                };
                /** @description A new webhook, with its secret. */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["CreatedWebhook"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}/webhooks/{webhook_id}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Recent delivery attempts of a webhook, newest first (admin). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                    webhook_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["DeliveryAttempt"][];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/channels/{channel_id}/webhooks/{webhook_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete a webhook and its queued deliveries (admin). */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    channel_id: string;
                    webhook_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The trusted keys (admin), as Zooid lists them: `{"keys": [...]}`. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["KeyList"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Trust a public key: JWTs it signs are accepted (admin). Zooid's
         *     request shape; 409 when the kid exists or `--jwt-max-keys` are held.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["CreateKey"];
                };
            };
            responses: {
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["TrustedKey"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/keys/{kid}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Stop trusting a key (admin): its tokens stop working at once on every
         *     node, its holders' sockets close (4001) and the webhooks they
         *     registered stop. 403 when this request is signed by that key.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    kid: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Removed"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/revocations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The JWT deny-list (admin). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Revocation"][];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Revoke JWTs before their `exp` (admin): one token by `jti`, or a
         *     subject's by `sub`. Matching sockets close (4001) on every node.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["CreateRevocation"];
                };
            };
            responses: {
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Revocation"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/revocations/{revocation_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove a deny-list entry (admin): its tokens are accepted again. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    revocation_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The nodes sharing this server's database, for the admin: this node as
         *     it is now, the others as they last reported (every 2 s; `stale` after
         *     10 s without a report), the database's health and the webhook backlog.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["ClusterStatus"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/whoami": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * What the presented credential is and grants: any credential (none is
         *     `anonymous`); an invalid one is 401 naming why.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["Identity"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/server": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This server, as Zooid's clients read one (anyone). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["ServerMeta"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        /**
         * Change what this server says about itself (admin), as Zooid's
         *     `updateServerMeta` and `zooid server set`.
         */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["UpdateServerMeta"];
                };
            };
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["ServerMeta"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/directory/claim": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A claim, signed with the server key, that lists channels in (or with
         *     `action: "delete"`, withdraws them from) Zooid's directory (admin), as
         *     Zooid's `getClaim` and `zooid share`. Each channel must exist.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["DirectoryClaimBody"];
                };
            };
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["DirectoryClaim"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tokens/claims": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * What the presented credential grants, in Zooid's shape (a credential
         *     is needed: 401 without one; a refused JWT's 401 says why).
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["TokenClaims"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Mint a JWT signed with the server's HS256 secret (admin), as Zooid's
         *     `mintToken`; 404 when the server has no `--jwt-secret`.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["MintToken"];
                };
            };
            responses: {
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json; charset=utf-8": components["schemas"]["MintedJwt"];
                    };
                };
                /** @description Malformed request or invalid input */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Missing or invalid credentials */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Valid credentials that do not allow this */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description No such channel, token or event */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description The request body did not arrive within the server's body deadline */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Conflict with the current state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Gone for good: a webhook revoked for lost access (register anew), or an `Idempotency-Key` whose events were removed (`event_ids` names them) */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Body or event data too large */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Well-formed but refused: an `Idempotency-Key` reused for a different request */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description A per-client limit was reached (rate or connections); retry after `Retry-After` seconds. Rate refusals carry `RateLimit` and `RateLimit-Policy` headers */
                429: {
                    headers: {
                        /** @description Seconds to wait before retrying */
                        "Retry-After": string;
                        /** @description IETF httpapi rate-limit draft: the bucket's quota and window, e.g. `"publish";q=2000;w=2` */
                        "RateLimit-Policy"?: string;
                        /** @description IETF httpapi rate-limit draft: what remains and seconds until more, e.g. `"publish";r=0;t=1` */
                        RateLimit?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
                /** @description Database unavailable, or too many checks of this credential in progress (with `Retry-After`); nothing was changed */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/problem+json": components["schemas"]["Problem"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * Channel
         * @description A channel as the API returns it.
         */
        Channel: {
            id: string;
            name: string;
            description: string;
            tags: string[];
            is_public: boolean;
            /** @description Free-form object stored and returned untouched. */
            meta: unknown;
            config: components["schemas"]["ChannelConfig"];
            retention: components["schemas"]["Retention"];
            /** Format: date-time */
            created_at: string;
            /**
             * Format: int64
             * @description Events currently stored.
             */
            event_count: number;
            /** Format: date-time */
            last_event_at?: string | null;
            /**
             * Format: uint64
             * @description Live WebSocket connections on this channel, across all nodes.
             */
            subscribers: number;
        };
        /**
         * ChannelConfig
         * @description Per-channel publishing rules. Unknown keys are refused (400), at every
         *     level: a setting that is not understood must not pass for one that is.
         */
        ChannelConfig: {
            /**
             * @description When true, every event needs a `type` listed in `types` and `data` valid against its schema.
             * @default false
             */
            strict_types: boolean;
            /**
             * @description Event type name → JSON Schema its `data` must satisfy. Each value
             *     must itself be a valid JSON Schema (the draft its `$schema` names,
             *     2020-12 without one), or the request is refused with 400: a rule
             *     this document cannot state in its own schema language.
             * @default {}
             */
            types: {
                [key: string]: Record<string, never> | boolean;
            };
            /**
             * @description Zooid's storage settings, accepted as Zooid writes them:
             *     `retention_days` sets `retention.max_age_seconds` (giving both is a
             *     400). Kept in the config as written.
             */
            storage?: (components["schemas"]["StorageConfig"] & unknown) | null;
        };
        /**
         * ChannelPage
         * @description One page of channels.
         */
        ChannelPage: {
            channels: components["schemas"]["Channel"][];
            /** @description Pass as `cursor` to get the next page. */
            cursor?: string | null;
            has_more: boolean;
        };
        /**
         * @description Which close codes a WebSocket subscriber wants.
         * @enum {string}
         */
        CloseCodes: "seed" | "app";
        /**
         * ClusterStatus
         * @description The nodes sharing this server's database (`GET /api/v1/status`).
         */
        ClusterStatus: {
            /** @description This node first, then the others by id. */
            nodes: components["schemas"]["NodeStatus"][];
            /** @description Whether the database answered this request. */
            database_ready: boolean;
            /**
             * Format: int64
             * @description Webhook deliveries waiting, on every node.
             */
            webhook_backlog: number;
        };
        /**
         * CreateChannel
         * @description A new channel. Only `id` is required.
         */
        CreateChannel: {
            /** @description 3–64 characters of `a-z`, `0-9` and `-`, starting and ending with a letter or digit. */
            id: string;
            /** @description Display name; defaults to the id. */
            name?: string | null;
            description?: string | null;
            tags?: string[] | null;
            /** @description Public channels can be read without a token. Default: true. */
            is_public?: boolean | null;
            /** @description Free-form JSON object, stored and returned untouched. */
            meta?: Record<string, never> | null;
            config?: components["schemas"]["ChannelConfig"] | null;
            retention?: components["schemas"]["Retention"] | null;
        };
        /**
         * CreateKey
         * @description A public key whose JWTs this server accepts. Zooid's shape (`kid` with an
         *     Ed25519 `x`) or any public JWK; exactly one of `x` and `jwk`.
         */
        CreateKey: {
            /** @description The `kid` header its tokens carry: 1 to 128 visible ASCII characters. */
            kid: string;
            /** @description An Ed25519 public key, base64url (32 bytes), as Zooid registers keys. */
            x?: string | null;
            /** @description With `x`: `OKP` (the only type `x` takes). */
            kty?: string | null;
            /** @description With `x`: `Ed25519`. */
            crv?: string | null;
            /**
             * @description A public JWK instead of `x`: OKP Ed25519, EC P-256 or P-384, or RSA
             *     (2048 to 8192 bits). Private members (`d`, `p`, ...) are refused.
             */
            jwk?: unknown;
            /**
             * @description The algorithm its tokens must name (pinned): derived from the key
             *     when omitted (EdDSA, ES256, ES384, RS256); RSA keys may take RS384,
             *     RS512 or PS256/384/512.
             */
            alg?: string | null;
            /**
             * @description The most its tokens may grant (`admin`, `pub:<pattern>`,
             *     `sub:<pattern>`); absent or null: no ceiling, as in Zooid.
             */
            max_scopes?: string[] | null;
            /**
             * @description Prefixes the publisher ids of its tokens (`<issuer>:<sub>`); a token's
             *     `iss`, when present, must equal it.
             */
            issuer?: string | null;
            /**
             * @description Whether its tokens must carry `exp` (default true; false accepts
             *     Zooid's non-expiring tokens).
             */
            require_exp?: boolean | null;
            /**
             * Format: int64
             * @description Seconds its tokens may live at most (`exp - iat`).
             */
            max_ttl?: number | null;
            /** @description Not supported yet (400): register the key itself. */
            jwks_url?: string | null;
        };
        /**
         * CreateRevocation
         * @description A deny-list entry to add: `jti` (one token) or `sub` (a subject's tokens,
         *     optionally only those issued before a time).
         */
        CreateRevocation: {
            jti?: string | null;
            sub?: string | null;
            /**
             * @description With `sub`: the issuer of the keys whose tokens it covers (omit for
             *     keys without one and the HS256 secret).
             */
            issuer?: string | null;
            /**
             * Format: date-time
             * @description With `sub`: only tokens whose `iat` is before this time (RFC 3339);
             *     tokens without `iat` are covered too.
             */
            issued_before?: string | null;
            /**
             * Format: date-time
             * @description When the entry may be forgotten (RFC 3339): after the last token it
             *     covers expires. Omit to keep it until deleted.
             */
            expires_at?: string | null;
        };
        /**
         * CreateToken
         * @description A token to create: its `kind` says which.
         */
        CreateToken: components["schemas"]["CreateSubscribeToken"] | components["schemas"]["CreatePublishToken"];
        /**
         * CreatedTokenBody
         * @description A created token. `token` is the secret: it is shown this once and only a
         *     hash of it is kept.
         */
        CreatedTokenBody: {
            id: string;
            kind: components["schemas"]["TokenKind"];
            channel_id: string;
            name?: string | null;
            publisher_id?: string | null;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            expires_at?: string | null;
            token: string;
        };
        /**
         * CreatedWebhook
         * @description A webhook with its signing secret (`whsec_…`), shown this once.
         */
        CreatedWebhook: {
            id: string;
            channel_id: string;
            /** Format: uri */
            url: string;
            /** @description Only these event types are delivered; null delivers every event. */
            event_types?: string[] | null;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            expires_at: string;
            state: components["schemas"]["WebhookState"];
            /** @description Why the last delivery attempt failed, if it did. */
            last_error?: string | null;
            /**
             * Format: date-time
             * @description When the current run of failures began.
             */
            failing_since?: string | null;
            /** Format: date-time */
            last_success_at?: string | null;
            /**
             * @description Who registered it: `admin`, `token:<token id>` or
             *     `anonymous:<client address>`. Only they (or the admin) may change it.
             */
            registered_by: string;
            secret: string;
        };
        /**
         * DeliveryAttempt
         * @description One attempt to deliver an event to a webhook.
         */
        DeliveryAttempt: {
            event_id: string;
            /**
             * Format: int64
             * @description 1 for the first try of this event, then 2, 3, ...
             */
            attempt: number;
            /** Format: date-time */
            at: string;
            /**
             * @description `success`, `http_error`, `network_error`, `timeout` or `refused`.
             * @enum {string}
             */
            outcome: "success" | "http_error" | "network_error" | "timeout" | "refused";
            /**
             * Format: int64
             * @description The target's HTTP status, when it answered.
             */
            status?: number | null;
            error?: string | null;
            /** Format: int64 */
            duration_ms: number;
        };
        /**
         * DirectoryClaim
         * @description A signed directory claim.
         */
        DirectoryClaim: {
            /**
             * @description The claim's JSON text (`server_url`, `channels`, `timestamp`, and
             *     `action` when withdrawing), base64url without padding.
             */
            claim: string;
            /**
             * @description Ed25519 over the claim's JSON text with the server key (the one
             *     `/.well-known/zooid.json` publishes), base64url without padding.
             */
            signature: string;
        };
        /**
         * DirectoryClaimBody
         * @description What to claim in Zooid's directory (`POST /api/v1/directory/claim`).
         */
        DirectoryClaimBody: {
            /** @description Existing channel ids, 1–100. */
            channels: string[];
            /** @description `delete` to withdraw the channels from the directory. */
            action?: string | null;
        };
        /**
         * Event
         * @description An event as every delivery path sends it.
         *
         *     Field order here is the order on the wire; WebSocket frames, poll pages and
         *     webhook bodies are all written from this one type.
         */
        Event: {
            /** @description ULID; increases in publish order within a channel. */
            id: string;
            channel_id: string;
            type?: string | null;
            data: unknown;
            /** @description Opaque string stored and returned untouched. */
            meta?: string | null;
            publisher_id: string;
            publisher_name?: string | null;
            /** Format: date-time */
            created_at: string;
        };
        /**
         * EventBatchInput
         * @description Several events to publish at once, in order (1–100).
         */
        EventBatchInput: {
            events: components["schemas"]["EventInput"][];
        };
        /**
         * EventInput
         * @description One event to publish.
         */
        EventInput: {
            /** @description Event type, used by subscribers' filters. */
            type?: string | null;
            /** @description Any JSON value, at most 64 KiB serialized. */
            data: unknown;
            /**
             * @description An opaque string stored and returned untouched, at most 16 KiB
             *     (16 384 bytes of UTF-8; 400 past it). A JSON object is accepted too
             *     (as Zooid's clients send it): stored and returned as its JSON text.
             */
            meta?: (string | Record<string, never>) | null;
        };
        /**
         * EventList
         * @description A published batch.
         */
        EventList: {
            events: components["schemas"]["Event"][];
        };
        /**
         * EventPage
         * @description One page of events.
         */
        EventPage: {
            events: components["schemas"]["Event"][];
            /** @description Pass as `cursor` to continue after the last event of this page. */
            cursor?: string | null;
            has_more: boolean;
            /**
             * @description Set when events after the request's `cursor` were removed (retention
             *     or deletion) before they could be read: this page continues after a
             *     gap. Null when nothing was missed.
             */
            gap?: (components["schemas"]["GapNotice"] & unknown) | null;
        };
        /**
         * GapNotice
         * @description Events a consumer can no longer read: every event after its resume point
         *     up to and including `removed_through` was removed.
         */
        GapNotice: {
            /** @description The newest removed event id. */
            removed_through: string;
        };
        /**
         * Identity
         * @description What a credential is and grants (`GET /whoami`).
         */
        Identity: {
            /** @description `anonymous`, `admin`, `channel_token` or `jwt`. */
            kind: string;
            /** @description What it grants, as scopes (`admin`, `pub:<pattern>`, `sub:<pattern>`). */
            scopes: string[];
            /** @description JWTs: `<issuer>:<sub>` or `sub`; publish tokens: their publisher id. */
            subject?: string | null;
            name?: string | null;
            /** @description JWTs: the key that signed it (none for the HS256 secret). */
            kid?: string | null;
            issuer?: string | null;
            jti?: string | null;
            /**
             * Format: date-time
             * @description When it stops being accepted (a JWT's `exp` plus the leeway).
             */
            expires_at?: string | null;
            /** @description Channel tokens: their channel and id. */
            channel_id?: string | null;
            token_id?: string | null;
        };
        /**
         * JsonFeed
         * @description A JSON Feed 1.1 document.
         */
        JsonFeed: {
            /** @description Always `https://jsonfeed.org/version/1.1`. */
            version: string;
            title: string;
            description: string;
            feed_url: string;
            items: components["schemas"]["JsonFeedItem"][];
        };
        /**
         * JsonFeedItem
         * @description One event as a JSON Feed item; `_channelhub` holds the event itself.
         */
        JsonFeedItem: {
            id: string;
            url: string;
            title: string;
            /** @description The event's `data` as JSON text. */
            content_text: string;
            date_published: string;
            tags: string[];
            _channelhub: components["schemas"]["Event"];
        };
        /**
         * KeyList
         * @description The trusted keys, as Zooid lists them.
         */
        KeyList: {
            keys: components["schemas"]["TrustedKey"][];
        };
        /**
         * MintToken
         * @description A token to mint (Zooid's `POST /api/v1/tokens` body).
         */
        MintToken: {
            /**
             * @description `admin`, `pub:<pattern>` or `sub:<pattern>` (a pattern is a channel
             *     id, `*`, or a prefix ending in `*`).
             */
            scopes: string[];
            sub?: string | null;
            name?: string | null;
            /**
             * @description `<number><s|m|h|d>` (`5m`, `1h`, `7d`). Without it the token lasts a
             *     day when the server requires `exp` (the default), else it has none.
             */
            expires_in?: string | null;
            /** @description Carried as the `groups` claim; grants nothing. */
            groups?: string[] | null;
        };
        /**
         * MintedJwt
         * @description A minted token.
         */
        MintedJwt: {
            token: string;
        };
        /**
         * NodeStatus
         * @description One node of the cluster (one process), as it last reported itself.
         */
        NodeStatus: {
            /** @description The node's id (a ULID made when it started). */
            node_id: string;
            /** @description The node that answered this request. */
            this_node: boolean;
            version: string;
            /** @description When the node started (RFC 3339). */
            started_at: string;
            /** @description When the node last reported (RFC 3339; now, for this node). */
            reported_at: string;
            /** @description `up` (reported within the last 10 s) or `stale` (stopped, or cut off from the database). */
            state: string;
            /**
             * Format: uint64
             * @description Live subscribers it holds (WebSocket, SSE and multiplexed subscriptions).
             */
            subscribers: number;
            /**
             * Format: uint64
             * @description Channels with a live subscriber on it.
             */
            live_channels: number;
        };
        /**
         * Problem
         * @description An RFC 9457 problem document.
         */
        Problem: {
            /** @description A URI naming the kind of problem. */
            type: string;
            title: string;
            /** Format: uint16 */
            status: number;
            /** @description What went wrong with this request, for a person to read. */
            detail: string;
            /**
             * @description The same text as `detail` (an RFC 9457 extension member): Zooid's SDK
             *     and CLI read a failure's reason from `error`.
             */
            error: string;
        };
        /** @description One event, or a batch under `events`. */
        PublishBody: components["schemas"]["EventBatchInput"] | components["schemas"]["EventInput"];
        /**
         * RegisterWebhook
         * @description A URL to receive the channel's events.
         */
        RegisterWebhook: {
            /**
             * Format: uri
             * @description http(s) URL each matching event is POSTed to. It must be a URL the
             *     WHATWG URL standard accepts and, unless the server allows private
             *     targets, its host must resolve to public addresses only, and its
             *     normalized form (non-ASCII percent-encoded), which is what is stored,
             *     must be at most 2048 characters too; otherwise 400 (rules this
             *     document cannot state in its schema language).
             */
            url: string;
            /** @description Only these event types; omit for every event. */
            event_types?: string[] | null;
            /**
             * Format: uint64
             * @description Lifetime in seconds (default 3 days); re-register to extend it.
             */
            ttl_seconds?: number | null;
        };
        /**
         * Removed
         * @description Zooid's answer to a removal.
         */
        Removed: {
            ok: boolean;
        };
        /**
         * Retention
         * @description How long a channel keeps its events; the oldest go first.
         */
        Retention: {
            /**
             * Format: int64
             * @description Events older than this are removed.
             */
            max_age_seconds?: number | null;
            /**
             * Format: int64
             * @description At most this many events are kept.
             */
            max_events?: number | null;
        };
        /**
         * Revocation
         * @description A deny-list entry.
         */
        Revocation: {
            id: string;
            jti?: string | null;
            sub?: string | null;
            issuer?: string | null;
            /** Format: date-time */
            issued_before?: string | null;
            /** Format: date-time */
            expires_at?: string | null;
            /** Format: date-time */
            created_at: string;
        };
        /**
         * ServerMeta
         * @description This server, as Zooid's `GET /api/v1/server` describes one.
         */
        ServerMeta: {
            name: string;
            description?: string | null;
            tags: string[];
            owner?: string | null;
            company?: string | null;
            email?: string | null;
            /**
             * Format: date-time
             * @description When the admin last changed it (RFC 3339; now, if never).
             */
            updated_at: string;
        };
        /**
         * StorageConfig
         * @description Zooid's `config.storage`.
         */
        StorageConfig: {
            /**
             * Format: double
             * @description Days events are kept (whole days; fractions are rounded down, as
             *     Zooid does): 1 to 36 500.
             */
            retention_days?: number | null;
        };
        /**
         * TokenClaims
         * @description What the presented credential grants, in Zooid's shape.
         */
        TokenClaims: {
            /** @description `admin`, `pub:<pattern>`, `sub:<pattern>`. */
            scopes: string[];
            sub?: string | null;
            name?: string | null;
            /**
             * Format: int64
             * @description When it was issued (seconds), if known.
             */
            iat?: number | null;
            /**
             * Format: int64
             * @description When it expires (seconds), if it does.
             */
            exp?: number | null;
        };
        /**
         * TokenInfo
         * @description A token as listed: never the secret, never the hash.
         */
        TokenInfo: {
            id: string;
            kind: components["schemas"]["TokenKind"];
            channel_id: string;
            name?: string | null;
            publisher_id?: string | null;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            expires_at?: string | null;
        };
        /**
         * @description What a token lets its holder do on its channel.
         * @enum {string}
         */
        TokenKind: "subscribe" | "publish";
        /**
         * TrustedKey
         * @description A trusted key, as Zooid lists keys, with channelhub's additions.
         */
        TrustedKey: {
            kid: string;
            kty: string;
            crv?: string | null;
            /** @description The public key's `x` (Ed25519 and EC keys). */
            x?: string | null;
            max_scopes?: string[] | null;
            issuer?: string | null;
            /** @description Always null: keys are not fetched from URLs (yet). */
            jwks_url?: string | null;
            /** Format: date-time */
            created_at: string;
            /** @description The algorithm its tokens must name. */
            alg: string;
            /** @description The public JWK. */
            jwk: unknown;
            require_exp: boolean;
            /**
             * Format: int64
             * @description Seconds its tokens may live at most.
             */
            max_ttl?: number | null;
        };
        /**
         * UpdateChannel
         * @description Fields to change; absent fields stay as they are. `null` resets
         *     `description` (to ""), `tags` (to []), `meta` (to {}), `config` (to no
         *     types, not strict) and `retention` (to none); on `name` and `is_public`
         *     it changes nothing.
         */
        UpdateChannel: {
            name?: string | null;
            description?: string | null;
            tags?: string[] | null;
            is_public?: boolean | null;
            meta?: Record<string, never> | null;
            config?: components["schemas"]["ChannelConfig"] | null;
            retention?: components["schemas"]["Retention"] | null;
        };
        /**
         * UpdateServerMeta
         * @description A change to the server's profile (Zooid's `PUT /api/v1/server` body):
         *     absent fields stay as they are, `null` clears one.
         */
        UpdateServerMeta: {
            /** @description Not `null`: a server always has a name. */
            name?: string;
            description?: string | null;
            /** @description `null` clears, as `[]` does. */
            tags?: string[] | null;
            owner?: string | null;
            company?: string | null;
            email?: string | null;
        };
        /**
         * Validation
         * @description What a validate-only publish found: the events would be stored.
         */
        Validation: {
            /** @description Always true: a publish that would be refused is answered with its problem. */
            valid: boolean;
            /**
             * Format: uint32
             * @description How many events the publish holds.
             */
            events: number;
        };
        /**
         * Webhook
         * @description A webhook as listed: never the secret.
         */
        Webhook: {
            id: string;
            channel_id: string;
            /** Format: uri */
            url: string;
            /** @description Only these event types are delivered; null delivers every event. */
            event_types?: string[] | null;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            expires_at: string;
            state: components["schemas"]["WebhookState"];
            /** @description Why the last delivery attempt failed, if it did. */
            last_error?: string | null;
            /**
             * Format: date-time
             * @description When the current run of failures began.
             */
            failing_since?: string | null;
            /** Format: date-time */
            last_success_at?: string | null;
            /**
             * @description Who registered it: `admin`, `token:<token id>` or
             *     `anonymous:<client address>`. Only they (or the admin) may change it.
             */
            registered_by: string;
        };
        /**
         * @description Whether a webhook still receives deliveries.
         * @enum {string}
         */
        WebhookState: "active" | "disabled" | "revoked";
        /**
         * CreateSubscribeToken
         * @description A subscribe token to create.
         */
        CreateSubscribeToken: {
            /** @enum {string} */
            kind: "subscribe";
            name?: string | null;
            /**
             * @description Publish tokens only: absent or null here.
             * @enum {unknown|null}
             */
            publisher_id?: null;
            /**
             * Format: int64
             * @description Omit for a token that never expires; at most 100 years.
             */
            expires_in_seconds?: number | null;
        };
        /**
         * CreatePublishToken
         * @description A publish token to create.
         */
        CreatePublishToken: {
            /** @enum {string} */
            kind: "publish";
            name?: string | null;
            /**
             * @description Publish tokens only: stamped on every event published with the token.
             *     Defaults to the token's id.
             */
            publisher_id?: string | null;
            /**
             * Format: int64
             * @description Omit for a token that never expires; at most 100 years.
             */
            expires_in_seconds?: number | null;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
