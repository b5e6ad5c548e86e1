//! Ending a JWT's access: removing its key, revoking it by `jti` or subject,
//! and its expiry close live WebSocket, SSE and long-poll listeners (on the
//! other node of a cluster too, on PostgreSQL) and stop the webhooks it
//! registered. On SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::{
    ADMIN, Backend, TestServer,
    jwt::{AppKey, SECRET, hs256, now, private_channel, start, whoami},
    next_text, read_until_close, scaled,
};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

on_both_backends!(
    removing_a_key_closes_its_holders_on_every_node,
    revoking_by_jti_and_subject_closes_live_sockets,
    an_expiring_jwt_ends_its_socket,
    webhooks_registered_with_a_jwt_follow_it,
    the_deny_list_is_bounded,
);

fn long_poll(
    server: &TestServer,
    channel: &str,
    token: &str,
    cursor: &str,
) -> tokio::task::JoinHandle<reqwest::Response> {
    let request = server
        .http
        .get(server.url(&match cursor {
            "" => format!("/channels/{channel}/events?wait=30"),
            _ => format!("/channels/{channel}/events?wait=30&cursor={cursor}"),
        }))
        .bearer_auth(token);
    tokio::spawn(async move { request.send().await.unwrap() })
}

async fn assert_closed_with(socket: &mut common::Ws, code: u16) {
    let (close, reason, _) = read_until_close(socket).await;
    assert_eq!(close, Some(CloseCode::from(code)), "{reason}");
}

async fn removing_a_key_closes_its_holders_on_every_node(backend: Backend) {
    let a = start(backend, &[]).await;
    // On PostgreSQL the listeners are on another node than the removal.
    let joined = matches!(backend, Backend::Postgres).then(|| a.join());
    let b = joined.as_ref().unwrap_or(&a);
    private_channel(&a, "watched").await;
    let key = AppKey::new("doomed");
    key.register(&a, json!({})).await;
    let token = key.mint(json!({"scopes": ["sub:watched"], "sub": "u", "exp": now() + 600}));
    let mut socket = b
        .ws(&format!(
            "/channels/watched/ws?close_codes=app&token={token}"
        ))
        .await;
    let mut sse = b
        .sse(&format!("/channels/watched/stream?token={token}"))
        .await;
    let poll = long_poll(b, "watched", &token, "");
    // All three are live: an event reaches both streams.
    a.publish("watched", json!({"data": 1})).await;
    assert!(next_text(&mut socket).await.contains("\"data\":1"));
    let first = tokio::time::timeout(scaled(Duration::from_secs(10)), sse.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.data.contains("\"data\":1"));
    let poll_answer = poll.await.unwrap();
    assert_eq!(poll_answer.status(), StatusCode::OK);
    let page: Value = poll_answer.json().await.unwrap();
    let cursor = page["cursor"].as_str().unwrap().to_owned();
    let poll = long_poll(b, "watched", &token, &cursor);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (status, _) = a
        .call(Method::DELETE, "/keys/doomed", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_closed_with(&mut socket, 4001).await;
    let ended = tokio::time::timeout(scaled(Duration::from_secs(10)), async {
        loop {
            match sse.next().await {
                None | Some(Err(_)) => break,
                Some(Ok(message)) => assert!(!message.data.contains("\"data\""), "{message:?}"),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the SSE stream ended");
    let answer = tokio::time::timeout(scaled(Duration::from_secs(10)), poll)
        .await
        .expect("the long-poll answered at once, not at its 30 s wait")
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    // And the token is refused everywhere from now on.
    assert_eq!(whoami(b, &token).await.0, StatusCode::UNAUTHORIZED);
}

async fn revoking_by_jti_and_subject_closes_live_sockets(backend: Backend) {
    let server = start(backend, &[]).await;
    private_channel(&server, "feed").await;
    let key = AppKey::new("app");
    key.register(&server, json!({})).await;
    let claims = |sub: &str, jti: &str, iat: i64| json!({"scopes": ["sub:feed"], "sub": sub, "jti": jti, "iat": iat, "exp": now() + 600});
    let by_jti = key.mint(claims("alice", "t-1", now()));
    let old = key.mint(claims("bob", "t-2", now() - 100));
    let fresh = key.mint(claims("bob", "t-3", now()));
    let mut jti_socket = server
        .ws(&format!("/channels/feed/ws?close_codes=app&token={by_jti}"))
        .await;
    let mut old_socket = server
        .ws(&format!("/channels/feed/ws?close_codes=app&token={old}"))
        .await;
    let mut fresh_socket = server
        .ws(&format!("/channels/feed/ws?close_codes=app&token={fresh}"))
        .await;

    let (status, revocation) = server
        .call(
            Method::POST,
            "/revocations",
            Some(ADMIN),
            Some(json!({"jti": "t-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{revocation}");
    assert_closed_with(&mut jti_socket, 4001).await;
    let issued_before = chrono_like(now() - 50);
    let (status, _) = server
        .call(
            Method::POST,
            "/revocations",
            Some(ADMIN),
            Some(json!({"sub": "bob", "issued_before": issued_before})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_closed_with(&mut old_socket, 4001).await;
    // The token issued after the cut-off still works and still listens.
    server.publish("feed", json!({"data": "still here"})).await;
    assert!(next_text(&mut fresh_socket).await.contains("still here"));
    assert_eq!(whoami(&server, &old).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&server, &fresh).await.0, StatusCode::OK);
    // Bad entries are refused.
    for body in [
        json!({}),
        json!({"jti": "x", "sub": "y"}),
        json!({"jti": "x", "issuer": "i"}),
    ] {
        let (status, _) = server
            .call(
                Method::POST,
                "/revocations",
                Some(ADMIN),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (_, list) = server
        .call(Method::GET, "/revocations", Some(ADMIN), None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let id = revocation["id"].as_str().unwrap();
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/revocations/{id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(whoami(&server, &by_jti).await.0, StatusCode::OK);
}

/// An RFC 3339 time for `seconds` since the epoch.
fn chrono_like(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap()
        .to_rfc3339()
}

async fn an_expiring_jwt_ends_its_socket(backend: Backend) {
    let server = start(backend, &["--jwt-leeway", "1"]).await;
    private_channel(&server, "brief").await;
    let token = hs256(SECRET, json!({"scopes": ["sub:brief"], "exp": now() + 2}));
    let mut socket = server
        .ws(&format!("/channels/brief/ws?close_codes=app&token={token}"))
        .await;
    let started = std::time::Instant::now();
    assert_closed_with(&mut socket, 4003).await;
    assert!(started.elapsed() >= Duration::from_millis(500));
    let (status, body) = whoami(&server, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["detail"].as_str().unwrap().contains("expired"));
}

async fn webhooks_registered_with_a_jwt_follow_it(backend: Backend) {
    let server = start(backend, &["--allow-private-webhooks"]).await;
    private_channel(&server, "hooked").await;
    let key = AppKey::new("hooks");
    key.register(&server, json!({})).await;
    let register = |token: String| {
        let server = &server;
        async move {
            server
                .call(
                    Method::POST,
                    "/channels/hooked/webhooks",
                    Some(&token),
                    Some(json!({"url": "http://127.0.0.1:9/hook"})),
                )
                .await
        }
    };
    // Without sub, a JWT cannot own a webhook.
    let (status, body) =
        register(key.mint(json!({"scopes": ["sub:hooked"], "exp": now() + 600}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // With sub: the webhook lives no longer than the token.
    let exp = now() + 600;
    let (status, hook) =
        register(key.mint(json!({"scopes": ["sub:hooked"], "sub": "svc", "exp": exp}))).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let expires = |hook: &Value| {
        chrono::DateTime::parse_from_rfc3339(hook["expires_at"].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    assert!(expires(&hook) <= exp + 30, "{hook}");
    assert_eq!(hook["registered_by"], "jwt:hooks:svc");
    // Re-registered by the same key and subject with a later token: moved.
    let later = now() + 1200;
    let (status, again) =
        register(key.mint(json!({"scopes": ["sub:hooked"], "sub": "svc", "exp": later}))).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert!(
        expires(&again) > exp + 30 && expires(&again) <= later + 30,
        "{again}"
    );
    // Revoking the subject stops it.
    let (status, _) = server
        .call(
            Method::POST,
            "/revocations",
            Some(ADMIN),
            Some(json!({"sub": "svc"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let hooks = server.webhooks("hooked").await;
    assert_eq!(hooks[0]["state"], "revoked", "{hooks:?}");
    // Another key's webhook stops when that key is removed.
    let other = AppKey::new("other-hooks");
    other.register(&server, json!({})).await;
    let (status, _) = server
        .call(
            Method::POST,
            "/channels/hooked/webhooks",
            Some(&other.mint(json!({"scopes": ["sub:hooked"], "sub": "svc2", "exp": now() + 600}))),
            Some(json!({"url": "http://127.0.0.1:9/other"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    server
        .call(Method::DELETE, "/keys/other-hooks", Some(ADMIN), None)
        .await;
    let hooks = server.webhooks("hooked").await;
    let theirs = hooks
        .iter()
        .find(|h| h["url"] == "http://127.0.0.1:9/other")
        .unwrap();
    assert_eq!(theirs["state"], "revoked", "{theirs}");
}

/// A node that missed the notices (its LISTEN connection lost them: a
/// debug hook drops them) still learns of a key added elsewhere at the
/// token's first use, and closes the key's sockets once it is removed,
/// within its access recheck interval. PostgreSQL: two nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_the_notices_converges() {
    if !common::postgres_available("a_node_that_missed_the_notices_converges") {
        return;
    }
    let a = start(Backend::Postgres, &["--access-recheck-interval", "1"]).await;
    let b = a.join_with_env(&[("CHANNELHUB_DEBUG_DROP_CONTROL_NOTICES", "1000")]);
    private_channel(&a, "missed").await;
    let key = AppKey::new("elsewhere");
    key.register(&a, json!({})).await;
    let token = key.mint(json!({"scopes": ["sub:missed"], "sub": "u", "exp": now() + 600}));
    let mut socket = b
        .ws(&format!(
            "/channels/missed/ws?close_codes=app&token={token}"
        ))
        .await;
    a.publish("missed", json!({"data": "live"})).await;
    assert!(next_text(&mut socket).await.contains("live"));
    let (status, _) = a
        .call(Method::DELETE, "/keys/elsewhere", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_closed_with(&mut socket, 4001).await;
    assert_eq!(whoami(&b, &token).await.0, StatusCode::UNAUTHORIZED);
}

/// `--jwt-max-revocations` bounds the deny-list (409 past it); entries past
/// their `expires_at` are swept and leave room. (No step depends on how
/// fast the requests run: the bound is shown with entries that never
/// expire, and the sweep by waiting until it has happened.)
async fn the_deny_list_is_bounded(backend: Backend) {
    let server = start(backend, &["--jwt-max-revocations", "2"]).await;
    let revoke = |body: Value| {
        let server = &server;
        async move {
            server
                .call(Method::POST, "/revocations", Some(ADMIN), Some(body))
                .await
        }
    };
    assert_eq!(revoke(json!({"sub": "b"})).await.0, StatusCode::CREATED);
    let (status, kept) = revoke(json!({"jti": "d"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = revoke(json!({"jti": "c"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("--jwt-max-revocations")
    );
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/revocations/{}", kept["id"].as_str().unwrap()),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The list is full again with an entry that expires in a second: only
    // its sweep makes room for "c".
    assert_eq!(
        revoke(json!({"jti": "a", "expires_at": chrono_like(now() + 1)}))
            .await
            .0,
        StatusCode::CREATED
    );
    let mut swept = false;
    for _ in 0..100 {
        if revoke(json!({"jti": "c"})).await.0 == StatusCode::CREATED {
            swept = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(swept, "the expired entry was swept and left room");
}
