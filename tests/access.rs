//! Access that holds when it changes: webhooks belong to whoever registered
//! them and stop when that access ends, and credentials are judged by their
//! shape before anything is hashed. On SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::{
    ADMIN, Backend, TestServer, eventually, next_text, read_until_close,
    receiver::{Behaviour, Receiver},
};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

on_both_backends!(
    a_stranger_cannot_take_over_a_webhook,
    anonymous_webhooks_stop_when_the_channel_goes_private,
    a_webhook_stops_when_its_token_is_revoked,
    a_webhook_stops_when_its_token_expires,
    credentials_are_hashed_only_where_they_matter,
    going_private_closes_every_listener_without_access,
    anonymous_webhooks_are_capped_per_address,
    expiring_tokens_end_their_sockets_and_streams,
    a_revocation_this_node_never_heard_of_still_ends_its_sockets,
    clients_that_ask_get_close_codes_that_tell_endings_apart,
);

async fn webhook(server: &TestServer, channel: &str, id: &Value) -> Value {
    let list = server.webhooks(channel).await;
    list.iter()
        .find(|w| &w["id"] == id)
        .unwrap_or_else(|| panic!("webhook {id} is listed: {list:?}"))
        .clone()
}

async fn attempts(server: &TestServer, channel: &str, id: &Value) -> usize {
    let path = format!(
        "/channels/{channel}/webhooks/{}/deliveries",
        id.as_str().unwrap()
    );
    let (status, log) = server.call(Method::GET, &path, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    log.as_array().unwrap().len()
}

async fn a_stranger_cannot_take_over_a_webhook(backend: Backend) {
    let server = TestServer::start_with(backend, &["--allow-private-webhooks"]).await;
    server.create_channel(json!({"id": "shared-feed"})).await;
    let (reader, reader_info) = server
        .create_token("shared-feed", "subscribe", json!({}))
        .await;
    let url = "http://127.0.0.1:9/owned";
    let (status, owned) = server
        .register_webhook("shared-feed", Some(&reader), json!({"url": url}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{owned}");
    assert_eq!(
        owned["registered_by"],
        format!("token:{}", reader_info["id"].as_str().unwrap())
    );

    // An anonymous caller tries to silence it and shorten its life.
    let (status, problem) = server
        .register_webhook(
            "shared-feed",
            None,
            json!({"url": url, "event_types": ["nothing"], "ttl_seconds": 1}),
        )
        .await;
    common::assert_problem(status, &problem, StatusCode::CONFLICT);
    let unchanged = webhook(&server, "shared-feed", &owned["id"]).await;
    assert_eq!(unchanged["event_types"], Value::Null, "{unchanged}");
    assert_eq!(unchanged["expires_at"], owned["expires_at"]);
    assert_eq!(unchanged["registered_by"], owned["registered_by"]);

    // The owner and the admin may refresh it.
    let (status, mine) = server
        .register_webhook(
            "shared-feed",
            Some(&reader),
            json!({"url": url, "event_types": ["a"]}),
        )
        .await;
    assert_eq!((status, &mine["id"]), (StatusCode::OK, &owned["id"]));
    let (status, by_admin) = server
        .register_webhook(
            "shared-feed",
            Some(ADMIN),
            json!({"url": url, "event_types": ["b"]}),
        )
        .await;
    assert_eq!((status, &by_admin["id"]), (StatusCode::OK, &owned["id"]));
    assert_eq!(by_admin["registered_by"], owned["registered_by"]);

    // Anonymous registrations belong to the address they came from.
    let (status, anonymous) = server
        .register_webhook(
            "shared-feed",
            None,
            json!({"url": "http://127.0.0.1:9/other"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{anonymous}");
    assert_eq!(anonymous["registered_by"], "anonymous:127.0.0.1");
}

async fn anonymous_webhooks_stop_when_the_channel_goes_private(backend: Backend) {
    let server = TestServer::start_with(backend, &["--allow-private-webhooks"]).await;
    server.create_channel(json!({"id": "going-dark"})).await;
    let stranger = Receiver::start(Behaviour::default()).await;
    let witness = Receiver::start(Behaviour::default()).await;
    let (_, anonymous) = server
        .register_webhook("going-dark", None, json!({"url": stranger.url}))
        .await;
    let (_, admins) = server
        .register_webhook("going-dark", Some(ADMIN), json!({"url": witness.url}))
        .await;
    server
        .publish("going-dark", json!({"data": "public"}))
        .await;
    eventually("the public event reaches both webhooks", || async {
        stranger.delivered().len() == 1 && witness.delivered().len() == 1
    })
    .await;

    let (status, channel) = server
        .call(
            Method::PATCH,
            "/channels/going-dark",
            Some(ADMIN),
            Some(json!({"is_public": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{channel}");
    let stopped = webhook(&server, "going-dark", &anonymous["id"]).await;
    assert_eq!(stopped["state"], "revoked", "{stopped}");
    assert!(
        stopped["last_error"].as_str().unwrap().contains("private"),
        "{stopped}"
    );
    assert_eq!(
        webhook(&server, "going-dark", &admins["id"]).await["state"],
        "active"
    );

    server
        .publish("going-dark", json!({"data": "private"}))
        .await;
    eventually("the admin's webhook gets the private event", || async {
        witness.delivered().len() == 2
    })
    .await;
    // The revoked webhook had nothing queued: its log still holds one attempt.
    assert_eq!(attempts(&server, "going-dark", &anonymous["id"]).await, 1);
    assert_eq!(stranger.delivered().len(), 1, "no private event leaked");
}

async fn a_webhook_stops_when_its_token_is_revoked(backend: Backend) {
    let server = TestServer::start_with(backend, &["--allow-private-webhooks"]).await;
    server
        .create_channel(json!({"id": "vault", "is_public": false}))
        .await;
    let (reader, info) = server.create_token("vault", "subscribe", json!({})).await;
    let (status, hook) = server
        .register_webhook(
            "vault",
            Some(&reader),
            json!({"url": "http://127.0.0.1:9/vault"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/channels/vault/tokens/{}", info["id"].as_str().unwrap()),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let stopped = webhook(&server, "vault", &hook["id"]).await;
    assert_eq!(stopped["state"], "revoked", "{stopped}");
    assert!(
        stopped["last_error"].as_str().unwrap().contains("token"),
        "{stopped}"
    );
    // Registering again needs access again.
    let (status, problem) = server
        .register_webhook(
            "vault",
            Some(&reader),
            json!({"url": "http://127.0.0.1:9/vault"}),
        )
        .await;
    common::assert_problem(status, &problem, StatusCode::UNAUTHORIZED);
}

async fn a_webhook_stops_when_its_token_expires(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &["--allow-private-webhooks", "--retention-interval", "0.2"],
    )
    .await;
    server
        .create_channel(json!({"id": "lease", "is_public": false}))
        .await;
    // Long enough to register under load (CI once took over a second to
    // register on a busy machine), short enough to wait out.
    let (reader, _) = server
        .create_token("lease", "subscribe", json!({"expires_in_seconds": 4}))
        .await;
    let (status, hook) = server
        .register_webhook(
            "lease",
            Some(&reader),
            json!({"url": "http://127.0.0.1:9/lease"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    assert_eq!(
        webhook(&server, "lease", &hook["id"]).await["state"],
        "active"
    );
    eventually("the webhook stops once its token expires", || async {
        webhook(&server, "lease", &hook["id"]).await["state"] == "revoked"
    })
    .await;
}

/// `channelhub_token_hash_checks_total` as `/metrics` shows it (0 before the first).
async fn hash_checks(server: &TestServer) -> u64 {
    server.metric("channelhub_token_hash_checks_total").await as u64
}

async fn credentials_are_hashed_only_where_they_matter(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "open-news"})).await;
    server.create_channel(json!({"id": "other-news"})).await;
    let (reader, reader_info) = server
        .create_token("open-news", "subscribe", json!({}))
        .await;
    let (publisher, _) = server.create_token("open-news", "publish", json!({})).await;
    let (elsewhere, _) = server
        .create_token("other-news", "subscribe", json!({}))
        .await;
    let before = hash_checks(&server).await;

    // Malformed or unknown credentials are refused without hashing.
    let reader_id = reader_info["id"].as_str().unwrap();
    let garbage = [
        "chs_x_y".to_owned(),
        format!("chs_{reader_id}_tooshort"),
        format!("chs_01ARZ3NDEKTSV4RRFFQ69G5FAV_{}", "A".repeat(43)),
        format!("chs_{reader_id}_{}!", "A".repeat(42)),
    ];
    for credential in &garbage {
        let (status, problem) = server
            .call(
                Method::POST,
                "/channels/open-news/events",
                Some(credential),
                Some(json!({"data": 1})),
            )
            .await;
        common::assert_problem(status, &problem, StatusCode::UNAUTHORIZED);
    }
    // On a public channel, credentials that could not matter are ignored unchecked.
    for credential in garbage.iter().chain([&publisher, &elsewhere]) {
        let (status, page) = server
            .call(
                Method::GET,
                "/channels/open-news/events",
                Some(credential),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
    }
    assert_eq!(hash_checks(&server).await, before, "nothing was hashed");

    // A subscribe token of this channel is checked once, then served from cache.
    for _ in 0..3 {
        let (status, _) = server
            .call(
                Method::GET,
                "/channels/open-news/events",
                Some(&reader),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(hash_checks(&server).await, before + 1);
    // A wrong secret under a real id is hashed (and refused), once per secret.
    let wrong = format!("chs_{reader_id}_{}", "B".repeat(43));
    for _ in 0..3 {
        let (status, _) = server
            .call(
                Method::POST,
                "/channels/open-news/events",
                Some(&wrong),
                Some(json!({"data": 1})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(hash_checks(&server).await, before + 2);
}

async fn going_private_closes_every_listener_without_access(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "town-square"})).await;
    server.create_channel(json!({"id": "next-door"})).await;
    let (member, _) = server
        .create_token("town-square", "subscribe", json!({}))
        .await;
    let (publisher, _) = server
        .create_token("town-square", "publish", json!({}))
        .await;
    let (neighbour, _) = server
        .create_token("next-door", "subscribe", json!({}))
        .await;

    // Listeners who lose access: nobody, a publish token, another channel's reader.
    let outsiders = [None, Some(&publisher), Some(&neighbour)];
    let mut sockets = Vec::new();
    let mut streams = Vec::new();
    for token in outsiders {
        let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
        sockets.push(server.ws(&format!("/channels/town-square/ws{query}")).await);
        streams.push(
            server
                .sse(&format!("/channels/town-square/stream{query}"))
                .await,
        );
    }
    let mut kept_socket = server
        .ws(&format!("/channels/town-square/ws?token={member}"))
        .await;
    let mut admin_socket = server
        .ws(&format!("/channels/town-square/ws?token={ADMIN}"))
        .await;
    let mut kept_stream = server
        .sse(&format!("/channels/town-square/stream?token={member}"))
        .await;

    let (status, channel) = server
        .call(
            Method::PATCH,
            "/channels/town-square",
            Some(ADMIN),
            Some(json!({"is_public": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{channel}");
    let secret = server
        .publish_raw("town-square", json!({"data": "members only"}))
        .await;

    for (i, socket) in sockets.iter_mut().enumerate() {
        let (code, reason, texts) = read_until_close(socket).await;
        assert_eq!(code, Some(CloseCode::Policy), "socket {i}: {reason}");
        assert_eq!(texts, 0, "socket {i} saw the private event");
    }
    for (i, stream) in streams.iter_mut().enumerate() {
        let next = tokio::time::timeout(common::scaled(Duration::from_secs(10)), stream.next())
            .await
            .unwrap_or_else(|_| panic!("stream {i} was not ended within 10 s"));
        assert!(
            next.is_none(),
            "stream {i} got {next:?} after going private"
        );
    }
    assert_eq!(next_text(&mut kept_socket).await, secret);
    assert_eq!(next_text(&mut admin_socket).await, secret);
    let message = tokio::time::timeout(common::scaled(Duration::from_secs(10)), kept_stream.next())
        .await
        .expect("the member's stream gets the event within 10 s")
        .expect("the member's stream is open")
        .expect("a well-formed SSE message");
    assert_eq!(message.data, secret);
}

async fn anonymous_webhooks_are_capped_per_address(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            "--allow-private-webhooks",
            "--max-anonymous-webhooks-per-ip",
            "2",
        ],
    )
    .await;
    server.create_channel(json!({"id": "feed-one"})).await;
    server.create_channel(json!({"id": "feed-two"})).await;
    let (reader, _) = server
        .create_token("feed-two", "subscribe", json!({}))
        .await;
    for (channel, url) in [
        ("feed-one", "http://127.0.0.1:9/a"),
        ("feed-two", "http://127.0.0.1:9/b"),
    ] {
        let (status, hook) = server
            .register_webhook(channel, None, json!({"url": url}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
    }
    let response = server
        .send(
            Method::POST,
            "/channels/feed-one/webhooks",
            None,
            Some(json!({"url": "http://127.0.0.1:9/c"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    let problem: Value = response.json().await.unwrap();
    common::assert_problem(
        StatusCode::TOO_MANY_REQUESTS,
        &problem,
        StatusCode::TOO_MANY_REQUESTS,
    );
    assert_eq!(
        server
            .metric("channelhub_limit_refusals_total{limit=\"anonymous_webhooks_per_ip\"}")
            .await,
        1.0
    );

    // Refreshing one it holds, and registering with a token, still work.
    let (status, _) = server
        .register_webhook("feed-one", None, json!({"url": "http://127.0.0.1:9/a"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .register_webhook(
            "feed-two",
            Some(&reader),
            json!({"url": "http://127.0.0.1:9/c"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, list) = server
        .call(
            Method::GET,
            "/channels/feed-one/webhooks",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "the refused one was not stored"
    );
}

async fn expiring_tokens_end_their_sockets_and_streams(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({"id": "short-lease", "is_public": false}))
        .await;
    let (reader, _) = server
        .create_token("short-lease", "subscribe", json!({"expires_in_seconds": 2}))
        .await;
    let mut socket = server
        .ws(&format!("/channels/short-lease/ws?token={reader}"))
        .await;
    let mut stream = server
        .sse(&format!("/channels/short-lease/stream?token={reader}"))
        .await;
    let (code, reason, _) = read_until_close(&mut socket).await;
    assert_eq!(code, Some(CloseCode::Policy), "{reason}");
    assert!(reason.contains("expired"), "{reason}");
    let next = tokio::time::timeout(common::scaled(Duration::from_secs(10)), stream.next())
        .await
        .expect("the stream ends within 10 s of its token's expiry");
    assert!(next.is_none(), "the stream went on: {next:?}");
}

/// Deletes a token behind the server's back, as a revocation whose notice
/// this node never received would leave it.
async fn delete_token_row(server: &TestServer, token_id: &str) {
    use sqlx::Connection as _;
    let sql = "DELETE FROM tokens WHERE id = $1";
    if server.db.url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&server.db.url)
            .await
            .unwrap();
        sqlx::query(sql)
            .bind(token_id)
            .execute(&mut conn)
            .await
            .unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&server.db.url).await.unwrap();
        sqlx::query(sql)
            .bind(token_id)
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

async fn a_revocation_this_node_never_heard_of_still_ends_its_sockets(backend: Backend) {
    let server = TestServer::start_with(backend, &["--access-recheck-interval", "0.5"]).await;
    server
        .create_channel(json!({"id": "quiet-vault", "is_public": false}))
        .await;
    let (kept, _) = server
        .create_token("quiet-vault", "subscribe", json!({}))
        .await;
    let (lost, lost_info) = server
        .create_token("quiet-vault", "subscribe", json!({}))
        .await;
    let mut kept_socket = server
        .ws(&format!("/channels/quiet-vault/ws?token={kept}"))
        .await;
    let mut lost_socket = server
        .ws(&format!("/channels/quiet-vault/ws?token={lost}"))
        .await;
    delete_token_row(&server, lost_info["id"].as_str().unwrap()).await;

    let (code, reason, _) = read_until_close(&mut lost_socket).await;
    assert_eq!(code, Some(CloseCode::Policy), "{reason}");
    let body = server
        .publish_raw("quiet-vault", json!({"data": "after"}))
        .await;
    assert_eq!(next_text(&mut kept_socket).await, body);
}

async fn clients_that_ask_get_close_codes_that_tell_endings_apart(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "coded"})).await;
    let (member, info) = server.create_token("coded", "subscribe", json!({})).await;
    let mut anonymous = server.ws("/channels/coded/ws?close_codes=app").await;
    let mut seed = server.ws("/channels/coded/ws").await;
    let mut holder = server
        .ws(&format!(
            "/channels/coded/ws?close_codes=app&token={member}"
        ))
        .await;
    let (status, _) = server
        .call(
            Method::PATCH,
            "/channels/coded",
            Some(ADMIN),
            Some(json!({"is_public": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (code, reason, _) = read_until_close(&mut anonymous).await;
    assert_eq!(code, Some(CloseCode::from(4002)), "{reason}");
    // Without asking, the seed's code.
    let (code, _, _) = read_until_close(&mut seed).await;
    assert_eq!(code, Some(CloseCode::Policy));

    server
        .call(
            Method::DELETE,
            &format!("/channels/coded/tokens/{}", info["id"].as_str().unwrap()),
            Some(ADMIN),
            None,
        )
        .await;
    let (code, reason, _) = read_until_close(&mut holder).await;
    assert_eq!(code, Some(CloseCode::from(4001)), "{reason}");

    let mut admin = server
        .ws(&format!("/channels/coded/ws?close_codes=app&token={ADMIN}"))
        .await;
    server
        .call(Method::DELETE, "/channels/coded", Some(ADMIN), None)
        .await;
    let (code, reason, _) = read_until_close(&mut admin).await;
    assert_eq!(code, Some(CloseCode::from(4004)), "{reason}");

    server.create_channel(json!({"id": "coded-two"})).await;
    let (status, _, problem) = server
        .ws_refused("/channels/coded-two/ws?close_codes=loud")
        .await;
    common::assert_problem(status, &problem, StatusCode::BAD_REQUEST);
}
