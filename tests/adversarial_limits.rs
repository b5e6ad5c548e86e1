//! The review's findings about limits, each reproduced as an attacker would:
//! a limit is keyed by something the client cannot choose (a verified
//! credential, or the address the trusted proxy reports), the server reads
//! a request the way its handlers do, and nothing a client holds open or
//! sends slowly is unbounded. On SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::{ADMIN, Backend, LIMIT_LOOPBACK, TestServer, scaled};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

on_both_backends!(
    loopback_is_limited_by_default,
    a_clients_own_forwarded_header_is_not_believed,
    made_up_token_ids_are_counted_against_their_presenter,
    made_up_token_ids_do_not_grow_the_servers_memory,
    a_known_token_id_cannot_drain_its_holders_bucket,
    many_first_uses_of_a_fresh_token_are_never_refused_as_wrong,
    an_encoded_wait_is_still_a_long_poll,
    a_slow_body_gets_408,
    an_http2_connection_that_only_pings_is_closed,
    sockets_and_streams_outlive_the_idle_timeout,
    one_address_holds_a_bounded_number_of_connections,
    pages_are_bounded_in_bytes,
);

/// `chs_<id>_<secret>` with a fresh id and a secret of the right shape.
fn made_up_token() -> String {
    format!("chs_{}_{}", ulid::Ulid::generate(), "A".repeat(43))
}

async fn status_of(server: &TestServer, path: &str, token: Option<&str>) -> StatusCode {
    let mut request = server.http.get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status()
}

/// Finding: loopback was exempt from every per-client limit by default, so
/// behind a same-host proxy without `--trusted-proxies` every limit was off.
async fn loopback_is_limited_by_default(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            LIMIT_LOOPBACK,
            "--connect-rate",
            "0.001",
            "--connect-burst",
            "1",
        ],
    )
    .await;
    server.create_channel(json!({"id": "lobby"})).await;
    assert_eq!(
        status_of(&server, "/channels/lobby/stream", None).await,
        StatusCode::OK
    );
    let refused = server
        .send(Method::GET, "/channels/lobby/stream", None, None)
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
}

/// Finding: behind the shipped nginx (which sets X-Forwarded-For) with
/// `--trusted-proxies`, a client's own `Forwarded: for=127.0.0.1` was
/// believed, and every limit was off for it.
async fn a_clients_own_forwarded_header_is_not_believed(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            LIMIT_LOOPBACK,
            "--trusted-proxies",
            "127.0.0.1/32",
            "--connect-rate",
            "0.001",
            "--connect-burst",
            "2",
        ],
    )
    .await;
    server.create_channel(json!({"id": "gate"})).await;
    // What nginx forwards: the client's own Forwarded header untouched, and
    // the address it saw appended to X-Forwarded-For.
    let through_proxy = |client: &'static str| {
        server
            .http
            .get(server.url("/channels/gate/stream"))
            .header("forwarded", "for=127.0.0.1")
            .header("x-forwarded-for", client)
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(through_proxy("203.0.113.7").send().await.unwrap().status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "the client is the address nginx saw, and it is limited"
    );
    // Another client behind the same proxy has its own bucket.
    let other = through_proxy("203.0.113.8").send().await.unwrap().status();
    assert_eq!(other, StatusCode::OK);
}

/// Finding: rate-limit buckets were keyed by the unverified id in
/// `chs_<id>_…`, so every made-up id got a fresh bucket.
async fn made_up_token_ids_are_counted_against_their_presenter(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            LIMIT_LOOPBACK,
            "--connect-rate",
            "0.001",
            "--connect-burst",
            "3",
        ],
    )
    .await;
    server.create_channel(json!({"id": "plaza"})).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let token = made_up_token();
        statuses.push(status_of(&server, "/channels/plaza/stream", Some(&token)).await);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 2]);
}

fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// Finding: 250 unauthenticated requests naming ~390 KB made-up token ids
/// added 98 MiB to the server, each id kept as a rate-limit key for 60 s.
async fn made_up_token_ids_do_not_grow_the_servers_memory(backend: Backend) {
    let server = TestServer::start_with(backend, &[LIMIT_LOOPBACK]).await;
    server.create_channel(json!({"id": "heap"})).await;
    // Warm up: the first requests allocate what every request reuses.
    for _ in 0..10 {
        status_of(&server, "/channels/heap/stream", None).await;
    }
    let before = resident_bytes(server.pid());
    for i in 0..250 {
        // Each id different: each would have been a key of its own.
        let huge = format!("chs_{i:06}{}_{}", "A".repeat(390_000), "B".repeat(43));
        let status = status_of(&server, "/channels/heap/stream", Some(&huge)).await;
        // A public channel: a credential that is no credential is ignored
        // (or the address's connect rate is spent).
        assert!(
            [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS].contains(&status),
            "{status}"
        );
    }
    let grown = resident_bytes(server.pid()).saturating_sub(before);
    // Each id would be a 390 KB key: 250 of them, 95 MiB. Addresses are keys
    // of a few bytes.
    assert!(
        grown < 32 * 1024 * 1024,
        "the server grew by {} MiB",
        grown / (1024 * 1024)
    );
}

/// Finding: a publish token's id is public (`publisher_id`), so anyone could
/// drain its holder's publish bucket without the secret.
async fn a_known_token_id_cannot_drain_its_holders_bucket(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            LIMIT_LOOPBACK,
            "--publish-rate",
            "0.001",
            "--publish-burst",
            "3",
        ],
    )
    .await;
    server.create_channel(json!({"id": "wire"})).await;
    let (token, info) = server.create_token("wire", "publish", json!({})).await;
    let publish = |token: String| {
        let server = &server;
        async move {
            server
                .send(
                    Method::POST,
                    "/channels/wire/events",
                    Some(&token),
                    Some(json!({"data": "x"})),
                )
                .await
                .status()
        }
    };
    assert_eq!(publish(token.clone()).await, StatusCode::CREATED);
    // The attacker knows the id, not the secret.
    let id = info["id"].as_str().unwrap();
    for _ in 0..6 {
        let forged = format!("chs_{id}_{}", "Z".repeat(43));
        let status = publish(forged).await;
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(&status),
            "{status}"
        );
    }
    assert_eq!(publish(token.clone()).await, StatusCode::CREATED);
    assert_eq!(publish(token.clone()).await, StatusCode::CREATED);
    // Its own burst is still counted.
    assert_eq!(publish(token).await, StatusCode::TOO_MANY_REQUESTS);
}

/// Finding: the 8-deep argon2 queue per token id answered 401 to valid
/// holders (9 of 16 concurrent first uses of a fresh token), and an
/// attacker who knows the id could keep the holder locked out.
async fn many_first_uses_of_a_fresh_token_are_never_refused_as_wrong(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({"id": "crowd", "is_public": false}))
        .await;
    let (token, info) = server.create_token("crowd", "subscribe", json!({})).await;
    let id = info["id"].as_str().unwrap().to_owned();
    let request = |token: String| {
        let http = server.http.clone();
        let url = server.url("/channels/crowd/events");
        tokio::spawn(async move {
            let response = http.get(url).bearer_auth(token).send().await.unwrap();
            (
                response.status(),
                response.headers().contains_key("retry-after"),
            )
        })
    };
    let holders: Vec<_> = (0..16).map(|_| request(token.clone())).collect();
    for holder in holders {
        let (status, _) = holder.await.unwrap();
        assert_eq!(status, StatusCode::OK, "a first use of a valid token");
    }

    // A second fresh token, its first uses drowned in wrong secrets.
    let (token, info) = server.create_token("crowd", "subscribe", json!({})).await;
    let id2 = info["id"].as_str().unwrap().to_owned();
    let mut attackers: Vec<_> = (0..24)
        .map(|i| request(format!("chs_{id2}_{}{:03}", "Q".repeat(40), i)))
        .collect();
    let holders: Vec<_> = (0..4).map(|_| request(token.clone())).collect();
    attackers.extend((0..8).map(|i| request(format!("chs_{id}_{}{:03}", "R".repeat(40), i))));
    for holder in holders {
        let (status, retry_after) = holder.await.unwrap();
        assert!(
            status == StatusCode::OK || (status == StatusCode::SERVICE_UNAVAILABLE && retry_after),
            "the holder got {status}: never a 401 for a right secret"
        );
    }
    for attacker in attackers {
        let (status, _) = attacker.await.unwrap();
        assert_ne!(status, StatusCode::OK);
    }
    // Once the queue has drained, the holder gets in.
    assert_eq!(
        status_of(&server, "/channels/crowd/events", Some(&token)).await,
        StatusCode::OK
    );
}

/// Finding: `?w%61it=30` escaped the long-poll rate and the per-address cap:
/// the limits read the raw query, the handler the decoded one. (And a HEAD
/// request, which the router answers with the GET handler, escaped them all.)
async fn an_encoded_wait_is_still_a_long_poll(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            LIMIT_LOOPBACK,
            "--long-poll-rate",
            "0.001",
            "--long-poll-burst",
            "1",
        ],
    )
    .await;
    server.create_channel(json!({"id": "queue"})).await;
    assert_eq!(
        status_of(&server, "/channels/queue/events?w%61it=1", None).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&server, "/channels/queue/events?w%61it=1", None).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // HEAD runs the same handler (a long-poll that waits): limited the same.
    let head = server
        .http
        .head(server.url("/channels/queue/events?wait=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Finding: a body sent one byte every few seconds held its connection and
/// buffer indefinitely.
async fn a_slow_body_gets_408(backend: Backend) {
    let server = TestServer::start_with(backend, &["--body-timeout", "1"]).await;
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    let body = br#"{"id": "trickled-in-slowly"}"#;
    let head = format!(
        "POST /api/v1/channels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = async {
        for byte in body {
            // Writes fail once the server has answered and closed.
            if stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::select! {
                n = stream.read(&mut answer) => return n.unwrap_or(0),
                _ = tokio::time::sleep(Duration::from_millis(400)) => {}
            }
        }
        stream.read(&mut answer).await.unwrap_or(0)
    };
    let n = tokio::time::timeout(scaled(Duration::from_secs(8)), read)
        .await
        .expect("an answer before the body was complete");
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    // Nothing was created.
    let (status, _) = server
        .call(
            Method::GET,
            "/channels/trickled-in-slowly",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Finding: an HTTP/2 (h2c) connection that sent only PINGs stayed open
/// indefinitely: its bytes kept it from ever being idle.
async fn an_http2_connection_that_only_pings_is_closed(backend: Backend) {
    let server = TestServer::start_with(backend, &["--idle-timeout", "1"]).await;
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    // The client preface and an empty SETTINGS frame.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let closed = async {
        let mut buf = vec![0u8; 4096];
        let mut n = 0u64;
        loop {
            // A PING frame: length 8, type 6, no flags, stream 0, 8 bytes.
            let mut ping = vec![0, 0, 8, 6, 0, 0, 0, 0, 0];
            ping.extend_from_slice(&n.to_be_bytes());
            n += 1;
            if stream.write_all(&ping).await.is_err() {
                return;
            }
            tokio::select! {
                read = stream.read(&mut buf) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        return;
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    };
    tokio::time::timeout(scaled(Duration::from_secs(10)), closed)
        .await
        .expect("a connection that only pings is closed within 10 s");
}

/// The other side of the rule above: a connection that became a WebSocket,
/// or whose response is still streaming (SSE), holds a request in progress:
/// it is not closed for lack of requests while its bytes move.
async fn sockets_and_streams_outlive_the_idle_timeout(backend: Backend) {
    let server = TestServer::start_with(backend, &["--idle-timeout", "1"]).await;
    server.create_channel(json!({"id": "steady"})).await;
    let mut socket = server.ws("/channels/steady/ws").await;
    let mut stream = server.sse("/channels/steady/stream").await;
    // Four idle periods, an event every 300 ms.
    for i in 0..14 {
        let event = server.publish("steady", json!({"data": i})).await;
        let id = event["id"].as_str().unwrap();
        let text = common::next_text(&mut socket).await;
        assert!(text.contains(id), "{text}");
        let message = tokio::time::timeout(scaled(Duration::from_secs(10)), stream.next())
            .await
            .expect("the stream delivered")
            .expect("the stream is open")
            .expect("a message");
        assert_eq!(message.id, id);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Finding: one address could hold any number of connections (slow
/// bodies, pings, slow readers), with no per-address cap.
async fn one_address_holds_a_bounded_number_of_connections(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[LIMIT_LOOPBACK, "--max-http-connections-per-ip", "3"],
    )
    .await;
    server.create_channel(json!({"id": "held"})).await;
    // Two WebSockets (a socket keeps its place after the upgrade) and one
    // connection that sends nothing.
    let _sockets = [
        server.ws("/channels/held/ws").await,
        server.ws("/channels/held/ws").await,
    ];
    let mut held = vec![TcpStream::connect(&server.addr).await.unwrap()];
    // Accepted in order: make sure the idle one is counted before the fourth.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fourth = TcpStream::connect(&server.addr).await.unwrap();
    let _ = fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(scaled(Duration::from_secs(5)), fourth.read(&mut buf))
        .await
        .expect("the fourth connection is closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "the fourth connection was served");
    // One closes: there is room again.
    held.pop();
    common::eventually("a closed connection frees its place", || async {
        let mut stream = TcpStream::connect(&server.addr).await.unwrap();
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let mut buf = [0u8; 64];
        matches!(stream.read(&mut buf).await, Ok(n) if n > 0 && buf.starts_with(b"HTTP/1.1 200"))
    })
    .await;
}

/// Finding: 20 slow readers of a 1 000-event page held 126 MiB: a page's
/// size followed `limit`, not bytes.
async fn pages_are_bounded_in_bytes(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "bulky"})).await;
    let filler = "y".repeat(60_000);
    let mut ids = Vec::new();
    for chunk in 0..4 {
        let events: Vec<Value> = (0..10)
            .map(|i| json!({"data": {"n": chunk * 10 + i, "filler": filler}}))
            .collect();
        let (status, body) = server
            .call(
                Method::POST,
                "/channels/bulky/events",
                Some(ADMIN),
                Some(json!({"events": events})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.extend(
            body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].clone()),
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/channels/bulky/events?limit=1000&cursor={c}"),
            None => "/channels/bulky/events?limit=1000".to_owned(),
        };
        let response = server.send(Method::GET, &path, None, None).await;
        let bytes = response.bytes().await.unwrap();
        assert!(
            bytes.len() <= 1024 * 1024 + 4096,
            "a page of {} bytes",
            bytes.len()
        );
        let page: Value = serde_json::from_slice(&bytes).unwrap();
        let events = page["events"].as_array().unwrap();
        assert!(events.len() < 40, "one page held every event");
        seen.extend(events.iter().map(|e| e["id"].clone()));
        if page["has_more"] != json!(true) {
            break;
        }
        cursor = page["cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, ids, "every event, once, in order, across pages");
}
