//! Bring-your-own tokens: JWTs minted by an application's server (here by
//! jsonwebtoken in this test process, and by PyJWT for the fixed
//! Zooid-shaped tokens below), verified by the HS256 secret or a trusted
//! key: scopes, ceilings, claims, key registration and refusals. On SQLite
//! and PostgreSQL. (`jwt_revocation.rs` covers ending access;
//! `tests/jwt/pyjwt_algorithms.py` every algorithm, with keys and tokens made
//! by Python's `cryptography` and PyJWT.)

mod common;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{
    ADMIN, Backend, TestServer,
    jwt::{AUDIENCE, AppKey, SECRET, hs256, now, poll, private_channel, publish, start, whoami},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    zooid_minted_tokens_work_unchanged,
    scopes_ceilings_and_claims_are_checked,
    key_registration_refuses_bad_keys,
    refused_jwts_say_why_and_cost_no_5xx,
);

/// Tokens PyJWT 2.10.1 minted the way Zooid's code mints them (`iat`
/// 1700000000, no `exp`), with the key and secret below.
mod zooid {
    pub const X: &str = "4HVQVHe007aIPsuv3WwsaQDXAuUmbmqXLQE802YVj0s";
    pub const SECRET: &str = "zooid-fixture-secret-0123456789abcdef";
    pub const OLD_URL: &str = "https://old-zooid.example.workers.dev";
    /// EdDSA, kid `zooid-1`: pub and sub on market-signals, sub agent-001.
    pub const EDDSA: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6Inpvb2lkLTEiLCJ0eXAiOiJKV1QifQ.eyJzY29wZXMiOlsicHViOm1hcmtldC1zaWduYWxzIiwic3ViOm1hcmtldC1zaWduYWxzIl0sInN1YiI6ImFnZW50LTAwMSIsIm5hbWUiOiJNYXJrZXQgQWdlbnQiLCJpYXQiOjE3MDAwMDAwMDB9.2aie57Dif2JYxx5RIK1-239gfriNDdmwewroVwSCuG8aKb-Z8dRlbDTwKH06NtF-Xt191lNiNEVCp45ogUCHAQ";
    /// EdDSA with `aud` the old Zooid server's URL: sub on market-signals.
    pub const EDDSA_AUD: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6Inpvb2lkLTEiLCJ0eXAiOiJKV1QifQ.eyJzY29wZXMiOlsic3ViOm1hcmtldC1zaWduYWxzIl0sInN1YiI6ImFnZW50LTAwMiIsImF1ZCI6Imh0dHBzOi8vb2xkLXpvb2lkLmV4YW1wbGUud29ya2Vycy5kZXYiLCJpYXQiOjE3MDAwMDAwMDB9.bxVj6mYjmDBiqkYIvvrRCBCMyr6hhKRdZLYO8AyQwIc9RisL5JFvjTlj6NM2cEKtkAJ0MDy3ANMEDHlnM6zqAQ";
    /// HS256, legacy `scope: publish` with `channels: [market-signals]`.
    pub const HS_LEGACY_PUBLISH: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6InB1Ymxpc2giLCJjaGFubmVscyI6WyJtYXJrZXQtc2lnbmFscyJdLCJzdWIiOiJsZWdhY3kiLCJpYXQiOjE3MDAwMDAwMDB9.a2UoF_Ww6DPxtLkOBDAsc4xDPPDfxikiz0MNlpV5wqQ";
    /// HS256, legacy `scope: subscribe` with no channel list: every channel.
    pub const HS_LEGACY_SUBSCRIBE_ALL: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6InN1YnNjcmliZSIsImlhdCI6MTcwMDAwMDAwMH0.HkFmh9S1Pn8ec-dVYkfZ8yKUOkVoNBjVQwyCKih1poI";
    /// HS256 with the OIDC claim `https://zooid.dev/scopes`.
    pub const HS_OIDC: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJodHRwczovL3pvb2lkLmRldi9zY29wZXMiOlsic3ViOm1hcmtldC1zaWduYWxzIl0sImlhdCI6MTcwMDAwMDAwMH0.MuitToqCDqMCcnxTsWA461xLT2TDbmuatlIxszjqDrA";
    /// EdDSA, `scopes: [admin]`.
    pub const EDDSA_ADMIN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6Inpvb2lkLTEiLCJ0eXAiOiJKV1QifQ.eyJzY29wZXMiOlsiYWRtaW4iXSwic3ViIjoicm9vdCIsImlhdCI6MTcwMDAwMDAwMH0.nXLw_QdFmAcbsbeqCEDMY-i0NdqA99_FbCnCAr7iAKcg0yyVIMPHc_DcGEeHVbRKEiSiJmOfvVw-QGQMcwoNBg";
}

async fn zooid_minted_tokens_work_unchanged(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            "--jwt-secret",
            zooid::SECRET,
            "--jwt-secret-require-exp",
            "false",
            "--jwt-audience",
            zooid::OLD_URL,
        ],
    )
    .await;
    private_channel(&server, "market-signals").await;
    let key = json!({"kid": "zooid-1", "kty": "OKP", "crv": "Ed25519", "x": zooid::X});
    // Registered as Zooid's CLI sends it, the key requires exp by default:
    // the non-expiring token is refused, and says why.
    let (status, _) = server
        .call(Method::POST, "/keys", Some(ADMIN), Some(key.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = whoami(&server, zooid::EDDSA).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["detail"].as_str().unwrap().contains("no exp"),
        "{body}"
    );
    let (status, removed) = server
        .call(Method::DELETE, "/keys/zooid-1", Some(ADMIN), None)
        .await;
    assert_eq!((status, removed), (StatusCode::OK, json!({"ok": true})));
    let mut key = key;
    key["require_exp"] = json!(false);
    let (status, _) = server
        .call(Method::POST, "/keys", Some(ADMIN), Some(key))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, event) = publish(&server, "market-signals", zooid::EDDSA).await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    assert_eq!(event["publisher_id"], "agent-001");
    assert_eq!(event["publisher_name"], "Market Agent");
    assert_eq!(
        poll(&server, "market-signals", zooid::EDDSA).await.0,
        StatusCode::OK
    );
    assert_eq!(
        poll(&server, "market-signals", zooid::EDDSA_AUD).await.0,
        StatusCode::OK
    );
    // Legacy claims: publish to one channel (no read: 401 on a private read).
    let (status, event) = publish(&server, "market-signals", zooid::HS_LEGACY_PUBLISH).await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    assert_eq!(event["publisher_id"], "legacy");
    assert_eq!(
        poll(&server, "market-signals", zooid::HS_LEGACY_PUBLISH)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    for reader in [zooid::HS_LEGACY_SUBSCRIBE_ALL, zooid::HS_OIDC] {
        assert_eq!(
            poll(&server, "market-signals", reader).await.0,
            StatusCode::OK
        );
        assert_eq!(
            publish(&server, "market-signals", reader).await.0,
            StatusCode::FORBIDDEN
        );
    }
    // An admin token of the key (no ceiling, as Zooid registers keys).
    let (status, body) = server
        .call(
            Method::POST,
            "/channels",
            Some(zooid::EDDSA_ADMIN),
            Some(json!({"id": "made-by-jwt"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server
        .call(Method::GET, "/keys", Some(zooid::EDDSA_ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["keys"][0]["kid"], "zooid-1");
    assert_eq!(body["keys"][0]["x"], zooid::X);
    assert_eq!(body["keys"][0]["max_scopes"], Value::Null);
    // Zooid's guard: a key cannot be removed by a request it signed.
    let (status, body) = server
        .call(
            Method::DELETE,
            "/keys/zooid-1",
            Some(zooid::EDDSA_ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("signed this request")
    );
}

async fn scopes_ceilings_and_claims_are_checked(backend: Backend) {
    let server = start(backend, &[]).await;
    private_channel(&server, "app-1").await;
    private_channel(&server, "other").await;
    let key = AppKey::new("partner-key");
    key.register(
        &server,
        json!({"max_scopes": ["pub:app-*", "sub:app-*"], "issuer": "partner.dev", "max_ttl": 3600}),
    )
    .await;
    let base =
        |scopes: Value| json!({"scopes": scopes, "sub": "u1", "iat": now(), "exp": now() + 600});
    let with = |scopes: Value, extra: Value| {
        let mut claims = base(scopes);
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        key.mint(claims)
    };
    let detail_of = |body: &Value| body["detail"].as_str().unwrap_or_default().to_owned();

    // Over the ceiling: 401, naming it.
    let (status, body) = whoami(&server, &key.mint(base(json!(["admin"])))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        detail_of(&body).contains("outside what its key may grant"),
        "{body}"
    );

    // sub reads its channels only; a private read without it is 401; a
    // valid credential that may read but not publish gets 403.
    let reader = key.mint(base(json!(["sub:app-1"])));
    assert_eq!(poll(&server, "app-1", &reader).await.0, StatusCode::OK);
    assert_eq!(
        poll(&server, "other", &reader).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        publish(&server, "app-1", &reader).await.0,
        StatusCode::FORBIDDEN
    );
    // pub without sub: publishes, cannot read the private channel.
    let writer = key.mint(base(json!(["pub:app-*"])));
    let (status, event) = publish(&server, "app-1", &writer).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(event["publisher_id"], "partner.dev:u1", "issuer-prefixed");
    assert_eq!(
        poll(&server, "app-1", &writer).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Its own event it may delete; a JWT of another subject may not.
    let event_id = event["id"].as_str().unwrap();
    let stranger = with(json!(["pub:app-*"]), json!({"sub": "u2"}));
    let path = format!("/channels/app-1/events/{event_id}");
    assert_eq!(
        server
            .call(Method::DELETE, &path, Some(&stranger), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server
            .call(Method::DELETE, &path, Some(&writer), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    // Admin routes need admin: a valid non-admin JWT gets 403.
    assert_eq!(
        server
            .call(Method::GET, "/keys", Some(&reader), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // aud: a string or an array naming this server; anything else is refused.
    for aud in [json!(AUDIENCE), json!(["https://elsewhere", AUDIENCE])] {
        let token = with(json!(["sub:app-1"]), json!({"aud": aud}));
        assert_eq!(whoami(&server, &token).await.0, StatusCode::OK, "aud {aud}");
    }
    let token = with(json!(["sub:app-1"]), json!({"aud": "https://elsewhere"}));
    let (status, body) = whoami(&server, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail_of(&body).contains("aud"), "{body}");
    // iss must be the key's issuer.
    let token = with(json!(["sub:app-1"]), json!({"iss": "someone-else"}));
    let (status, body) = whoami(&server, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail_of(&body).contains("iss"), "{body}");

    // Leeway (30 s) on exp and nbf, on both sides of the edge.
    let edge = |claims: Value| {
        let mut full = json!({"scopes": ["sub:app-1"], "sub": "u1", "iat": now() - 100});
        full.as_object_mut()
            .unwrap()
            .extend(claims.as_object().unwrap().clone());
        key.mint(full)
    };
    assert_eq!(
        whoami(&server, &edge(json!({"exp": now() - 10}))).await.0,
        StatusCode::OK
    );
    let (status, body) = whoami(&server, &edge(json!({"exp": now() - 45}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail_of(&body).contains("expired"), "{body}");
    let future = json!({"exp": now() + 600, "nbf": now() + 10});
    assert_eq!(whoami(&server, &edge(future)).await.0, StatusCode::OK);
    let (status, body) = whoami(
        &server,
        &edge(json!({"exp": now() + 600, "nbf": now() + 60})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail_of(&body).contains("not valid yet"), "{body}");
    // A future iat (a minting clock ahead) is no error.
    let token = key.mint(json!({"scopes": ["sub:app-1"], "iat": now() + 20, "exp": now() + 600}));
    assert_eq!(whoami(&server, &token).await.0, StatusCode::OK);
    // max_ttl: exp - iat over an hour is refused.
    let token = key.mint(json!({"scopes": ["sub:app-1"], "iat": now(), "exp": now() + 7200}));
    let (status, body) = whoami(&server, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail_of(&body).contains("max_ttl"), "{body}");

    // HS256 with the server's secret: under its default ceiling (admin).
    let hs = hs256(SECRET, json!({"scopes": ["sub:other"], "exp": now() + 60}));
    assert_eq!(poll(&server, "other", &hs).await.0, StatusCode::OK);
    let (_, who) = whoami(&server, &hs).await;
    assert_eq!(who["kind"], "jwt");
    assert_eq!(who["kid"], Value::Null);

    // whoami answers for every kind of credential.
    let (status, who) = server.call(Method::GET, "/whoami", None, None).await;
    assert_eq!(
        (status, who["kind"].clone()),
        (StatusCode::OK, json!("anonymous"))
    );
    let (_, who) = whoami(&server, ADMIN).await;
    assert_eq!(who["kind"], "admin");
    let (token, _) = server.create_token("app-1", "subscribe", json!({})).await;
    let (_, who) = whoami(&server, &token).await;
    assert_eq!(who["kind"], "channel_token");
    assert_eq!(who["scopes"], json!(["sub:app-1"]));

    // The well-known document says what is accepted.
    let well_known: Value = server.root_json("/.well-known/channelhub.json").await;
    assert_eq!(well_known["jwt"]["audience"], json!([AUDIENCE]));
    let algorithms = well_known["jwt"]["algorithms"].as_array().unwrap();
    assert!(algorithms.contains(&json!("HS256")) && algorithms.contains(&json!("EdDSA")));
}

async fn key_registration_refuses_bad_keys(backend: Backend) {
    let server = start(backend, &["--jwt-max-keys", "2"]).await;
    let post = |body: Value| {
        let server = &server;
        async move {
            server
                .call(Method::POST, "/keys", Some(ADMIN), Some(body))
                .await
        }
    };
    let short = URL_SAFE_NO_PAD.encode([7u8; 31]);
    let good = AppKey::new("k1").x();
    let cases = [
        (json!({"kid": "a", "x": short}), "32-byte"),
        (
            json!({"kid": "a", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": good, "d": good}}),
            "private member",
        ),
        (
            json!({"kid": "a", "jwks_url": "https://example.com/jwks.json"}),
            "not supported yet",
        ),
        (json!({"kid": "a"}), "must be provided"),
        (
            json!({"kid": "a", "x": good, "jwk": {"kty": "OKP"}}),
            "either x or jwk",
        ),
        (
            json!({"kid": "a", "x": good, "max_scopes": ["read:x"]}),
            "invalid scope",
        ),
        (
            json!({"kid": "a", "x": good, "alg": "HS256"}),
            "does not fit",
        ),
        (json!({"kid": "a b", "x": good}), "visible ASCII"),
        (
            json!({"kid": "a", "jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}),
            "2048",
        ),
        (json!({"kid": "a", "x": good, "unknown": 1}), ""),
    ];
    for (body, reason) in cases {
        let (status, problem) = post(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(reason),
            "{body} → {problem}"
        );
    }
    assert_eq!(
        post(json!({"kid": "k1", "x": good})).await.0,
        StatusCode::CREATED
    );
    let (status, problem) = post(json!({"kid": "k1", "x": good})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["detail"], "Key \"k1\" already exists");
    assert_eq!(
        post(json!({"kid": "k2", "x": good})).await.0,
        StatusCode::CREATED
    );
    let (status, problem) = post(json!({"kid": "k3", "x": good})).await;
    assert_eq!(status, StatusCode::CONFLICT, "bounded by --jwt-max-keys");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("--jwt-max-keys")
    );
    let (status, _) = server
        .call(Method::DELETE, "/keys/nope", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = server.call(Method::GET, "/keys", Some(ADMIN), None).await;
    assert_eq!(list["keys"].as_array().unwrap().len(), 2);
}

/// A long-poll for the next event, waiting up to 30 s.
async fn refused_jwts_say_why_and_cost_no_5xx(backend: Backend) {
    let server = start(backend, &[]).await;
    let key = AppKey::new("real");
    key.register(&server, json!({})).await;
    let claims = json!({"scopes": ["sub:x"], "sub": "u", "exp": now() + 600});
    let good = key.mint(claims.clone());
    let detail = |body: &Value| body["detail"].as_str().unwrap_or_default().to_owned();

    // An unknown kid and a bad signature share one text.
    let unknown = AppKey::new("nobody").mint(claims.clone());
    // Signed by another key that claims the real one's kid.
    let forged = AppKey::new("real").mint(claims.clone());
    let (s1, b1) = whoami(&server, &unknown).await;
    let (s2, b2) = whoami(&server, &forged).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(detail(&b1), detail(&b2));
    assert!(!detail(&b1).contains("nobody") && !detail(&b1).contains(&good[..20]));

    // alg none; HS256 signed with the public key (algorithm confusion);
    // truncated and huge tokens; random kids: 401, never a 5xx.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"real"}"#),
        good.split('.').nth(1).unwrap()
    );
    let (status, body) = whoami(&server, &none).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail(&body).contains("alg"), "{body}");
    let mut confused_header = Header::new(Algorithm::HS256);
    confused_header.kid = Some("real".into());
    let confused = jsonwebtoken::encode(
        &confused_header,
        &claims,
        &EncodingKey::from_secret(key.x().as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(whoami(&server, &confused).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        whoami(&server, &good[..good.len() - 5]).await.0,
        StatusCode::UNAUTHORIZED
    );
    let huge = hs256(
        SECRET,
        json!({"scopes": ["sub:x"], "pad": "x".repeat(9000), "exp": now() + 60}),
    );
    let status = whoami(&server, &huge).await.0;
    assert!(status.is_client_error(), "{status}");
    for i in 0..200 {
        let token = AppKey::new(&format!("random-{i}")).mint(claims.clone());
        assert_eq!(whoami(&server, &token).await.0, StatusCode::UNAUTHORIZED);
    }
    // The real key still works, and chs_ tokens and the admin are untouched.
    assert_eq!(whoami(&server, &good).await.0, StatusCode::OK);
    assert_eq!(whoami(&server, ADMIN).await.0, StatusCode::OK);
    let unknown_token = format!("chs_{}_{}", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "x".repeat(43));
    let (status, body) = whoami(&server, &unknown_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(detail(&body), "invalid or expired token");
}
