//! Second adversarial review of bring-your-own JWTs (on 76d09f7, after the
//! fixes of tests/jwt_findings.rs): each test reproduces a way around one of
//! the feature's documented rules (each failed on 76d09f7) and holds its
//! fix. On SQLite and PostgreSQL, except the one that needs two nodes
//! (PostgreSQL only).

mod common;

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{
    ADMIN, Backend,
    jwt::{AUDIENCE, AppKey, SECRET, hs256, now, publish, start, whoami},
    receiver::{Behaviour, Receiver},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    a_crit_header_tells_known_kids_from_unknown,
    a_webhook_of_a_retired_secret_outlives_the_rotation,
    an_issuer_named_key_publishes_as_another_keys_tokens,
);

fn b64_json(value: Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn detail(body: &Value) -> String {
    body["detail"].as_str().unwrap_or_default().to_owned()
}

/// An RFC 3339 time for `seconds` since the epoch.
fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap()
        .to_rfc3339()
}

/// Finding: the fix that gave every failure before a signature verifies one
/// text (`unknown key or bad signature`) left one check out: the `crit`
/// header is refused by name, but only once the kid was found (and its alg
/// matched). An unsigned probe with `crit` tells a registered kid from an
/// unknown one, which the README says cannot be probed.
async fn a_crit_header_tells_known_kids_from_unknown(backend: Backend) {
    let server = start(backend, &[]).await;
    AppKey::new("prod-signing-2025")
        .register(&server, json!({}))
        .await;
    let probe = |kid: &str| {
        format!(
            "{}.{}.{}",
            b64_json(json!({"alg": "EdDSA", "kid": kid, "crit": ["b64"]})),
            b64_json(json!({"sub": "x"})),
            URL_SAFE_NO_PAD.encode([0u8; 64])
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
        "an unsigned token with a crit header says whether its kid is registered"
    );
}

/// Finding: a webhook registered with a token of the HS secret is tied to
/// nothing that ends with the secret (its `jwt_kid` is NULL, and
/// LOST_ACCESS checks only kids, jtis and subjects). After the secret is
/// rotated and the previous one's window is over, the token is refused
/// everywhere, "cached or live", but its webhook keeps receiving the private
/// channel's events until its own TTL (up to a year). A leaked secret, the
/// reason to rotate, keeps feeding the webhooks it registered.
async fn a_webhook_of_a_retired_secret_outlives_the_rotation(backend: Backend) {
    let mut server = start(backend, &["--allow-private-webhooks"]).await;
    server
        .create_channel(json!({"id": "vault", "is_public": false}))
        .await;
    let receiver = Receiver::start(Behaviour::default()).await;
    // Minted with the secret in use now (say, by whoever leaked it).
    let token = hs256(
        SECRET,
        json!({"scopes": ["sub:vault"], "sub": "svc", "exp": now() + 30 * 24 * 3600}),
    );
    let (status, hook) = server
        .register_webhook(
            "vault",
            Some(&token),
            json!({"url": receiver.url, "ttl_seconds": 30 * 24 * 3600}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    server
        .publish("vault", json!({"type": "t", "data": "before-rotation"}))
        .await;
    common::eventually("the webhook delivers before the rotation", || async {
        receiver
            .delivered()
            .iter()
            .any(|body| body.contains("before-rotation"))
    })
    .await;

    // The secret is rotated, with a short window for the previous one.
    let _ = server.stop();
    let until = now() + 2;
    let until_text = rfc3339(until);
    server.restart_with(&[
        "--jwt-secret",
        "the-new-secret-after-rotation-0123456789",
        "--jwt-audience",
        AUDIENCE,
        "--jwt-previous-secret",
        SECRET,
        "--jwt-previous-secret-until",
        &until_text,
        "--allow-private-webhooks",
    ]);
    tokio::time::sleep(Duration::from_secs((until + 1 - now()).max(0) as u64)).await;
    assert_eq!(
        whoami(&server, &token).await.0,
        StatusCode::UNAUTHORIZED,
        "the retired secret's token is refused"
    );
    // Any access change sweeps the webhooks whose registrant lost access.
    let (status, _) = server
        .call(
            Method::POST,
            "/revocations",
            Some(ADMIN),
            Some(json!({"jti": "unrelated"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let hooks = server.webhooks("vault").await;
    server
        .publish("vault", json!({"type": "t", "data": "after-rotation"}))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline
        && !receiver
            .delivered()
            .iter()
            .any(|body| body.contains("after-rotation"))
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leaked = receiver
        .delivered()
        .iter()
        .any(|body| body.contains("after-rotation"));
    assert!(
        hooks[0]["state"] != "active" && !leaked,
        "the webhook of a token the retired secret signed is still {} after the rotation \
         window (expires {}), and {} the private channel's next event",
        hooks[0]["state"],
        hooks[0]["expires_at"],
        if leaked { "received" } else { "was sent" }
    );
}

/// Finding: publisher ids were made unambiguous (no `:` in `sub`, no
/// `admin` without an issuer), but a token without `sub` publishes as
/// `key:<kid>`, and a key whose issuer is `key` published its subjects as
/// `key:<sub>`: a partner key confined to `pub:news` published under the
/// publisher id of another key's tokens. Now the issuer `key` is reserved.
async fn an_issuer_named_key_publishes_as_another_keys_tokens(backend: Backend) {
    let server = start(backend, &[]).await;
    server.create_channel(json!({"id": "news"})).await;
    let bot = AppKey::new("newsroom-bot");
    bot.register(&server, json!({"max_scopes": ["pub:news"]}))
        .await;
    let (status, by_bot) = publish(
        &server,
        "news",
        &bot.mint(json!({"scopes": ["pub:news"], "exp": now() + 600})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{by_bot}");
    assert_eq!(by_bot["publisher_id"], "key:newsroom-bot");
    let partner = AppKey::new("partner");
    let (status, body) = server
        .call(
            Method::POST,
            "/keys",
            Some(ADMIN),
            Some(json!({"kid": "partner", "x": partner.x(), "issuer": "key",
                        "max_scopes": ["pub:news"]})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a key with issuer \"key\" would publish as key newsroom-bot's tokens do: {body}"
    );
}

mod postgres_only {
    use super::*;

    /// Finding: grants remember their key's fingerprint (a kid registered
    /// again drops the old key's tokens, cached or live, at the latest at
    /// the node's next reload), but webhooks remember only the kid:
    /// LOST_ACCESS asks whether *a* key of that kid exists. A webhook the
    /// old key's token registers on a node that has not heard of the
    /// rotation yet (a missed notice: within the recheck window) outlives
    /// the convergence: once that node refuses the old key's tokens, the
    /// webhook still receives the private channel's events, for its whole TTL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_webhook_of_a_replaced_key_outlives_the_replacement() {
        if !common::postgres_available("a_webhook_of_a_replaced_key_outlives_the_replacement") {
            return;
        }
        let a = start(
            Backend::Postgres,
            &[
                "--allow-private-webhooks",
                "--access-recheck-interval",
                "3600",
            ],
        )
        .await;
        let b = a.join_with_env(&[("CHANNELHUB_DEBUG_DROP_CONTROL_NOTICES", "1000")]);
        a.create_channel(json!({"id": "vault", "is_public": false}))
            .await;
        let old = AppKey::new("app");
        old.register(&a, json!({})).await;
        let token = old.mint(json!({"scopes": ["sub:vault"], "sub": "svc", "exp": now() + 600}));
        // Node b learns the key at the token's first use.
        assert_eq!(whoami(&b, &token).await.0, StatusCode::OK);
        // The key is replaced on node a: removed, registered again with new material.
        let (status, _) = a.call(Method::DELETE, "/keys/app", Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::OK);
        AppKey::new("app").register(&a, json!({})).await;
        assert_eq!(
            whoami(&a, &token).await.0,
            StatusCode::UNAUTHORIZED,
            "node a refuses the old key's token"
        );
        // Before node b converges, the old key's token registers a webhook there.
        let receiver = Receiver::start(Behaviour::default()).await;
        let (status, hook) = b
            .register_webhook("vault", Some(&token), json!({"url": receiver.url}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        // Node b converges: an unknown kid makes it re-read the keys.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let unknown = AppKey::new("no-such-kid").mint(json!({"sub": "x", "exp": now() + 60}));
        assert_eq!(whoami(&b, &unknown).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            whoami(&b, &token).await.0,
            StatusCode::UNAUTHORIZED,
            "node b refuses the old key's token once it re-read the keys"
        );
        // A sweep (any access change), then an event on the private channel.
        let (status, _) = a
            .call(
                Method::POST,
                "/revocations",
                Some(ADMIN),
                Some(json!({"jti": "unrelated"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let hooks = a.webhooks("vault").await;
        a.publish("vault", json!({"type": "t", "data": "secret-payload"}))
            .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline
            && !receiver
                .delivered()
                .iter()
                .any(|body| body.contains("secret-payload"))
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let leaked = receiver
            .delivered()
            .iter()
            .any(|body| body.contains("secret-payload"));
        assert!(
            hooks[0]["state"] != "active" && !leaked,
            "the webhook the replaced key's token registered is {} (registered_by {}) \
             and {} the private channel's events",
            hooks[0]["state"],
            hooks[0]["registered_by"],
            if leaked { "received" } else { "was sent" }
        );
    }
}
