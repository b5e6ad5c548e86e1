//! Adversarial review of bring-your-own JWTs: each test here reproduces a
//! way around one of the feature's rules that a review found (each failed
//! on 5cc440d, the commit reviewed) and holds the fix. On SQLite and
//! PostgreSQL, except the reload race, which needs PostgreSQL's table locks
//! to be made deterministic.

mod common;

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{
    ADMIN, Backend, TestServer,
    jwt::{AppKey, SECRET, hs256, now, poll, private_channel, publish, start, whoami},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    a_small_order_ed25519_key_lets_anyone_forge_its_tokens,
    a_future_iat_escapes_max_ttl,
    a_future_iat_escapes_a_subject_revocation,
    a_cached_previous_secret_token_outlives_the_rotation_window,
    a_kid_with_a_colon_lets_another_key_delete_its_events,
    a_key_without_issuer_publishes_as_anyone,
    unknown_kids_and_known_kids_are_told_apart,
    an_admin_refresh_unties_a_jwt_webhook_from_its_key,
    a_nul_in_a_jwt_claim_is_a_5xx_on_webhook_registration,
);

/// An RFC 3339 time for `seconds` since the epoch.
fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap()
        .to_rfc3339()
}

fn b64_json(value: Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn detail(body: &Value) -> String {
    body["detail"].as_str().unwrap_or_default().to_owned()
}

/// Finding: Ed25519 keys are not checked for small order, and tokens are
/// checked with non-strict verification. The identity point (a plausible
/// "placeholder" key) verifies the fixed signature (R = identity, s = 0) for
/// every message: anyone forges any token under that kid (admin, with
/// Zooid's default of no ceiling).
async fn a_small_order_ed25519_key_lets_anyone_forge_its_tokens(backend: Backend) {
    let server = start(backend, &[]).await;
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let (status, key) = server
        .call(
            Method::POST,
            "/keys",
            Some(ADMIN),
            Some(json!({"kid": "placeholder", "x": URL_SAFE_NO_PAD.encode(identity)})),
        )
        .await;
    if status == StatusCode::CREATED {
        // Signed by nobody: R = the identity point, s = 0.
        let mut signature = [0u8; 64];
        signature[0] = 1;
        let forged = format!(
            "{}.{}.{}",
            b64_json(json!({"alg": "EdDSA", "kid": "placeholder"})),
            b64_json(json!({"scopes": ["admin"], "sub": "mallory", "exp": now() + 600})),
            URL_SAFE_NO_PAD.encode(signature)
        );
        let (status, who) = whoami(&server, &forged).await;
        let (created, channel) = server
            .call(
                Method::POST,
                "/channels",
                Some(&forged),
                Some(json!({"id": "forged-by-anyone"})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a token signed by no one is accepted under the small-order key {key}: \
             {who}; it even creates channels: {created} {channel}"
        );
    } else {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{key}");
    }
}

/// Finding: `max_ttl` is `exp - iat` with `iat` taken at its word: a token
/// that claims to be issued in the future lives as long as it likes.
async fn a_future_iat_escapes_max_ttl(backend: Backend) {
    let server = start(backend, &[]).await;
    let key = AppKey::new("short-lived");
    key.register(&server, json!({"max_ttl": 3600})).await;
    let ten_years = 10 * 365 * 24 * 3600;
    let token = key.mint(json!({
        "scopes": ["sub:*"], "sub": "u",
        "iat": now() + ten_years, "exp": now() + ten_years + 60,
    }));
    let (status, who) = whoami(&server, &token).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a key with max_ttl 3600 s accepted a token valid for ten years: {who}"
    );
}

/// Finding: a subject revocation `issued_before` T spares a token minted
/// before T whose `iat` is after T (a minting clock 25 s ahead, which the
/// server otherwise accepts): its holder keeps reading.
async fn a_future_iat_escapes_a_subject_revocation(backend: Backend) {
    let server = start(backend, &[]).await;
    private_channel(&server, "payroll").await;
    let key = AppKey::new("app");
    key.register(&server, json!({})).await;
    let token = key.mint(json!({
        "scopes": ["sub:payroll"], "sub": "bob", "jti": "b-1",
        "iat": now() + 25, "exp": now() + 600,
    }));
    assert_eq!(poll(&server, "payroll", &token).await.0, StatusCode::OK);
    // Every token of bob's issued until now is revoked.
    let (status, body) = server
        .call(
            Method::POST,
            "/revocations",
            Some(ADMIN),
            Some(json!({"sub": "bob", "issued_before": rfc3339(now() + 1)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, detail) = poll(&server, "payroll", &token).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a token issued before the revocation still reads the private channel ({detail})"
    );
}

/// Finding: a token signed with the previous HS secret, once cached, is
/// accepted after `--jwt-previous-secret-until` (for up to CACHED_FOR,
/// 5 min), while the same secret's fresh tokens are refused.
async fn a_cached_previous_secret_token_outlives_the_rotation_window(backend: Backend) {
    const OLD: &str = "the-previous-secret-0123456789abcdef";
    let until = now() + 6;
    let until_text = rfc3339(until);
    let server = start(
        backend,
        &[
            "--jwt-previous-secret",
            OLD,
            "--jwt-previous-secret-until",
            &until_text,
        ],
    )
    .await;
    private_channel(&server, "rotated").await;
    let token = hs256(
        OLD,
        json!({"scopes": ["sub:rotated"], "sub": "old", "exp": now() + 600}),
    );
    assert_eq!(poll(&server, "rotated", &token).await.0, StatusCode::OK);
    let wait = (until + 1 - now()).max(0) as u64;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    // The window is over: a token of the old secret the server never saw is refused...
    let unseen = hs256(
        OLD,
        json!({"scopes": ["sub:rotated"], "sub": "other", "exp": now() + 600}),
    );
    assert_eq!(
        poll(&server, "rotated", &unseen).await.0,
        StatusCode::UNAUTHORIZED
    );
    // ...and the one it cached should be too.
    assert_eq!(
        poll(&server, "rotated", &token).await.0,
        StatusCode::UNAUTHORIZED,
        "a token of the retired secret still reads the private channel after the window"
    );
}

/// Finding: a JWT's identity (`jwt:<kid>:<subject>`), which owns its
/// events and webhooks, was not injective: kids could contain `:`, so a
/// token of key `acme` with sub `eu:alice` was key `acme:eu`'s `alice`, and
/// deleted her events. Now a kid holds no `:` (nor `#`, the HS secret's
/// mark), a `sub` holds no `:`, and another key's subject may not delete.
async fn a_kid_with_a_colon_lets_another_key_delete_its_events(backend: Backend) {
    let server = start(backend, &[]).await;
    server.create_channel(json!({"id": "shared"})).await;
    for kid in ["acme:eu", "#secret"] {
        let (status, body) = server
            .call(
                Method::POST,
                "/keys",
                Some(ADMIN),
                Some(json!({"kid": kid, "x": AppKey::new("x").x()})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "kid {kid}: {body}");
    }
    let victim_key = AppKey::new("acme-eu");
    victim_key
        .register(&server, json!({"max_scopes": ["pub:shared"]}))
        .await;
    let attacker_key = AppKey::new("acme");
    attacker_key
        .register(&server, json!({"max_scopes": ["pub:shared"]}))
        .await;
    let victim =
        victim_key.mint(json!({"scopes": ["pub:shared"], "sub": "alice", "exp": now() + 600}));
    let (status, event) = publish(&server, "shared", &victim).await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    let path = format!("/channels/shared/events/{}", event["id"].as_str().unwrap());
    let colon =
        attacker_key.mint(json!({"scopes": ["pub:shared"], "sub": "eu:alice", "exp": now() + 600}));
    let (status, body) = server.call(Method::DELETE, &path, Some(&colon), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a sub with ':' is refused: {body}"
    );
    let same_sub =
        attacker_key.mint(json!({"scopes": ["pub:shared"], "sub": "alice", "exp": now() + 600}));
    let (status, body) = server
        .call(Method::DELETE, &path, Some(&same_sub), None)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "key acme's alice deleted an event of key acme-eu's alice: {body}"
    );
    let (status, _) = server
        .call(Method::DELETE, &path, Some(&victim), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// Finding: publisher ids are `<issuer>:<sub>`, or the bare `sub` for a key
/// without issuer (and the HS secret), as in Zooid: a partner key confined
/// to one channel published as `admin`, or as another issuer's subject.
/// Now a `sub` holds no `:` and, on a key without an issuer, is not `admin`.
async fn a_key_without_issuer_publishes_as_anyone(backend: Backend) {
    let server = start(backend, &[]).await;
    server.create_channel(json!({"id": "news"})).await;
    let trusted = AppKey::new("trusted");
    trusted
        .register(&server, json!({"issuer": "trusted.dev"}))
        .await;
    let partner = AppKey::new("partner");
    partner
        .register(&server, json!({"max_scopes": ["pub:news"]}))
        .await;
    let by_admin = server.publish("news", json!({"data": "official"})).await;
    let (_, by_ceo) = publish(
        &server,
        "news",
        &trusted.mint(json!({"scopes": ["pub:news"], "sub": "ceo", "exp": now() + 600})),
    )
    .await;
    assert_eq!(by_admin["publisher_id"], "admin");
    assert_eq!(by_ceo["publisher_id"], "trusted.dev:ceo");
    for sub in ["admin", "trusted.dev:ceo"] {
        let token = partner.mint(json!({"scopes": ["pub:news"], "sub": sub, "exp": now() + 600}));
        let (status, event) = publish(&server, "news", &token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a pub:news-only partner key published as {sub}: {event}"
        );
    }
    // The partner's own subjects still publish, under their own ids.
    let token = partner.mint(json!({"scopes": ["pub:news"], "sub": "bot-7", "exp": now() + 600}));
    let (status, event) = publish(&server, "news", &token).await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    assert_eq!(event["publisher_id"], "bot-7");
}

/// Finding: refusals tell a known kid from an unknown one (the module says
/// key ids are not to be probed): with an unparseable signature, an unknown
/// kid is "unknown key or bad signature", a known one "malformed".
async fn unknown_kids_and_known_kids_are_told_apart(backend: Backend) {
    let server = start(backend, &[]).await;
    AppKey::new("prod-signing-2025")
        .register(&server, json!({}))
        .await;
    let probe = |kid: &str| {
        format!(
            "{}.{}.!!",
            b64_json(json!({"alg": "EdDSA", "kid": kid})),
            b64_json(json!({"sub": "x"}))
        )
    };
    let (s1, known) = whoami(&server, &probe("prod-signing-2025")).await;
    let (s2, unknown) = whoami(&server, &probe("prod-signing-2024")).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        detail(&known),
        detail(&unknown),
        "the refusal says whether the kid is registered"
    );
}

/// Finding: the admin refreshing a URL a JWT registered kept its owner
/// (`registered_by` = the JWT's identity) but cleared the JWT columns that
/// LOST_ACCESS checks: removing the key no longer stopped that webhook, and
/// nothing said whose it was. Now the admin's refresh takes it over
/// (`registered_by` = `admin`), openly; one the JWT refreshes itself stays
/// the JWT's and stops with its key.
async fn an_admin_refresh_unties_a_jwt_webhook_from_its_key(backend: Backend) {
    let server = start(backend, &["--allow-private-webhooks"]).await;
    private_channel(&server, "hooked").await;
    let key = AppKey::new("hooks");
    key.register(&server, json!({})).await;
    let token = key.mint(json!({"scopes": ["sub:hooked"], "sub": "svc", "exp": now() + 600}));
    let url = json!({"url": "http://127.0.0.1:9/hook"});
    let (status, hook) = server
        .register_webhook("hooked", Some(&token), url.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let (status, refreshed) = server
        .register_webhook("hooked", Some(ADMIN), url.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["registered_by"], "admin", "{refreshed}");
    // A second webhook the JWT refreshes itself stays the JWT's.
    let other = json!({"url": "http://127.0.0.1:9/other"});
    let (status, _) = server
        .register_webhook("hooked", Some(&token), other.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, again) = server
        .register_webhook("hooked", Some(&token), other.clone())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["registered_by"], "jwt:hooks:svc", "{again}");
    let (status, _) = server
        .call(Method::DELETE, "/keys/hooks", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let hooks = server.webhooks("hooked").await;
    let state = |url: &str| {
        hooks
            .iter()
            .find(|h| h["url"] == url)
            .map(|h| h["state"].clone())
            .unwrap()
    };
    assert_eq!(
        state("http://127.0.0.1:9/hook"),
        "active",
        "the admin's: {hooks:?}"
    );
    assert_eq!(
        state("http://127.0.0.1:9/other"),
        "revoked",
        "the JWT's webhook outlives the removal of its key: {hooks:?}"
    );
}

/// Finding: JWT claims are stored (webhook registrant, jti) without the NUL
/// check every other stored text gets: on PostgreSQL a webhook registration
/// with such a token is a 503, not a 4xx. (SQLite stores NUL: passes there.)
async fn a_nul_in_a_jwt_claim_is_a_5xx_on_webhook_registration(backend: Backend) {
    let server = start(backend, &["--allow-private-webhooks"]).await;
    private_channel(&server, "hooked").await;
    let token = hs256(
        SECRET,
        json!({"scopes": ["sub:hooked"], "sub": "svc\u{0}1", "jti": "j\u{0}", "exp": now() + 600}),
    );
    let (status, body) = server
        .register_webhook(
            "hooked",
            Some(&token),
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert!(
        !status.is_server_error(),
        "a claim with NUL made webhook registration a {status}: {body}"
    );
}

mod postgres_only {
    use super::*;

    /// Holds `jwt_revocations` locked so that the next reload stalls between
    /// reading the keys and writing them back; removes the key meanwhile;
    /// returns once the reload has written its stale copy. The reload is
    /// started by any client: a JWT naming an unknown kid.
    async fn remove_key_during_a_reload(server: &TestServer, kid: &str) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&server.db.url).await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("LOCK TABLE jwt_revocations IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .unwrap();
        let unknown = AppKey::new("no-such-kid").mint(json!({"sub": "x", "exp": now() + 60}));
        let reloading = {
            let request = server.http.get(server.url("/whoami")).bearer_auth(unknown);
            tokio::spawn(async move { request.send().await.unwrap().status() })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let removing = {
            let request = server
                .http
                .delete(server.url(&format!("/keys/{kid}")))
                .bearer_auth(ADMIN);
            tokio::spawn(async move { request.send().await.unwrap().status() })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        tx.commit().await.unwrap();
        assert_eq!(reloading.await.unwrap(), StatusCode::UNAUTHORIZED);
        assert_eq!(removing.await.unwrap(), StatusCode::OK);
    }

    async fn reloading_server() -> Option<TestServer> {
        if !common::postgres_available("postgres_only") {
            return None;
        }
        let server = start(Backend::Postgres, &["--access-recheck-interval", "3600"]).await;
        private_channel(&server, "vault").await;
        Some(server)
    }

    /// Finding: `JwtVerifier::reload` reads the key table, awaits the
    /// deny-list, then overwrites this node's keys: a key removed in
    /// between (here on this very node; any node in a cluster) comes back,
    /// and its tokens are accepted again until the next reload.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reload_racing_a_key_removal_brings_the_key_back() {
        let Some(server) = reloading_server().await else {
            return;
        };
        let key = AppKey::new("rotating");
        key.register(&server, json!({})).await;
        let token = key.mint(json!({"scopes": ["sub:vault"], "sub": "u", "exp": now() + 600}));
        assert_eq!(poll(&server, "vault", &token).await.0, StatusCode::OK);
        remove_key_during_a_reload(&server, "rotating").await;
        let (_, keys) = server.call(Method::GET, "/keys", Some(ADMIN), None).await;
        assert_eq!(keys["keys"], json!([]), "the key is gone from the database");
        let (status, detail) = poll(&server, "vault", &token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a token of the removed key reads the private channel ({detail})"
        );
    }

    /// Finding: a cached verification only asks that its kid still exist,
    /// and adding a key never drops the cache: a token of an old key cached
    /// (here in the window above) keeps passing after the kid is registered
    /// again with another public key, across reloads, while a fresh token
    /// of the old key is refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cached_token_of_a_replaced_key_still_passes() {
        let Some(server) = reloading_server().await else {
            return;
        };
        let old = AppKey::new("rotating");
        old.register(&server, json!({})).await;
        let token = old.mint(json!({"scopes": ["sub:vault"], "sub": "u", "exp": now() + 600}));
        remove_key_during_a_reload(&server, "rotating").await;
        // Verified (and cached) while the node still had the old key.
        let _ = poll(&server, "vault", &token).await;
        // The kid is registered again, with a new public key.
        AppKey::new("rotating").register(&server, json!({})).await;
        // A full reload from the database (a miss, at most once a second).
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let unknown = AppKey::new("no-such-kid").mint(json!({"sub": "x", "exp": now() + 60}));
        assert_eq!(whoami(&server, &unknown).await.0, StatusCode::UNAUTHORIZED);
        let fresh = old.mint(json!({"scopes": ["sub:vault"], "sub": "v", "exp": now() + 600}));
        assert_eq!(
            poll(&server, "vault", &fresh).await.0,
            StatusCode::UNAUTHORIZED,
            "a fresh token of the old key is refused"
        );
        let (status, detail) = poll(&server, "vault", &token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a cached token signed by the replaced key still reads ({detail})"
        );
    }
}
