//! Per-client limits against the real binary: unstorable text, connections
//! per address, rates, header deadlines, anonymous webhooks, trusted proxies.

mod common;

use std::time::Duration;

use common::{ADMIN, Backend, TestServer, assert_problem, eventually};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(
    nul_text_is_refused_everywhere_while_others_publish,
    connections_per_address_are_capped,
    a_publisher_over_its_rate_is_refused_and_nothing_is_stored,
    anonymous_webhooks_can_be_turned_off_and_are_rate_limited,
    forwarded_addresses_count_only_from_trusted_proxies,
);

const PROBLEM: &str = "application/problem+json";

/// Sends a request and checks it is a 400 problem document.
async fn assert_bad_request(server: &TestServer, method: Method, path: &str, body: Option<Value>) {
    let response = server.send(method.clone(), path, Some(ADMIN), body).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_problem(status, &body, StatusCode::BAD_REQUEST);
    assert_eq!(content_type.as_deref(), Some(PROBLEM), "{method} {path}");
}

async fn nul_text_is_refused_everywhere_while_others_publish(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "good"})).await;
    server.create_channel(json!({"id": "bad-one"})).await;
    let (publish_token, _) = server.create_token("bad-one", "publish", json!({})).await;

    // Valid publishers on another channel, all the while.
    const PUBLISHERS: usize = 8;
    const EACH: usize = 25;
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let http = server.http.clone();
            let url = server.url("/channels/good/events");
            tokio::spawn(async move {
                for i in 0..EACH {
                    let status = http
                        .post(&url)
                        .bearer_auth(ADMIN)
                        .json(&json!({"type": "ok", "data": {"p": p, "i": i}}))
                        .send()
                        .await
                        .expect("publish")
                        .status();
                    assert_eq!(status, StatusCode::CREATED, "publisher {p}, event {i}");
                }
            })
        })
        .collect();

    let nul = "a\u{0}b";
    let bodies = [
        (
            Method::POST,
            "/channels/bad-one/events",
            json!({"type": nul, "data": 1}),
        ),
        (
            Method::POST,
            "/channels/bad-one/events",
            json!({"data": 1, "meta": nul}),
        ),
        (
            Method::POST,
            "/channels/bad-one/events",
            json!({"events": [{"type": "fine", "data": 1}, {"type": nul, "data": 2}]}),
        ),
        (
            Method::POST,
            "/channels",
            json!({"id": "nul-name", "name": nul}),
        ),
        (
            Method::POST,
            "/channels",
            json!({"id": "nul-desc", "description": nul}),
        ),
        (
            Method::POST,
            "/channels",
            json!({"id": "nul-tags", "tags": ["x", nul]}),
        ),
        (Method::POST, "/channels", json!({"id": nul})),
        (Method::PATCH, "/channels/bad-one", json!({"name": nul})),
        (
            Method::PATCH,
            "/channels/bad-one",
            json!({"description": nul}),
        ),
        (
            Method::POST,
            "/channels/bad-one/tokens",
            json!({"kind": "publish", "name": nul}),
        ),
        (
            Method::POST,
            "/channels/bad-one/tokens",
            json!({"kind": "publish", "publisher_id": nul}),
        ),
        (
            Method::POST,
            "/channels/bad-one/webhooks",
            json!({"url": "http://example.com/\u{0}"}),
        ),
        (
            Method::POST,
            "/channels/bad-one/webhooks",
            json!({"url": "http://example.com/", "event_types": [nul]}),
        ),
    ];
    for (method, path, body) in bodies {
        assert_bad_request(&server, method, path, Some(body)).await;
    }
    // A publish token's requests too.
    let (status, body) = server
        .call(
            Method::POST,
            "/channels/bad-one/events",
            Some(&publish_token),
            Some(json!({"type": nul, "data": 1})),
        )
        .await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST);

    for (method, path) in [
        (Method::GET, "/channels/nul%00"),
        (Method::GET, "/channels/nul%00/events"),
        (Method::GET, "/channels/bad-one/events?type=a%00"),
        (Method::GET, "/channels/bad-one/events?cursor=%00"),
        (Method::GET, "/channels/bad-one/events?since=%00"),
        (Method::GET, "/channels/bad-one/events/%00"),
        (Method::DELETE, "/channels/bad-one/events/%00"),
        (Method::DELETE, "/channels/bad-one/tokens/%00"),
        (Method::DELETE, "/channels/bad-one/webhooks/%00"),
        (Method::GET, "/channels/bad-one/webhooks/%00/deliveries"),
        (Method::GET, "/channels?cursor=%00"),
        (Method::GET, "/channels/bad-one/feed.json?token=%00"),
        (Method::GET, "/channels/bad-one/stream?types=%00"),
        (Method::GET, "/channels/bad-one/ws?types=a%00"),
        (Method::GET, "/channels/bad-one/ws?after=%00"),
    ] {
        assert_bad_request(&server, method, path, None).await;
    }
    let (status, _, body) = server.ws_refused("/channels/bad-one/ws?token=%00").await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST);

    // `data` is stored as JSON text, where NUL is escaped: it is kept.
    let stored = server
        .publish("bad-one", json!({"type": "fine", "data": {"text": nul}}))
        .await;
    assert_eq!(stored["data"]["text"], nul);

    for publisher in publishers {
        publisher.await.expect("a valid publish failed");
    }
    assert_eq!(server.all_events("good").await.len(), PUBLISHERS * EACH);
    let bad = server.all_events("bad-one").await;
    assert_eq!(bad.len(), 1, "only the event with NUL in its data: {bad:?}");
    assert_eq!(bad[0]["data"]["text"], nul);
    let (status, _) = server
        .call(Method::GET, "/channels/nul-name", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A WebSocket upgrade's status and headers.
async fn ws_attempt(server: &TestServer, path: &str) -> (StatusCode, reqwest::header::HeaderMap) {
    use tokio_tungstenite::{connect_async, tungstenite::Error};
    match connect_async(server.ws_url(path)).await {
        Ok((mut socket, response)) => {
            let _ = socket.close(None).await;
            (response.status(), response.headers().clone())
        }
        Err(Error::Http(response)) => (response.status(), response.headers().clone()),
        Err(other) => panic!("unexpected error {other}"),
    }
}

async fn connections_per_address_are_capped(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &["--limit-loopback", "--max-connections-per-ip", "2"],
    )
    .await;
    server.create_channel(json!({"id": "room"})).await;
    let first = server.ws("/channels/room/ws").await;
    let _second = server.ws("/channels/room/ws").await;

    let (status, headers) = ws_attempt(&server, "/channels/room/ws").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    assert_eq!(headers["content-type"], PROBLEM);
    // SSE streams and long-polls share the cap.
    let (status, body) = server
        .call(Method::GET, "/channels/room/stream", None, None)
        .await;
    assert_problem(status, &body, StatusCode::TOO_MANY_REQUESTS);
    let (status, body) = server
        .call(Method::GET, "/channels/room/events?wait=1", None, None)
        .await;
    assert_problem(status, &body, StatusCode::TOO_MANY_REQUESTS);
    // Plain requests are not connections that count.
    let (status, _) = server
        .call(Method::GET, "/channels/room/events", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);

    drop(first);
    eventually("a socket is admitted once one closes", || async {
        ws_attempt(&server, "/channels/room/ws").await.0 == StatusCode::SWITCHING_PROTOCOLS
    })
    .await;

    // An SSE stream holds a slot while it is open, and gives it back.
    drop(_second);
    let stream = eventually_open_stream(&server).await;
    let _third = server.ws("/channels/room/ws").await;
    let (status, _) = ws_attempt(&server, "/channels/room/ws").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    drop(stream);
    eventually("the stream's slot is given back", || async {
        ws_attempt(&server, "/channels/room/ws").await.0 == StatusCode::SWITCHING_PROTOCOLS
    })
    .await;

    let metrics = server.metrics().await;
    assert!(
        metrics.contains("channelhub_limit_refusals_total{limit=\"connections_per_ip\"}"),
        "{metrics}"
    );
}

/// Opens an SSE stream once a slot is free (sockets closed just before may
/// still hold theirs for a moment).
async fn eventually_open_stream(server: &TestServer) -> reqwest::Response {
    let deadline = tokio::time::Instant::now() + common::scaled(Duration::from_secs(30));
    loop {
        let response = server
            .send(Method::GET, "/channels/room/stream", None, None)
            .await;
        if response.status() == StatusCode::OK {
            return response;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no SSE slot within 30 s: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_publisher_over_its_rate_is_refused_and_nothing_is_stored(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            "--limit-loopback",
            "--publish-rate",
            "0.01",
            "--publish-burst",
            "3",
        ],
    )
    .await;
    server.create_channel(json!({"id": "metered"})).await;
    let (token, _) = server.create_token("metered", "publish", json!({})).await;
    let (other, _) = server.create_token("metered", "publish", json!({})).await;

    for i in 0..3 {
        let response = server
            .send(
                Method::POST,
                "/channels/metered/events",
                Some(&token),
                Some(json!({"data": i})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert!(response.headers().contains_key("ratelimit"));
    }
    let refused = server
        .send(
            Method::POST,
            "/channels/metered/events",
            Some(&token),
            Some(json!({"data": "refused"})),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = refused.headers().clone();
    assert_eq!(headers["content-type"], PROBLEM);
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1, "{headers:?}");
    let policy = headers["ratelimit-policy"].to_str().unwrap();
    assert!(policy.starts_with("\"publish\";q=3;w="), "{policy}");
    let state = headers["ratelimit"].to_str().unwrap();
    assert!(state.starts_with("\"publish\";r=0;t="), "{state}");
    let body: Value = refused.json().await.unwrap();
    assert_problem(
        StatusCode::TOO_MANY_REQUESTS,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
    );

    // Another token has its own bucket; the admin is exempt.
    let (status, _) = server
        .call(
            Method::POST,
            "/channels/metered/events",
            Some(&other),
            Some(json!({"data": "other"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for _ in 0..5 {
        server.publish("metered", json!({"data": "admin"})).await;
    }
    let stored = server.all_events("metered").await;
    assert_eq!(stored.len(), 3 + 1 + 5);
    assert!(stored.iter().all(|e| e["data"] != "refused"));
}

async fn anonymous_webhooks_can_be_turned_off_and_are_rate_limited(backend: Backend) {
    let closed = TestServer::start_with(
        backend,
        &[
            "--allow-private-webhooks",
            "--allow-anonymous-webhooks",
            "false",
        ],
    )
    .await;
    closed.create_channel(json!({"id": "hooks"})).await;
    let hook = json!({"url": "http://127.0.0.1:9/hook"});
    for token in [None, Some("chs_forged_secret")] {
        let (status, body) = closed
            .call(
                Method::POST,
                "/channels/hooks/webhooks",
                token,
                Some(hook.clone()),
            )
            .await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = closed
        .call(
            Method::POST,
            "/channels/hooks/webhooks",
            Some(ADMIN),
            Some(hook.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let metered = TestServer::start_with(
        backend,
        &[
            "--allow-private-webhooks",
            "--limit-loopback",
            "--webhook-rate",
            "0.01",
            "--webhook-burst",
            "2",
        ],
    )
    .await;
    metered.create_channel(json!({"id": "hooks"})).await;
    for i in 0..2 {
        let (status, body) = metered
            .call(
                Method::POST,
                "/channels/hooks/webhooks",
                None,
                Some(json!({"url": format!("http://127.0.0.1:9/hook-{i}")})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let response = metered
        .send(
            Method::POST,
            "/channels/hooks/webhooks",
            None,
            Some(json!({"url": "http://127.0.0.1:9/hook-refused"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    let (_, list) = metered
        .call(Method::GET, "/channels/hooks/webhooks", Some(ADMIN), None)
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
}

/// Registers an anonymous webhook with an `X-Forwarded-For` header.
async fn register_from(server: &TestServer, forwarded_for: &str, n: usize) -> StatusCode {
    server
        .http
        .post(server.url("/channels/hooks/webhooks"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"url": format!("http://127.0.0.1:9/hook-{n}")}))
        .send()
        .await
        .expect("request")
        .status()
}

async fn forwarded_addresses_count_only_from_trusted_proxies(backend: Backend) {
    let rate = ["--webhook-rate", "0.01", "--webhook-burst", "1"];
    let behind_proxy = TestServer::start_with(
        backend,
        &[
            &[
                "--allow-private-webhooks",
                "--trusted-proxies",
                "127.0.0.0/8,::1/128",
            ][..],
            &rate[..],
        ]
        .concat(),
    )
    .await;
    behind_proxy.create_channel(json!({"id": "hooks"})).await;
    // Two clients behind one proxy are limited separately.
    assert_eq!(
        register_from(&behind_proxy, "203.0.113.1", 0).await,
        StatusCode::CREATED
    );
    assert_eq!(
        register_from(&behind_proxy, "203.0.113.2", 1).await,
        StatusCode::CREATED
    );
    assert_eq!(
        register_from(&behind_proxy, "203.0.113.1", 2).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A client cannot pick its address by prepending to the chain.
    assert_eq!(
        register_from(&behind_proxy, "198.51.100.9, 203.0.113.2", 3).await,
        StatusCode::TOO_MANY_REQUESTS
    );

    let direct = TestServer::start_with(
        backend,
        &[
            &["--allow-private-webhooks", "--limit-loopback"][..],
            &rate[..],
        ]
        .concat(),
    )
    .await;
    direct.create_channel(json!({"id": "hooks"})).await;
    // Without --trusted-proxies a forged header changes nothing.
    assert_eq!(
        register_from(&direct, "203.0.113.1", 0).await,
        StatusCode::CREATED
    );
    assert_eq!(
        register_from(&direct, "203.0.113.2", 1).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn headers_sent_byte_by_byte_are_cut_off_at_the_deadline() {
    let server = TestServer::start_with(Backend::Sqlite, &["--header-timeout", "1"]).await;
    let mut stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    // One header byte every 100 ms, for up to 30 s: the server must hang up first.
    let trickle = b"X-Slow: ".iter().chain([b'a'; 300].iter()).copied();
    let mut cut_off = false;
    for byte in trickle {
        if stream.write_all(&[byte]).await.is_err() {
            cut_off = true;
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut_off = true;
                break;
            }
            Ok(Ok(n)) => {
                // Whatever hyper answers (408) is the end of it too.
                assert!(!String::from_utf8_lossy(&buf[..n]).contains("200 OK"));
            }
            Err(_) => {}
        }
    }
    assert!(
        cut_off,
        "the connection was still open after 30 s of trickled headers"
    );

    // Whole requests are served as before.
    let (status, _) = server.call(Method::GET, "/channels", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let server = TestServer::start_with(
        Backend::Sqlite,
        &["--idle-timeout", "0.5", "--header-timeout", "60"],
    )
    .await;
    let mut stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(
        common::scaled(Duration::from_secs(30)),
        stream.read(&mut buf),
    )
    .await
    .expect("the silent connection was still open after 30 s");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("channelhub_limit_refusals_total{limit=\"idle_timeout\"}"),
        "{metrics}"
    );
}
