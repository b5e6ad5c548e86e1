//! Requests shaped as Zooid's SDK and CLI send them (shapes read from
//! Zooid's source: `packages/sdk/src/client.ts`, `packages/cli`), and the
//! bugs they found in channelhub's own rules. On SQLite and PostgreSQL.

mod common;

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use common::{
    ADMIN, Backend, TestServer,
    receiver::{Behaviour, Receiver},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    a_strict_channel_written_as_zooids_cli_does_enforces_its_schemas,
    unknown_config_keys_are_refused_and_retention_days_is_read,
    patch_with_null_resets_to_the_default,
    problems_carry_the_reason_as_error_too,
    meta_may_be_an_object,
    deliveries_verify_as_zooids_verify_webhook_does,
    tokens_are_minted_and_their_claims_read_as_zooids_sdk_does,
    a_reply_to_is_refused_with_what_to_send_instead,
    the_server_profile_is_set_by_the_admin_and_read_by_every_node,
    directory_claims_are_signed_with_the_published_key,
);

async fn create(server: &TestServer, body: Value) -> (StatusCode, Value) {
    server
        .call(Method::POST, "/channels", Some(ADMIN), Some(body))
        .await
}

async fn publish(server: &TestServer, channel: &str, body: Value) -> (StatusCode, Value) {
    server
        .call(
            Method::POST,
            &format!("/channels/{channel}/events"),
            Some(ADMIN),
            Some(body),
        )
        .await
}

/// Zooid's CLI writes `config.types.<type> = {"schema": {...}}` (with a
/// `description` in its docs): the inner schema is enforced (it was taken
/// as an empty schema, so anything was stored), and the config is stored
/// as written.
async fn a_strict_channel_written_as_zooids_cli_does_enforces_its_schemas(backend: Backend) {
    let server = TestServer::start(backend).await;
    let config = json!({
        "strict_types": true,
        "types": {"price": {
            "schema": {"type": "object", "required": ["usd"],
                       "properties": {"usd": {"type": "number"}}},
            "description": "a price in dollars"
        }}
    });
    let (status, channel) = create(&server, json!({"id": "prices", "config": config})).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    assert_eq!(channel["config"], config, "stored as written");
    let (status, body) = publish(
        &server,
        "prices",
        json!({"type": "price", "data": {"usd": "ten"}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = publish(&server, "prices", json!({"type": "price", "data": {}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = publish(
        &server,
        "prices",
        json!({"type": "price", "data": {"usd": 10}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Unknown keys inside `config` were dropped silently; now they are a 400.
/// Zooid's `config.storage.retention_days` sets the retention.
async fn unknown_config_keys_are_refused_and_retention_days_is_read(backend: Backend) {
    let server = TestServer::start(backend).await;
    for config in [
        json!({"bogus": 1}),
        json!({"storage": {"retention_hours": 1}}),
        json!({"storage": {"retention_days": 0}}),
    ] {
        let (status, body) = create(&server, json!({"id": "odd", "config": config})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{config} → {body}");
    }
    let (status, channel) = create(
        &server,
        json!({"id": "weekly", "config": {"storage": {"retention_days": 7}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    assert_eq!(channel["retention"]["max_age_seconds"], 7 * 86_400);
    assert_eq!(channel["config"]["storage"]["retention_days"], 7.0);
    let (status, body) = create(
        &server,
        json!({"id": "both", "config": {"storage": {"retention_days": 7}},
               "retention": {"max_age_seconds": 60}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("not both"),
        "{body}"
    );
    // Through an update too, keeping max_events.
    server
        .create_channel(json!({"id": "later", "retention": {"max_events": 5}}))
        .await;
    let (status, channel) = server
        .call(
            Method::PATCH,
            "/channels/later",
            Some(ADMIN),
            Some(json!({"config": {"storage": {"retention_days": 2}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{channel}");
    assert_eq!(
        channel["retention"],
        json!({"max_age_seconds": 2 * 86_400, "max_events": 5})
    );
}

/// `PATCH` with `null` resets a field to its default (it changed nothing).
async fn patch_with_null_resets_to_the_default(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({
            "id": "full", "description": "d", "tags": ["t"], "meta": {"k": 1},
            "config": {"types": {"a": {"type": "object"}}},
            "retention": {"max_events": 10}
        }))
        .await;
    let (status, channel) = server
        .call(
            Method::PATCH,
            "/channels/full",
            Some(ADMIN),
            Some(json!({"description": null, "tags": null, "meta": null,
                        "config": null, "retention": null, "name": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{channel}");
    assert_eq!(channel["description"], "");
    assert_eq!(channel["tags"], json!([]));
    assert_eq!(channel["meta"], json!({}));
    assert_eq!(channel["config"]["types"], json!({}));
    assert_eq!(channel["config"]["strict_types"], false);
    assert_eq!(channel["retention"]["max_events"], Value::Null);
    assert_eq!(channel["name"], "full", "null leaves the name as it is");
    // Absent fields stay.
    let (_, channel) = server
        .call(
            Method::PATCH,
            "/channels/full",
            Some(ADMIN),
            Some(json!({"description": "again"})),
        )
        .await;
    assert_eq!(channel["description"], "again");
    assert_eq!(channel["meta"], json!({}));
}

/// Zooid's SDK and CLI read a failure's reason from `error`: problem
/// documents carry it beside `detail`.
async fn problems_carry_the_reason_as_error_too(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (status, body) = server
        .call(Method::GET, "/channels/nowhere", None, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["detail"].as_str().unwrap().contains("nowhere"));
    assert_eq!(body["error"], body["detail"]);
    let (status, body) = create(&server, json!({"id": "X"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], body["detail"]);
}

/// Zooid's SDK sends `meta` as an object: stored and returned as its JSON
/// text (as Zooid does), within the 16 KiB bound; other kinds are a 400.
async fn meta_may_be_an_object(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "metas"})).await;
    let (status, event) = publish(
        &server,
        "metas",
        json!({"data": 1, "meta": {"source": "sdk", "n": 2}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    assert_eq!(event["meta"], r#"{"source":"sdk","n":2}"#);
    let (status, event) = publish(&server, "metas", json!({"data": 1, "meta": "as text"})).await;
    assert_eq!(
        (status, event["meta"].clone()),
        (StatusCode::CREATED, json!("as text"))
    );
    for meta in [json!(5), json!([1]), json!({"big": "x".repeat(17_000)})] {
        let (status, body) = publish(&server, "metas", json!({"data": 1, "meta": meta})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (status, batch) = publish(
        &server,
        "metas",
        json!({"events": [{"data": 1, "meta": {"i": 1}}, {"data": 2}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["events"][0]["meta"], r#"{"i":1}"#);
}

/// What Zooid's `verifyWebhook` does (`packages/sdk/src/verify.ts`), done
/// here with ed25519-dalek: import `/.well-known/zooid.json`'s `public_key`
/// as SPKI DER (base64url), check `X-Zooid-Signature` (base64) over
/// `` `${X-Zooid-Timestamp}.${body}` ``, and the timestamp's age (`maxAge`).
async fn deliveries_verify_as_zooids_verify_webhook_does(backend: Backend) {
    let server = TestServer::start_with(backend, &["--allow-private-webhooks"]).await;
    server.create_channel(json!({"id": "signed"})).await;
    let receiver = Receiver::start(Behaviour::default()).await;
    let (status, hook) = server
        .register_webhook("signed", Some(ADMIN), json!({"url": receiver.url}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let event = server
        .publish("signed", json!({"type": "t", "data": {"n": 1}}))
        .await;
    common::eventually("the delivery arrives", || async {
        !receiver.received().is_empty()
    })
    .await;
    let delivery = receiver.received().remove(0);

    let discovery: Value = server.root_json("/.well-known/zooid.json").await;
    assert_eq!(discovery["public_key_format"], "spki");
    assert_eq!(discovery["algorithm"], "Ed25519");
    assert!(discovery["delivery"].is_array());
    let spki = URL_SAFE_NO_PAD
        .decode(discovery["public_key"].as_str().unwrap())
        .unwrap();
    assert_eq!(spki.len(), 44, "SPKI DER of an Ed25519 key");
    assert_eq!(
        &spki[..12],
        &[
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
        ]
    );
    let key = ed25519_dalek::VerifyingKey::from_bytes(&spki[12..].try_into().unwrap()).unwrap();

    let header = |name: &str| delivery.headers[name].to_str().unwrap().to_owned();
    let timestamp = header("x-zooid-timestamp");
    let age = chrono::Utc::now()
        - chrono::DateTime::parse_from_rfc3339(&timestamp)
            .expect("an RFC 3339 time")
            .with_timezone(&chrono::Utc);
    assert!(
        age.num_seconds().abs() < 300,
        "within Zooid's maxAge: {age}"
    );
    let signature = STANDARD.decode(header("x-zooid-signature")).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&signature).unwrap();
    let message = format!("{timestamp}.{}", delivery.body);
    key.verify_strict(message.as_bytes(), &signature)
        .expect("the X-Zooid-Signature verifies with the published key");
    // A body changed in transit does not.
    let tampered = format!(
        "{timestamp}.{}",
        delivery.body.replace("\"n\":1", "\"n\":2")
    );
    assert!(key.verify_strict(tampered.as_bytes(), &signature).is_err());
    assert_eq!(header("x-zooid-event-id"), event["id"].as_str().unwrap());
    assert_eq!(header("x-zooid-channel"), "signed");
    // The same key as channelhub.json's `whpk_`.
    let well_known: Value = server.root_json("/.well-known/channelhub.json").await;
    let whpk = STANDARD
        .decode(
            well_known["webhook_public_key"]
                .as_str()
                .unwrap()
                .strip_prefix("whpk_")
                .unwrap(),
        )
        .unwrap();
    assert_eq!(&spki[12..], &whpk[..]);
}

/// Zooid's `mintToken` (`POST /tokens`, admin) and `getTokenClaims`
/// (`GET /tokens/claims`), and `getServerMeta` (`GET /server`).
async fn tokens_are_minted_and_their_claims_read_as_zooids_sdk_does(backend: Backend) {
    const SECRET: &str = "zooid-compat-secret-0123456789abcdef";
    let server = TestServer::start_with(backend, &["--jwt-secret", SECRET]).await;
    server
        .create_channel(json!({"id": "minted", "is_public": false}))
        .await;
    let (status, minted) = mint(
        &server,
        json!({"scopes": ["sub:minted", "pub:minted"], "sub": "agent-7", "name": "Seven",
               "expires_in": "5m", "groups": ["ops"]}),
        Some(ADMIN),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    let token = minted["token"].as_str().unwrap().to_owned();
    let (status, claims) = server
        .call(Method::GET, "/tokens/claims", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{claims}");
    assert_eq!(claims["scopes"], json!(["sub:minted", "pub:minted"]));
    assert_eq!(claims["sub"], "agent-7");
    assert_eq!(claims["name"], "Seven");
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 300);
    // The minted token works: it reads the private channel and publishes.
    let (status, _) = server
        .call(Method::GET, "/channels/minted/events", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, event) = publish_with(&server, "minted", &token).await;
    assert_eq!(
        (status, event["publisher_id"].clone()),
        (StatusCode::CREATED, json!("agent-7"))
    );
    // Without expires_in, a server that requires exp gives a day.
    let (_, minted) = mint(&server, json!({"scopes": ["sub:minted"]}), Some(ADMIN)).await;
    let (_, claims) = server
        .call(
            Method::GET,
            "/tokens/claims",
            Some(minted["token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        86_400
    );
    // Zooid's refusals.
    let (status, body) = mint(&server, json!({"scopes": ["read:minted"]}), Some(ADMIN)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "Invalid scope \"read:minted\". Must be \"admin\", \"pub:<channel>\", or \"sub:<channel>\""
    );
    for bad in [
        json!({"scopes": []}),
        json!({"scopes": ["admin"], "expires_in": "5 minutes"}),
        json!({"scopes": ["admin"], "sub": "a:b"}),
    ] {
        let (status, body) = mint(&server, bad.clone(), Some(ADMIN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} → {body}");
    }
    let (status, _) = mint(&server, json!({"scopes": ["admin"]}), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = mint(&server, json!({"scopes": ["admin"]}), Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "minting needs admin");
    // Claims of the other credentials; none is a 401.
    let (_, claims) = server
        .call(Method::GET, "/tokens/claims", Some(ADMIN), None)
        .await;
    assert_eq!(claims["scopes"], json!(["admin"]));
    let (subscribe, _) = server.create_token("minted", "subscribe", json!({})).await;
    let (_, claims) = server
        .call(Method::GET, "/tokens/claims", Some(&subscribe), None)
        .await;
    assert_eq!(claims["scopes"], json!(["sub:minted"]));
    let (status, body) = server.call(Method::GET, "/tokens/claims", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, meta) = server.call(Method::GET, "/server", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta["name"], "channelhub");
    assert_eq!(meta["tags"], json!([]));
    // A server without a secret mints nothing: a documented 404.
    let plain = TestServer::start(backend).await;
    let (status, body) = plain
        .call(
            Method::POST,
            "/tokens",
            Some(ADMIN),
            Some(json!({"scopes": ["admin"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"].as_str().unwrap().contains("--jwt-secret"));
}

async fn mint(server: &TestServer, body: Value, token: Option<&str>) -> (StatusCode, Value) {
    server
        .call(Method::POST, "/tokens", token, Some(body))
        .await
}

async fn publish_with(server: &TestServer, channel: &str, token: &str) -> (StatusCode, Value) {
    server
        .call(
            Method::POST,
            &format!("/channels/{channel}/events"),
            Some(token),
            Some(json!({"data": 1})),
        )
        .await
}

/// Zooid's SDK sends `reply_to` for threads, which channelhub does not
/// keep: a 400 that says what to send instead, and nothing stored.
async fn a_reply_to_is_refused_with_what_to_send_instead(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "threads"})).await;
    let first = server.publish("threads", json!({"data": 1})).await;
    let reply_to = first["id"].clone();
    for body in [
        json!({"data": 2, "reply_to": reply_to}),
        json!({"events": [{"data": 2}, {"data": 3, "reply_to": reply_to}]}),
    ] {
        let (status, problem) = publish(&server, "threads", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert!(
            problem["error"].as_str().unwrap().contains("meta or data"),
            "{problem}"
        );
    }
    assert_eq!(
        server.all_events("threads").await.len(),
        1,
        "nothing was stored"
    );
}

/// Zooid's `updateServerMeta` / `zooid server set`: the admin changes the
/// profile, absent fields stay, `null` clears, each field is bounded and bad
/// input changes nothing; discovery carries the name; another node on the
/// same database answers the same.
async fn the_server_profile_is_set_by_the_admin_and_read_by_every_node(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (status, before) = server.call(Method::GET, "/server", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(before["name"], "channelhub");
    assert_eq!(before["owner"], Value::Null);

    let change = json!({"name": "Ops hub", "description": "deploy events", "tags": ["ops", "ci"],
                        "owner": "Ada", "company": "Acme", "email": "ops@example.com"});
    let (subscriber, _) = {
        server.create_channel(json!({"id": "prof"})).await;
        server.create_token("prof", "publish", json!({})).await
    };
    for token in [None, Some(subscriber.as_str())] {
        let (status, body) = server
            .call(Method::PUT, "/server", token, Some(change.clone()))
            .await;
        let expected = if token.is_none() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::FORBIDDEN
        };
        common::assert_problem(status, &body, expected);
    }
    let (status, set) = server
        .call(Method::PUT, "/server", Some(ADMIN), Some(change.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    for field in ["name", "description", "tags", "owner", "company", "email"] {
        assert_eq!(set[field], change[field], "{field}");
    }
    assert_ne!(set["updated_at"], before["updated_at"]);

    // Absent stays, null clears.
    let (_, cleared) = server
        .call(
            Method::PUT,
            "/server",
            Some(ADMIN),
            Some(json!({"company": null})),
        )
        .await;
    assert_eq!(cleared["company"], Value::Null);
    assert_eq!(cleared["owner"], "Ada");
    assert_eq!(cleared["tags"], json!(["ops", "ci"]));

    // Bounds and bad input: 400, nothing changes.
    for bad in [
        json!({"name": ""}),
        json!({"name": "n".repeat(201)}),
        json!({"description": "d".repeat(2001)}),
        json!({"tags": (0..33).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
        json!({"tags": [""]}),
        json!({"tags": ["t".repeat(65)]}),
        json!({"email": "e".repeat(257)}),
        json!({"name": null}),
        json!({"nickname": "x"}),
        json!({"owner": "nul\u{0}"}),
    ] {
        let (status, body) = server
            .call(Method::PUT, "/server", Some(ADMIN), Some(bad.clone()))
            .await;
        common::assert_problem(status, &body, StatusCode::BAD_REQUEST);
    }
    let (_, now) = server.call(Method::GET, "/server", None, None).await;
    assert_eq!(now, cleared, "refused changes changed nothing");

    let discovery: Value = server.root_json("/.well-known/zooid.json").await;
    assert_eq!(discovery["server_name"], "Ops hub");
    assert_eq!(discovery["server_description"], "deploy events");

    if backend == Backend::Postgres {
        let other = server.join();
        let (_, there) = other.call(Method::GET, "/server", None, None).await;
        assert_eq!(there, cleared, "another node answers the same profile");
    }
}

/// Zooid's `getClaim` / `zooid share`: the admin gets a claim naming this
/// server's URL and existing channels, signed with the key that
/// `/.well-known/zooid.json` publishes; anyone else, unknown channels, an
/// empty or oversized list and another action are refused.
async fn directory_claims_are_signed_with_the_published_key(backend: Backend) {
    use ed25519_dalek::{Signature, VerifyingKey};

    let server =
        TestServer::start_with(backend, &["--public-url", "https://hub.example.com/"]).await;
    server
        .create_channel(json!({"id": "listed", "is_public": true}))
        .await;
    server.create_channel(json!({"id": "also"})).await;
    let (status, signed) = server
        .call(
            Method::POST,
            "/directory/claim",
            Some(ADMIN),
            Some(json!({"channels": ["listed", "also"], "action": "delete"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let claim_text = URL_SAFE_NO_PAD
        .decode(signed["claim"].as_str().unwrap())
        .unwrap();
    let claim: Value = serde_json::from_slice(&claim_text).unwrap();
    assert_eq!(claim["server_url"], "https://hub.example.com");
    assert_eq!(claim["channels"], json!(["listed", "also"]));
    assert_eq!(claim["action"], "delete");
    assert!(claim["timestamp"].as_str().unwrap().ends_with('Z'));

    let discovery: Value = server.root_json("/.well-known/zooid.json").await;
    let spki = URL_SAFE_NO_PAD
        .decode(discovery["public_key"].as_str().unwrap())
        .unwrap();
    let key = VerifyingKey::from_bytes(spki[12..].try_into().unwrap()).unwrap();
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signed["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let signature = Signature::from_bytes(&signature);
    key.verify_strict(&claim_text, &signature)
        .expect("the claim verifies with the published key");
    let mut forged = claim_text.clone();
    forged[2] ^= 1;
    assert!(key.verify_strict(&forged, &signature).is_err());

    let (token, _) = server.create_token("listed", "publish", json!({})).await;
    let (status, body) = server
        .call(
            Method::POST,
            "/directory/claim",
            Some(&token),
            Some(json!({"channels": ["listed"]})),
        )
        .await;
    common::assert_problem(status, &body, StatusCode::FORBIDDEN);
    let too_many: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    for (bad, says) in [
        (
            json!({"channels": ["listed", "ghost"]}),
            "Channels not found: ghost",
        ),
        (json!({"channels": []}), "1–100"),
        (json!({"channels": too_many}), "1–100"),
        (json!({"channels": ["listed"], "action": "list"}), "delete"),
        (json!({"channels": ["listed"], "extra": 1}), "extra"),
    ] {
        let (status, body) = server
            .call(Method::POST, "/directory/claim", Some(ADMIN), Some(bad))
            .await;
        common::assert_problem(status, &body, StatusCode::BAD_REQUEST);
        assert!(body["detail"].as_str().unwrap().contains(says), "{body}");
    }
}
