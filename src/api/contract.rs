//! The served OpenAPI document: poem-openapi's, finished in this one place.
//!
//! What poem-openapi cannot say from the types is added here, so that the
//! document is exact and a generated client can trust it:
//! - an optional property (not required, no default) is `nullable`: serde
//!   reads `null` as absent and writes an absent value as `null`;
//! - request bodies refuse unknown fields (`additionalProperties: false`, as
//!   their `deny_unknown_fields`), and a channel's `meta` is an object;
//! - text in requests (body fields and parameters) holds no NUL, which the
//!   databases cannot store (see [`crate::model::check_storable`]);
//! - a subscribe token takes no `publisher_id` (`CreateToken` is a `oneOf`),
//!   and `strict_types` needs `types`;
//! - a publish answers one event or a batch (`oneOf`);
//! - the patterns checked by [`super::patterns`] (compiled once, not per
//!   request as poem-openapi's own would be);
//! - times are `date-time`, webhook URLs `uri`, delivery outcomes an enum;
//! - links from the operations that create channels, tokens, events and
//!   webhooks to those that read and delete them;
//! - how a request authenticates: a bearer token (the admin token, a
//!   channel token), a JWT bearer, or `?token=`; every operation accepts
//!   any of them or none (each says which credential it needs).
//!
//! `/api/v1/openapi.json` serves [`document`]; `openapi/openapi.json` is the
//! same bytes (a test compares them).

use poem::{Endpoint, Response, endpoint::make_sync};
use poem_openapi::OpenApiService;
use serde_json::{Map, Value, json};

use super::patterns::{IN_PARAMETERS, IN_SCHEMAS};

/// Request bodies parsed with `deny_unknown_fields`.
const CLOSED_REQUESTS: &[&str] = &[
    "CreateChannel",
    "UpdateChannel",
    "EventInput",
    "EventBatchInput",
    "CreateToken",
    "RegisterWebhook",
    "CreateKey",
    "CreateRevocation",
    "ChannelConfig",
    "StorageConfig",
    "MintToken",
    "UpdateServerMeta",
    "DirectoryClaimBody",
];

/// Optional properties that may be absent but not `null`.
const NEVER_NULL: &[(&str, &str)] = &[("UpdateServerMeta", "name")];

/// Properties holding RFC 3339 times.
const TIMES: &[&str] = &[
    "created_at",
    "expires_at",
    "last_event_at",
    "failing_since",
    "last_success_at",
    "at",
    "issued_before",
    "updated_at",
];

/// Text both databases can store: no NUL (U+0000).
const STORABLE: &str = "^[^\\u0000]*$";

/// What a webhook delivery attempt came to.
const DELIVERY_OUTCOMES: &[&str] = &[
    "success",
    "http_error",
    "network_error",
    "timeout",
    "refused",
];

/// The document as served and committed.
pub fn document(service: &OpenApiService<super::Apis, ()>) -> String {
    finish(&service.spec())
}

/// Serves a finished document.
pub fn endpoint(document: String) -> impl Endpoint {
    make_sync(move |_| {
        Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(document.clone())
    })
}

/// The Swagger UI page at `/docs`, showing the finished document (the one
/// `/api/v1/openapi.json` serves), not poem-openapi's unfinished one.
pub fn swagger_ui(
    service: &OpenApiService<super::Apis, ()>,
    document: &str,
) -> impl Endpoint + use<> {
    let html = service
        .swagger_ui_html()
        .replacen(&service.spec(), document, 1);
    make_sync(move |_| poem::web::Html(html.clone()))
}

/// Adds to poem-openapi's document what the types cannot say.
pub fn finish(spec: &str) -> String {
    let mut doc: Value = serde_json::from_str(spec).expect("poem-openapi writes JSON");
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            finish_schema(name, schema);
        }
        split_create_token(schemas);
    }
    doc["components"]["securitySchemes"] = security_schemes();
    // Any one of them, or none: what an operation needs is its own rule
    // (public channels need none), said in its description and its 401/403.
    doc["security"] = json!([{}, {"bearer": []}, {"jwt": []}, {"token_query": []}]);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for (method, operation) in item.as_object_mut().into_iter().flatten() {
                finish_operation(path, method, operation);
            }
        }
    }
    serde_json::to_string_pretty(&doc).expect("a document serializes")
}

/// The three ways a request presents a credential.
fn security_schemes() -> Value {
    json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The admin token, or a channel token (`chs_<id>_<secret>`) \
                minted by `POST /channels/{channel_id}/tokens`.",
        },
        "jwt": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JSON Web Token your own server minted: HS256/384/512 with the \
                server's `--jwt-secret`, or EdDSA, ES256/384, RS256/384/512 or PS256/384/512 \
                with a key trusted by `POST /keys` (named by the `kid` header). Claims: \
                `scopes` (`admin`, `pub:<pattern>`, `sub:<pattern>`; a pattern is a channel \
                id, `*` or a prefix ending in `*`), `sub`, `name`, `exp`, `nbf`, `iat`, \
                `aud`, `iss`, `jti`. A refusal (401) names the failed check.",
        },
        "token_query": {
            "type": "apiKey",
            "in": "query",
            "name": "token",
            "description": "Any of the above as `?token=`, for clients that cannot set \
                headers (`EventSource`, browser WebSockets).",
        },
    })
}

fn finish_schema(name: &str, schema: &mut Value) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if name == "ChannelConfig" {
        // `strict_types` needs at least one type (absent `types` is empty).
        schema["not"] = json!({
            "required": ["strict_types"],
            "properties": {
                "strict_types": { "enum": [true] },
                "types": { "maxProperties": 0 },
            },
        });
    }
    let request = CLOSED_REQUESTS.contains(&name);
    if request {
        schema["additionalProperties"] = json!(false);
    }
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (property, value) in properties.iter_mut() {
        let Some(value) = value.as_object_mut() else {
            continue;
        };
        if let Some((.., pattern)) = IN_SCHEMAS
            .iter()
            .find(|(schema, field, _)| (*schema, *field) == (name, property.as_str()))
        {
            value.insert("pattern".into(), json!(pattern.source()));
        }
        if request {
            storable(value);
        }
        if TIMES.contains(&property.as_str()) && value.get("type") == Some(&json!("string")) {
            value.insert("format".into(), json!("date-time"));
        }
        match (name, property.as_str()) {
            ("Webhook" | "CreatedWebhook" | "RegisterWebhook", "url") => {
                value.insert("format".into(), json!("uri"));
            }
            ("CreateChannel" | "UpdateChannel", "meta") => {
                value.insert("type".into(), json!("object"));
            }
            ("EventInput", "meta") => {
                // A string, or (Zooid's form) an object stored as its JSON text.
                let string = json!({ "type": "string", "pattern": STORABLE });
                value.remove("type");
                value.remove("pattern");
                value.insert("oneOf".into(), json!([string, { "type": "object" }]));
            }
            ("ChannelConfig", "types") => {
                // Each value is a JSON Schema: an object or a boolean.
                value.insert(
                    "additionalProperties".into(),
                    json!({ "anyOf": [{ "type": "object" }, { "type": "boolean" }] }),
                );
            }
            ("DeliveryAttempt", "outcome") => {
                value.insert("enum".into(), json!(DELIVERY_OUTCOMES));
            }
            _ => {}
        }
        if !required.contains(property)
            && !value.contains_key("default")
            && !NEVER_NULL.contains(&(name, property.as_str()))
        {
            make_nullable(value);
        }
    }
}

/// A subscribe token takes no `publisher_id`: `CreateToken` is one of
/// `CreateSubscribeToken` and `CreatePublishToken`, told apart by `kind`.
fn split_create_token(schemas: &mut Map<String, Value>) {
    let Some(create) = schemas.get("CreateToken").cloned() else {
        return;
    };
    let variant = |kind: &str, title: &str, description: &str| {
        let mut schema = create.clone();
        schema["title"] = json!(title);
        schema["description"] = json!(description);
        schema["properties"]["kind"] = json!({ "type": "string", "enum": [kind] });
        schema
    };
    let mut subscribe = variant(
        "subscribe",
        "CreateSubscribeToken",
        "A subscribe token to create.",
    );
    subscribe["properties"]["publisher_id"] = json!({
        "description": "Publish tokens only: absent or null here.",
        "nullable": true,
        "enum": [null],
    });
    let publish = variant(
        "publish",
        "CreatePublishToken",
        "A publish token to create.",
    );
    schemas.insert("CreateSubscribeToken".into(), subscribe);
    schemas.insert("CreatePublishToken".into(), publish);
    schemas.insert(
        "CreateToken".into(),
        json!({
            "title": "CreateToken",
            "description": "A token to create: its `kind` says which.",
            "oneOf": [
                { "$ref": "#/components/schemas/CreateSubscribeToken" },
                { "$ref": "#/components/schemas/CreatePublishToken" },
            ],
        }),
    );
}

/// A request's text (or list of text) holds no NUL.
fn storable(schema: &mut Map<String, Value>) {
    match schema.get("type").and_then(Value::as_str) {
        Some("string") if !schema.contains_key("pattern") => {
            schema.insert("pattern".into(), json!(STORABLE));
        }
        Some("array") => {
            if let Some(items) = schema.get_mut("items").and_then(Value::as_object_mut) {
                storable(items);
            }
        }
        _ => {}
    }
}

/// `nullable` next to a `$ref` is ignored (OpenAPI 3.0): wrap it in `allOf`.
fn make_nullable(value: &mut Map<String, Value>) {
    if let Some(reference) = value.remove("$ref") {
        value.insert("allOf".into(), json!([{ "$ref": reference }]));
    }
    value.insert("nullable".into(), json!(true));
}

fn finish_operation(path: &str, method: &str, operation: &mut Value) {
    if let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    {
        for parameter in parameters {
            if parameter["name"] == "since" {
                parameter["schema"]["format"] = json!("date-time");
            }
            if let Some((.., pattern)) = IN_PARAMETERS
                .iter()
                .find(|(p, m, name, _)| (*p, *m) == (path, method) && parameter["name"] == *name)
            {
                parameter["schema"]["pattern"] = json!(pattern.source());
            }
            if let Some(schema) = parameter["schema"].as_object_mut() {
                storable(schema);
            }
        }
    }
    if (path, method) == ("/channels/{channel_id}/events", "post") {
        // Two answers share the status 201: poem-openapi keeps the last.
        let created = &mut operation["responses"]["201"];
        created["description"] = json!(
            "The event, or for a batch the events in order, stored (or, marked \
             `Idempotent-Replayed`, stored by an earlier request with the same \
             `Idempotency-Key`)."
        );
        for media in created["content"].as_object_mut().into_iter().flatten() {
            media.1["schema"] = json!({ "oneOf": [
                { "$ref": "#/components/schemas/Event" },
                { "$ref": "#/components/schemas/EventList" },
            ] });
        }
    }
    for (status, links) in links(path, method) {
        if let Some(response) = operation.pointer_mut(&format!("/responses/{status}")) {
            response["links"] = links;
        }
    }
}

/// A link to the operation at `path` and `method`, with its parameters.
fn link(path: &str, method: &str, description: &str, parameters: Value) -> Value {
    json!({
        "operationRef": format!("#/paths/{}/{method}", path.replace('~', "~0").replace('/', "~1")),
        "description": description,
        "parameters": parameters,
    })
}

/// Where the ids an operation creates can be used next.
fn links(path: &str, method: &str) -> Vec<(&'static str, Value)> {
    const CHANNEL: &str = "/channels/{channel_id}";
    let channel = |from: &str| json!({ "channel_id": from });
    match (path, method) {
        ("/channels", "post") => {
            let id = "$response.body#/id";
            let to_channel = [
                ("GetChannel", CHANNEL, "get"),
                ("UpdateChannel", CHANNEL, "patch"),
                ("DeleteChannel", CHANNEL, "delete"),
                ("CreateToken", "/channels/{channel_id}/tokens", "post"),
                ("ListTokens", "/channels/{channel_id}/tokens", "get"),
                ("PublishEvent", "/channels/{channel_id}/events", "post"),
                ("PollEvents", "/channels/{channel_id}/events", "get"),
                ("RegisterWebhook", "/channels/{channel_id}/webhooks", "post"),
                ("ListWebhooks", "/channels/{channel_id}/webhooks", "get"),
            ];
            let links = to_channel
                .into_iter()
                .map(|(name, path, method)| {
                    let text = format!("The created channel's id as `channel_id` ({name}).");
                    (name.to_owned(), link(path, method, &text, channel(id)))
                })
                .collect::<Map<_, _>>();
            vec![("201", Value::Object(links))]
        }
        ("/channels/{channel_id}/tokens", "post") => {
            let links = json!({
                "RevokeToken": link(
                    "/channels/{channel_id}/tokens/{token_id}",
                    "delete",
                    "The created token's id as `token_id`.",
                    json!({
                        "channel_id": "$response.body#/channel_id",
                        "token_id": "$response.body#/id",
                    }),
                ),
            });
            vec![("201", links)]
        }
        ("/channels/{channel_id}/events", "post") => {
            let event = |method: &str, text: &str| {
                link(
                    "/channels/{channel_id}/events/{event_id}",
                    method,
                    text,
                    json!({
                        "channel_id": "$request.path.channel_id",
                        "event_id": "$response.body#/id",
                    }),
                )
            };
            let links = json!({
                "GetEvent": event("get", "The published event's id as `event_id`."),
                "DeleteEvent": event("delete", "The published event's id as `event_id`."),
            });
            vec![("201", links)]
        }
        ("/channels/{channel_id}/webhooks", "post") => {
            let webhook = |path: &str, method: &str, text: &str| {
                link(
                    path,
                    method,
                    text,
                    json!({
                        "channel_id": "$response.body#/channel_id",
                        "webhook_id": "$response.body#/id",
                    }),
                )
            };
            let links = || {
                json!({
                    "ListDeliveries": webhook(
                        "/channels/{channel_id}/webhooks/{webhook_id}/deliveries",
                        "get",
                        "The webhook's id as `webhook_id`.",
                    ),
                    "DeleteWebhook": webhook(
                        "/channels/{channel_id}/webhooks/{webhook_id}",
                        "delete",
                        "The webhook's id as `webhook_id`.",
                    ),
                })
            };
            vec![("201", links()), ("200", links())]
        }
        _ => Vec::new(),
    }
}
