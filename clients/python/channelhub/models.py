# Generated from openapi/openapi.json by scripts/generate.sh; do not edit.

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AnyUrl, AwareDatetime, BaseModel, ConfigDict, Field, RootModel


class CloseCodes(StrEnum):
    seed = 'seed'
    app = 'app'


class Tag(RootModel[str]):
    root: Annotated[str, Field(max_length=64, min_length=1, pattern='^[^\\u0000]*$')]


class MaxScope(RootModel[str]):
    root: Annotated[str, Field(pattern='^[^\\u0000]*$')]


class CreateKey(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kid: Annotated[
        str,
        Field(
            description='The `kid` header its tokens carry: 1 to 128 visible ASCII characters.',
            max_length=128,
            min_length=1,
            pattern='^[^\\u0000]*$',
        ),
    ]
    x: Annotated[
        str | None,
        Field(
            description='An Ed25519 public key, base64url (32 bytes), as Zooid registers keys.',
            max_length=64,
            pattern='^[^\\u0000]*$',
        ),
    ] = None
    kty: Annotated[
        str | None,
        Field(
            description='With `x`: `OKP` (the only type `x` takes).',
            pattern='^[^\\u0000]*$',
        ),
    ] = None
    crv: Annotated[
        str | None, Field(description='With `x`: `Ed25519`.', pattern='^[^\\u0000]*$')
    ] = None
    jwk: Annotated[
        Any | None,
        Field(
            description='A public JWK instead of `x`: OKP Ed25519, EC P-256 or P-384, or RSA\n(2048 to 8192 bits). Private members (`d`, `p`, ...) are refused.'
        ),
    ] = None
    alg: Annotated[
        str | None,
        Field(
            description='The algorithm its tokens must name (pinned): derived from the key\nwhen omitted (EdDSA, ES256, ES384, RS256); RSA keys may take RS384,\nRS512 or PS256/384/512.',
            pattern='^[^\\u0000]*$',
        ),
    ] = None
    max_scopes: Annotated[
        list[MaxScope] | None,
        Field(
            description='The most its tokens may grant (`admin`, `pub:<pattern>`,\n`sub:<pattern>`); absent or null: no ceiling, as in Zooid.',
            max_length=64,
        ),
    ] = None
    issuer: Annotated[
        str | None,
        Field(
            description="Prefixes the publisher ids of its tokens (`<issuer>:<sub>`); a token's\n`iss`, when present, must equal it.",
            max_length=256,
            pattern='^[^\\u0000]*$',
        ),
    ] = None
    require_exp: Annotated[
        bool | None,
        Field(
            description="Whether its tokens must carry `exp` (default true; false accepts\nZooid's non-expiring tokens)."
        ),
    ] = None
    max_ttl: Annotated[
        int | None,
        Field(
            description='Seconds its tokens may live at most (`exp - iat`).',
            ge=1,
            le=3153600000,
        ),
    ] = None
    jwks_url: Annotated[
        str | None,
        Field(
            description='Not supported yet (400): register the key itself.',
            pattern='^[^\\u0000]*$',
        ),
    ] = None


class CreateRevocation(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    jti: Annotated[
        str | None, Field(max_length=256, min_length=1, pattern='^[^\\u0000]*$')
    ] = None
    sub: Annotated[
        str | None, Field(max_length=256, min_length=1, pattern='^[^\\u0000]*$')
    ] = None
    issuer: Annotated[
        str | None,
        Field(
            description='With `sub`: the issuer of the keys whose tokens it covers (omit for\nkeys without one and the HS256 secret).',
            max_length=256,
            min_length=1,
            pattern='^[^\\u0000]*$',
        ),
    ] = None
    issued_before: Annotated[
        AwareDatetime | None,
        Field(
            description='With `sub`: only tokens whose `iat` is before this time (RFC 3339);\ntokens without `iat` are covered too.'
        ),
    ] = None
    expires_at: Annotated[
        AwareDatetime | None,
        Field(
            description='When the entry may be forgotten (RFC 3339): after the last token it\ncovers expires. Omit to keep it until deleted.'
        ),
    ] = None


class Outcome(StrEnum):
    success = 'success'
    http_error = 'http_error'
    network_error = 'network_error'
    timeout = 'timeout'
    refused = 'refused'


class DeliveryAttempt(BaseModel):
    event_id: str
    attempt: Annotated[
        int, Field(description='1 for the first try of this event, then 2, 3, ...')
    ]
    at: AwareDatetime
    outcome: Annotated[
        Outcome,
        Field(
            description='`success`, `http_error`, `network_error`, `timeout` or `refused`.'
        ),
    ]
    status: Annotated[
        int | None, Field(description="The target's HTTP status, when it answered.")
    ] = None
    error: str | None = None
    duration_ms: int


class DirectoryClaim(BaseModel):
    claim: Annotated[
        str,
        Field(
            description="The claim's JSON text (`server_url`, `channels`, `timestamp`, and\n`action` when withdrawing), base64url without padding."
        ),
    ]
    signature: Annotated[
        str,
        Field(
            description="Ed25519 over the claim's JSON text with the server key (the one\n`/.well-known/zooid.json` publishes), base64url without padding."
        ),
    ]


class Channel1(RootModel[str]):
    root: Annotated[str, Field(pattern='^[^\\u0000]*$')]


class DirectoryClaimBody(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    channels: Annotated[
        list[Channel1],
        Field(description='Existing channel ids, 1–100.', max_length=100, min_length=1),
    ]
    action: Annotated[
        str | None,
        Field(
            description='`delete` to withdraw the channels from the directory.',
            pattern='^delete$',
        ),
    ] = None


class Event(BaseModel):
    id: Annotated[
        str, Field(description='ULID; increases in publish order within a channel.')
    ]
    channel_id: str
    type: str | None = None
    data: Any
    meta: Annotated[
        str | None, Field(description='Opaque string stored and returned untouched.')
    ] = None
    publisher_id: str
    publisher_name: str | None = None
    created_at: AwareDatetime


class Meta(RootModel[str | None]):
    root: Annotated[
        str | None,
        Field(
            description="An opaque string stored and returned untouched, at most 16 KiB\n(16 384 bytes of UTF-8; 400 past it). A JSON object is accepted too\n(as Zooid's clients send it): stored and returned as its JSON text.",
            pattern='^[^\\u0000]*$',
        ),
    ] = None


class EventInput(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    type: Annotated[
        str | None,
        Field(
            description="Event type, used by subscribers' filters.",
            max_length=128,
            min_length=1,
            pattern='^[^\\u0000]*$',
        ),
    ] = None
    data: Annotated[
        Any, Field(description='Any JSON value, at most 64 KiB serialized.')
    ]
    meta: Annotated[
        Meta | dict[str, Any] | None,
        Field(
            description="An opaque string stored and returned untouched, at most 16 KiB\n(16 384 bytes of UTF-8; 400 past it). A JSON object is accepted too\n(as Zooid's clients send it): stored and returned as its JSON text."
        ),
    ] = None


class EventList(BaseModel):
    events: list[Event]


class GapNotice(BaseModel):
    removed_through: Annotated[str, Field(description='The newest removed event id.')]


class Identity(BaseModel):
    kind: Annotated[
        str, Field(description='`anonymous`, `admin`, `channel_token` or `jwt`.')
    ]
    scopes: Annotated[
        list[str],
        Field(
            description='What it grants, as scopes (`admin`, `pub:<pattern>`, `sub:<pattern>`).'
        ),
    ]
    subject: Annotated[
        str | None,
        Field(
            description='JWTs: `<issuer>:<sub>` or `sub`; publish tokens: their publisher id.'
        ),
    ] = None
    name: str | None = None
    kid: Annotated[
        str | None,
        Field(description='JWTs: the key that signed it (none for the HS256 secret).'),
    ] = None
    issuer: str | None = None
    jti: str | None = None
    expires_at: Annotated[
        AwareDatetime | None,
        Field(
            description="When it stops being accepted (a JWT's `exp` plus the leeway)."
        ),
    ] = None
    channel_id: Annotated[
        str | None, Field(description='Channel tokens: their channel and id.')
    ] = None
    token_id: str | None = None


class JsonFeedItem(BaseModel):
    id: str
    url: str
    title: str
    content_text: Annotated[str, Field(description="The event's `data` as JSON text.")]
    date_published: str
    tags: list[str]
    field_channelhub: Annotated[Event, Field(alias='_channelhub')]


class Scope(RootModel[str]):
    root: Annotated[str, Field(pattern='^[^\\u0000]*$')]


class Group(RootModel[str]):
    root: Annotated[str, Field(pattern='^[^\\u0000]*$')]


class MintToken(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    scopes: Annotated[
        list[Scope],
        Field(
            description='`admin`, `pub:<pattern>` or `sub:<pattern>` (a pattern is a channel\nid, `*`, or a prefix ending in `*`).',
            max_length=256,
            min_length=1,
        ),
    ]
    sub: Annotated[
        str | None, Field(max_length=256, min_length=1, pattern='^[^\\u0000]*$')
    ] = None
    name: Annotated[
        str | None, Field(max_length=256, min_length=1, pattern='^[^\\u0000]*$')
    ] = None
    expires_in: Annotated[
        str | None,
        Field(
            description='`<number><s|m|h|d>` (`5m`, `1h`, `7d`). Without it the token lasts a\nday when the server requires `exp` (the default), else it has none.',
            pattern='^[0-9]{1,9}[smhd]$',
        ),
    ] = None
    groups: Annotated[
        list[Group] | None,
        Field(
            description='Carried as the `groups` claim; grants nothing.', max_length=64
        ),
    ] = None


class MintedJwt(BaseModel):
    token: str


class NodeStatus(BaseModel):
    node_id: Annotated[
        str, Field(description="The node's id (a ULID made when it started).")
    ]
    this_node: Annotated[
        bool, Field(description='The node that answered this request.')
    ]
    version: str
    started_at: Annotated[str, Field(description='When the node started (RFC 3339).')]
    reported_at: Annotated[
        str,
        Field(
            description='When the node last reported (RFC 3339; now, for this node).'
        ),
    ]
    state: Annotated[
        str,
        Field(
            description='`up` (reported within the last 10 s) or `stale` (stopped, or cut off from the database).'
        ),
    ]
    subscribers: Annotated[
        int,
        Field(
            description='Live subscribers it holds (WebSocket, SSE and multiplexed subscriptions).'
        ),
    ]
    live_channels: Annotated[
        int, Field(description='Channels with a live subscriber on it.')
    ]


class Problem(BaseModel):
    type: Annotated[str, Field(description='A URI naming the kind of problem.')]
    title: str
    status: int
    detail: Annotated[
        str,
        Field(description='What went wrong with this request, for a person to read.'),
    ]
    error: Annotated[
        str,
        Field(
            description="The same text as `detail` (an RFC 9457 extension member): Zooid's SDK\nand CLI read a failure's reason from `error`."
        ),
    ]


class EventType(RootModel[str]):
    root: Annotated[str, Field(min_length=1, pattern='^[^\\u0000]*$')]


class RegisterWebhook(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    url: Annotated[
        AnyUrl,
        Field(
            description='http(s) URL each matching event is POSTed to. It must be a URL the\nWHATWG URL standard accepts and, unless the server allows private\ntargets, its host must resolve to public addresses only, and its\nnormalized form (non-ASCII percent-encoded), which is what is stored,\nmust be at most 2048 characters too; otherwise 400 (rules this\ndocument cannot state in its schema language).'
        ),
    ]
    event_types: Annotated[
        list[EventType] | None,
        Field(
            description='Only these event types; omit for every event.', max_length=64
        ),
    ] = None
    ttl_seconds: Annotated[
        int | None,
        Field(
            description='Lifetime in seconds (default 3 days); re-register to extend it.',
            ge=1,
            le=31536000,
        ),
    ] = None


class Removed(BaseModel):
    ok: bool


class Retention(BaseModel):
    max_age_seconds: Annotated[
        int | None, Field(description='Events older than this are removed.', ge=1)
    ] = None
    max_events: Annotated[
        int | None, Field(description='At most this many events are kept.', ge=1)
    ] = None


class Revocation(BaseModel):
    id: str
    jti: str | None = None
    sub: str | None = None
    issuer: str | None = None
    issued_before: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    created_at: AwareDatetime


class ServerMeta(BaseModel):
    name: str
    description: str | None = None
    tags: list[str]
    owner: str | None = None
    company: str | None = None
    email: str | None = None
    updated_at: Annotated[
        AwareDatetime,
        Field(description='When the admin last changed it (RFC 3339; now, if never).'),
    ]


class StorageConfig(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    retention_days: Annotated[
        float | None,
        Field(
            description='Days events are kept (whole days; fractions are rounded down, as\nZooid does): 1 to 36 500.',
            ge=1.0,
            le=36500.0,
        ),
    ] = None


class TokenClaims(BaseModel):
    scopes: Annotated[
        list[str], Field(description='`admin`, `pub:<pattern>`, `sub:<pattern>`.')
    ]
    sub: str | None = None
    name: str | None = None
    iat: Annotated[
        int | None, Field(description='When it was issued (seconds), if known.')
    ] = None
    exp: Annotated[
        int | None, Field(description='When it expires (seconds), if it does.')
    ] = None


class TokenKind(StrEnum):
    subscribe = 'subscribe'
    publish = 'publish'


class TrustedKey(BaseModel):
    kid: str
    kty: str
    crv: str | None = None
    x: Annotated[
        str | None, Field(description="The public key's `x` (Ed25519 and EC keys).")
    ] = None
    max_scopes: list[str] | None = None
    issuer: str | None = None
    jwks_url: Annotated[
        str | None,
        Field(description='Always null: keys are not fetched from URLs (yet).'),
    ] = None
    created_at: AwareDatetime
    alg: Annotated[str, Field(description='The algorithm its tokens must name.')]
    jwk: Annotated[Any, Field(description='The public JWK.')]
    require_exp: bool
    max_ttl: Annotated[
        int | None, Field(description='Seconds its tokens may live at most.')
    ] = None


class UpdateServerMeta(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    name: Annotated[
        str | None,
        Field(
            description='Not `null`: a server always has a name.',
            max_length=200,
            min_length=1,
            pattern='^[^\\u0000]*$',
        ),
    ] = None
    description: Annotated[
        str | None, Field(max_length=2000, pattern='^[^\\u0000]*$')
    ] = None
    tags: Annotated[
        list[Tag] | None,
        Field(description='`null` clears, as `[]` does.', max_length=32),
    ] = None
    owner: Annotated[str | None, Field(max_length=256, pattern='^[^\\u0000]*$')] = None
    company: Annotated[str | None, Field(max_length=256, pattern='^[^\\u0000]*$')] = (
        None
    )
    email: Annotated[str | None, Field(max_length=256, pattern='^[^\\u0000]*$')] = None


class Validation(BaseModel):
    valid: Annotated[
        bool,
        Field(
            description='Always true: a publish that would be refused is answered with its problem.'
        ),
    ]
    events: Annotated[int, Field(description='How many events the publish holds.')]


class WebhookState(StrEnum):
    active = 'active'
    disabled = 'disabled'
    revoked = 'revoked'


class Kind(StrEnum):
    subscribe = 'subscribe'


class PublisherId(RootModel[None]):
    root: Annotated[
        None, Field(description='Publish tokens only: absent or null here.')
    ] = None


class CreateSubscribeToken(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kind: Kind
    name: Annotated[str | None, Field(max_length=200, pattern='^[^\\u0000]*$')] = None
    publisher_id: Annotated[
        PublisherId | None,
        Field(description='Publish tokens only: absent or null here.'),
    ] = None
    expires_in_seconds: Annotated[
        int | None,
        Field(
            description='Omit for a token that never expires; at most 100 years.',
            ge=1,
            le=3153600000,
        ),
    ] = None


class Kind1(StrEnum):
    publish = 'publish'


class CreatePublishToken(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kind: Kind1
    name: Annotated[str | None, Field(max_length=200, pattern='^[^\\u0000]*$')] = None
    publisher_id: Annotated[
        str | None,
        Field(
            description="Publish tokens only: stamped on every event published with the token.\nDefaults to the token's id.",
            max_length=200,
            pattern='^[^\\u0000]*$',
        ),
    ] = None
    expires_in_seconds: Annotated[
        int | None,
        Field(
            description='Omit for a token that never expires; at most 100 years.',
            ge=1,
            le=3153600000,
        ),
    ] = None


class ChannelConfig(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    strict_types: Annotated[
        bool | None,
        Field(
            description='When true, every event needs a `type` listed in `types` and `data` valid against its schema.'
        ),
    ] = False
    types: Annotated[
        dict[str, dict[str, Any] | bool] | None,
        Field(
            description='Event type name → JSON Schema its `data` must satisfy. Each value\nmust itself be a valid JSON Schema (the draft its `$schema` names,\n2020-12 without one), or the request is refused with 400: a rule\nthis document cannot state in its own schema language.'
        ),
    ] = {}
    storage: Annotated[
        StorageConfig | None,
        Field(
            description="Zooid's storage settings, accepted as Zooid writes them:\n`retention_days` sets `retention.max_age_seconds` (giving both is a\n400). Kept in the config as written."
        ),
    ] = None


class ClusterStatus(BaseModel):
    nodes: Annotated[
        list[NodeStatus], Field(description='This node first, then the others by id.')
    ]
    database_ready: Annotated[
        bool, Field(description='Whether the database answered this request.')
    ]
    webhook_backlog: Annotated[
        int, Field(description='Webhook deliveries waiting, on every node.')
    ]


class CreateChannel(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    id: Annotated[
        str,
        Field(
            description='3–64 characters of `a-z`, `0-9` and `-`, starting and ending with a letter or digit.',
            pattern='^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$',
        ),
    ]
    name: Annotated[
        str | None,
        Field(
            description='Display name; defaults to the id.',
            max_length=200,
            pattern='^[^\\u0000]*$',
        ),
    ] = None
    description: Annotated[
        str | None, Field(max_length=2000, pattern='^[^\\u0000]*$')
    ] = None
    tags: Annotated[list[Tag] | None, Field(max_length=32)] = None
    is_public: Annotated[
        bool | None,
        Field(
            description='Public channels can be read without a token. Default: true.'
        ),
    ] = None
    meta: Annotated[
        dict[str, Any] | None,
        Field(description='Free-form JSON object, stored and returned untouched.'),
    ] = None
    config: ChannelConfig | None = None
    retention: Retention | None = None


class CreateToken(RootModel[CreateSubscribeToken | CreatePublishToken]):
    root: Annotated[
        CreateSubscribeToken | CreatePublishToken,
        Field(
            description='A token to create: its `kind` says which.', title='CreateToken'
        ),
    ]


class CreatedTokenBody(BaseModel):
    id: str
    kind: TokenKind
    channel_id: str
    name: str | None = None
    publisher_id: str | None = None
    created_at: AwareDatetime
    expires_at: AwareDatetime | None = None
    token: str


class CreatedWebhook(BaseModel):
    id: str
    channel_id: str
    url: AnyUrl
    event_types: Annotated[
        list[str] | None,
        Field(
            description='Only these event types are delivered; null delivers every event.'
        ),
    ] = None
    created_at: AwareDatetime
    expires_at: AwareDatetime
    state: WebhookState
    last_error: Annotated[
        str | None,
        Field(description='Why the last delivery attempt failed, if it did.'),
    ] = None
    failing_since: Annotated[
        AwareDatetime | None,
        Field(description='When the current run of failures began.'),
    ] = None
    last_success_at: AwareDatetime | None = None
    registered_by: Annotated[
        str,
        Field(
            description='Who registered it: `admin`, `token:<token id>` or\n`anonymous:<client address>`. Only they (or the admin) may change it.'
        ),
    ]
    secret: str


class EventBatchInput(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    events: Annotated[list[EventInput], Field(max_length=100, min_length=1)]


class EventPage(BaseModel):
    events: list[Event]
    cursor: Annotated[
        str | None,
        Field(
            description='Pass as `cursor` to continue after the last event of this page.'
        ),
    ] = None
    has_more: bool
    gap: Annotated[
        GapNotice | None,
        Field(
            description="Set when events after the request's `cursor` were removed (retention\nor deletion) before they could be read: this page continues after a\ngap. Null when nothing was missed."
        ),
    ] = None


class JsonFeed(BaseModel):
    version: Annotated[
        str, Field(description='Always `https://jsonfeed.org/version/1.1`.')
    ]
    title: str
    description: str
    feed_url: str
    items: list[JsonFeedItem]


class KeyList(BaseModel):
    keys: list[TrustedKey]


class PublishBody(RootModel[EventBatchInput | EventInput]):
    root: Annotated[
        EventBatchInput | EventInput,
        Field(description='One event, or a batch under `events`.'),
    ]


class TokenInfo(BaseModel):
    id: str
    kind: TokenKind
    channel_id: str
    name: str | None = None
    publisher_id: str | None = None
    created_at: AwareDatetime
    expires_at: AwareDatetime | None = None


class UpdateChannel(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    name: Annotated[str | None, Field(max_length=200, pattern='^[^\\u0000]*$')] = None
    description: Annotated[
        str | None, Field(max_length=2000, pattern='^[^\\u0000]*$')
    ] = None
    tags: Annotated[list[Tag] | None, Field(max_length=32)] = None
    is_public: bool | None = None
    meta: dict[str, Any] | None = None
    config: ChannelConfig | None = None
    retention: Retention | None = None


class Webhook(BaseModel):
    id: str
    channel_id: str
    url: AnyUrl
    event_types: Annotated[
        list[str] | None,
        Field(
            description='Only these event types are delivered; null delivers every event.'
        ),
    ] = None
    created_at: AwareDatetime
    expires_at: AwareDatetime
    state: WebhookState
    last_error: Annotated[
        str | None,
        Field(description='Why the last delivery attempt failed, if it did.'),
    ] = None
    failing_since: Annotated[
        AwareDatetime | None,
        Field(description='When the current run of failures began.'),
    ] = None
    last_success_at: AwareDatetime | None = None
    registered_by: Annotated[
        str,
        Field(
            description='Who registered it: `admin`, `token:<token id>` or\n`anonymous:<client address>`. Only they (or the admin) may change it.'
        ),
    ]


class Channel(BaseModel):
    id: str
    name: str
    description: str
    tags: list[str]
    is_public: bool
    meta: Annotated[
        Any, Field(description='Free-form object stored and returned untouched.')
    ]
    config: ChannelConfig
    retention: Retention
    created_at: AwareDatetime
    event_count: Annotated[int, Field(description='Events currently stored.')]
    last_event_at: AwareDatetime | None = None
    subscribers: Annotated[
        int,
        Field(
            description='Live WebSocket connections on this channel, across all nodes.'
        ),
    ]


class ChannelPage(BaseModel):
    channels: list[Channel]
    cursor: Annotated[
        str | None, Field(description='Pass as `cursor` to get the next page.')
    ] = None
    has_more: bool
