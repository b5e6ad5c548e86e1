//! The review's findings about access at delivery, each reproduced as an
//! attacker would: every path that hands out an event (a replay page, a
//! long-poll answer, a live frame) does so only under the access the client
//! holds *now*, and a socket that joins after its check still hears of a
//! change made in between. On SQLite and PostgreSQL; across two nodes where
//! the change is made on the other one.

mod common;

use std::time::Duration;

use common::{ADMIN, Backend, TestServer, Ws, next_text, scaled};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

on_both_backends!(
    a_replay_stops_when_the_channel_goes_private_midway,
    an_sse_replay_stops_when_the_channel_goes_private_midway,
    events_retention_removes_during_a_replay_are_announced,
    a_long_poll_begun_before_going_private_answers_nothing_private,
    a_long_poll_whose_token_is_revoked_while_it_waits_answers_nothing,
    a_socket_checked_before_a_change_and_started_after_it_is_closed,
    a_publish_token_keeps_no_reader_on_a_channel,
    a_generated_admin_token_keeps_its_socket_when_the_channel_goes_private,
);

/// Bytes of data per event in the replay tests: 500 of them (one replay
/// page) are more than the server's socket buffer (4 MiB at most on Linux)
/// and a client that does not read, so the session is still on its first
/// page while the test changes access.
const BIG: usize = 12_000;
/// Events in the replay tests: three pages.
const EVENTS: usize = 1100;

/// Publishes `EVENTS` big events to `channel`; returns their ids.
async fn publish_big(server: &TestServer, channel: &str) -> Vec<String> {
    let filler = "x".repeat(BIG);
    let mut ids = Vec::new();
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(60) {
        let events: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"type": "bulk", "data": {"i": i, "filler": filler}}))
            .collect();
        let (status, body) = server
            .call(
                Method::POST,
                &format!("/channels/{channel}/events"),
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
                .map(|e| e["id"].as_str().unwrap().to_owned()),
        );
    }
    ids
}

/// Publishes one event as the admin; its id.
async fn publish_id(server: &TestServer, channel: &str, body: Value) -> String {
    let event = server.publish(channel, body).await;
    event["id"].as_str().expect("an event id").to_owned()
}

/// A long-poll for the next event after `cursor`, waiting up to 30 s.
fn long_poll(
    server: &TestServer,
    channel: &str,
    cursor: &str,
    token: Option<String>,
) -> tokio::task::JoinHandle<reqwest::Response> {
    let mut request = server.http.get(server.url(&format!(
        "/channels/{channel}/events?cursor={cursor}&wait=30"
    )));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    tokio::spawn(async move { request.send().await.unwrap() })
}

/// A long-poll's answer must not hold `secret`, and must be a 401.
async fn assert_refused_without(poll: tokio::task::JoinHandle<reqwest::Response>, secret: &str) {
    let response = tokio::time::timeout(scaled(Duration::from_secs(30)), poll)
        .await
        .expect("the long-poll answered")
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(!body.contains(secret), "the long-poll returned {body}");
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

/// Every text frame until the close: the texts, then the close code.
async fn texts_until_close(socket: &mut Ws) -> (Vec<String>, Option<CloseCode>) {
    texts_until_close_within(socket, Duration::from_secs(30)).await
}

/// The same, with its own deadline (scaled) for the close.
async fn texts_until_close_within(
    socket: &mut Ws,
    limit: Duration,
) -> (Vec<String>, Option<CloseCode>) {
    let deadline = tokio::time::Instant::now() + scaled(limit);
    let mut texts = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no close within {limit:?} (scaled); got {texts:?}"))
        {
            Some(Ok(Message::Text(text))) => texts.push(text.to_string()),
            Some(Ok(Message::Close(frame))) => return (texts, frame.map(|f| f.code)),
            Some(Ok(_)) => continue,
            Some(Err(err)) => panic!("socket error before a close frame: {err}"),
            None => return (texts, None),
        }
    }
}

/// An SSE request on a raw socket with a small fixed receive buffer, so
/// that the server blocks as soon as the test stops reading.
async fn stuck_sse(server: &TestServer, path: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let mut stream = socket.connect(server.addr.parse().unwrap()).await.unwrap();
    let request = format!(
        "GET /api/v1{path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        server.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// Everything a raw stream sends until the server ends it.
async fn read_to_end(stream: &mut tokio::net::TcpStream) -> String {
    let mut all = Vec::new();
    let ended = tokio::time::timeout(scaled(Duration::from_secs(30)), async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            all.extend_from_slice(&buf[..n]);
            // The chunked body's last chunk: the stream ended.
            if all.ends_with(b"\r\n0\r\n\r\n") {
                return;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream did not end within 30 s");
    String::from_utf8_lossy(&all).into_owned()
}

/// Finding: a WebSocket `after=` replay ignored a privacy change made while
/// it ran: a client that read slowly received an event published after the
/// channel went private.
async fn a_replay_stops_when_the_channel_goes_private_midway(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "leaky"})).await;
    let ids = publish_big(&server, "leaky").await;
    let mut socket = server
        .ws_small_buffer(&format!(
            "/channels/leaky/ws?after={}&close_codes=app",
            ids[0]
        ))
        .await;
    // The client reads nothing: the session is stuck in the first page.
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.make_private("leaky").await;
    let secret = publish_id(
        &server,
        "leaky",
        json!({"type": "secret", "data": "members only"}),
    )
    .await;

    let (texts, code) = texts_until_close(&mut socket).await;
    assert!(
        texts.iter().all(|t| !t.contains(&secret)),
        "the replay delivered an event published after the channel went private"
    );
    assert!(
        texts.len() < EVENTS - 1,
        "the replay went on after access ended ({} events)",
        texts.len()
    );
    assert_eq!(code, Some(CloseCode::from(4002)), "closed as made private");
}

/// The same finding over SSE (`after`, as `Last-Event-ID` does).
async fn an_sse_replay_stops_when_the_channel_goes_private_midway(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "leaky-sse"})).await;
    let ids = publish_big(&server, "leaky-sse").await;
    let mut stream = stuck_sse(
        &server,
        &format!("/channels/leaky-sse/stream?after={}", ids[0]),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.make_private("leaky-sse").await;
    let secret = publish_id(
        &server,
        "leaky-sse",
        json!({"type": "secret", "data": "members only"}),
    )
    .await;

    let body = read_to_end(&mut stream).await;
    assert!(
        body.starts_with("HTTP/1.1 200"),
        "{}",
        &body[..200.min(body.len())]
    );
    assert!(
        !body.contains(&secret),
        "the SSE replay delivered an event published after the channel went private"
    );
    assert!(
        !body.contains(&ids[EVENTS - 1]),
        "the SSE replay went on after access ended"
    );
}

/// Finding: retention that removed events during a replay of more than one
/// page skipped them with no gap notice.
async fn events_retention_removes_during_a_replay_are_announced(backend: Backend) {
    let server = TestServer::start_with(backend, &["--retention-interval", "0.2"]).await;
    server.create_channel(json!({"id": "shrinking"})).await;
    let ids = publish_big(&server, "shrinking").await;
    let mut socket = server
        .ws_small_buffer(&format!("/channels/shrinking/ws?after={}", ids[0]))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Keep the newest 100: the second page's events go while page one is sent.
    let (status, body) = server
        .call(
            Method::PATCH,
            "/channels/shrinking",
            Some(ADMIN),
            Some(json!({"retention": {"max_events": 100}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    common::eventually("retention removed the old events", || async {
        let (_, page) = server
            .call(
                Method::GET,
                "/channels/shrinking/events?limit=1",
                None,
                None,
            )
            .await;
        page["events"][0]["id"] == json!(ids[EVENTS - 100])
    })
    .await;

    let mut seen = Vec::new();
    let mut gap = None;
    while seen.last() != Some(&ids[EVENTS - 1]) {
        let frame: Value = serde_json::from_str(&next_text(&mut socket).await).unwrap();
        match frame.get("gap") {
            Some(notice) => gap = Some((seen.last().cloned(), notice.clone())),
            None => seen.push(frame["id"].as_str().unwrap().to_owned()),
        }
    }
    let (before, notice) = gap.expect("a gap notice for the events retention removed");
    let before = before.expect("the notice follows the events sent before the removal");
    assert_eq!(notice["after"], json!(before), "{notice}");
    assert_eq!(
        notice["removed_through"],
        json!(ids[EVENTS - 101]),
        "{notice}"
    );
    // Nothing is delivered twice, and nothing removed is delivered after the notice.
    let at = seen.iter().position(|id| *id == before).unwrap();
    assert_eq!(seen[at + 1], ids[EVENTS - 100]);
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len());
}

/// Finding: a long-poll begun before a privacy change returned events
/// published after it.
async fn a_long_poll_begun_before_going_private_answers_nothing_private(backend: Backend) {
    let server = TestServer::start(backend).await;
    // The change and the event go through another node (on SQLite, one
    // node is all there is).
    let other = (backend == Backend::Postgres).then(|| server.join());
    let other = other.as_ref().unwrap_or(&server);
    server.create_channel(json!({"id": "hushed"})).await;
    let first = publish_id(&server, "hushed", json!({"data": "public"})).await;
    let poll = long_poll(&server, "hushed", &first, None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    other.make_private("hushed").await;
    let secret = publish_id(other, "hushed", json!({"data": "members only"})).await;
    assert_refused_without(poll, &secret).await;
}

/// The same finding for a token revoked while its long-poll waits.
async fn a_long_poll_whose_token_is_revoked_while_it_waits_answers_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({"id": "vault", "is_public": false}))
        .await;
    let (reader, info) = server.create_token("vault", "subscribe", json!({})).await;
    let first = publish_id(&server, "vault", json!({"data": 1})).await;
    let poll = long_poll(&server, "vault", &first, Some(reader));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/channels/vault/tokens/{}", info["id"].as_str().unwrap()),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let secret = publish_id(&server, "vault", json!({"data": 2})).await;
    assert_refused_without(poll, &secret).await;
}

/// Finding: a WebSocket connect that passed its access check just before a
/// privacy change and joined the room just after it received private events.
/// The debug hook holds every connect between its check and its session for
/// 1.5 s, so the change lands there on every run.
async fn a_socket_checked_before_a_change_and_started_after_it_is_closed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let paused = server.join_with_env(&[("CHANNELHUB_DEBUG_PAUSE_AFTER_ACCESS_CHECK_MS", "1500")]);
    // On PostgreSQL the change comes from the other node; on SQLite (one
    // node per database) from the paused one itself.
    let changer = if backend == Backend::Postgres {
        &server
    } else {
        &paused
    };
    changer.create_channel(json!({"id": "between"})).await;
    let connecting = {
        let url = paused.ws_url("/channels/between/ws?close_codes=app");
        tokio::spawn(async move { tokio_tungstenite::connect_async(url).await.unwrap().0 })
    };
    let mut stream = {
        let response = paused
            .http
            .get(paused.url("/channels/between/stream"))
            .send();
        tokio::spawn(response)
    };
    // Both connects have passed their checks and wait in the hook.
    tokio::time::sleep(Duration::from_millis(700)).await;
    changer.make_private("between").await;
    let secret = publish_id(changer, "between", json!({"data": "members only"})).await;

    let mut socket = tokio::time::timeout(scaled(Duration::from_secs(10)), connecting)
        .await
        .expect("the upgrade finished")
        .unwrap();
    let response = tokio::time::timeout(scaled(Duration::from_secs(10)), &mut stream)
        .await
        .expect("the stream answered")
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Both sessions run now: another private event must not reach them, and
    // they must close well before the periodic re-check (30 s) would.
    let later = publish_id(changer, "between", json!({"data": "members only, later"})).await;
    let (texts, code) = texts_until_close_within(&mut socket, Duration::from_secs(10)).await;
    assert!(
        texts
            .iter()
            .all(|t| !t.contains(&secret) && !t.contains(&later)),
        "a socket checked before the change received {texts:?}"
    );
    assert_eq!(code, Some(CloseCode::from(4002)));
    let body = tokio::time::timeout(scaled(Duration::from_secs(10)), response.text())
        .await
        .expect("the stream ended within 10 s")
        .unwrap();
    assert!(
        !body.contains(&secret) && !body.contains(&later),
        "the stream delivered {body}"
    );
}

/// Finding: on a public channel a publish token (or another channel's token)
/// counted as "not anonymous": its socket survived the channel going private
/// until the re-check, and on a channel that stayed public it was closed as
/// "token revoked" at every re-check.
async fn a_publish_token_keeps_no_reader_on_a_channel(backend: Backend) {
    let server = TestServer::start_with(backend, &["--access-recheck-interval", "0.3"]).await;
    server.create_channel(json!({"id": "open-house"})).await;
    let (publisher, _) = server
        .create_token("open-house", "publish", json!({}))
        .await;
    // Its holder publishes first: the token is verified and cached.
    let status = server
        .send(
            Method::POST,
            "/channels/open-house/events",
            Some(&publisher),
            Some(json!({"data": "hello"})),
        )
        .await
        .status();
    assert_eq!(status, StatusCode::CREATED);
    let mut socket = server
        .ws(&format!(
            "/channels/open-house/ws?token={publisher}&close_codes=app"
        ))
        .await;
    // Several re-checks pass; the channel is public, so the socket stays.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = publish_id(&server, "open-house", json!({"data": "still public"})).await;
    // (On PostgreSQL the first event's notice may reach the room after the
    // socket joined it: it comes first then.)
    let mut text = next_text(&mut socket).await;
    if text.contains("\"hello\"") {
        text = next_text(&mut socket).await;
    }
    assert!(text.contains(&still), "{text}");

    server.make_private("open-house").await;
    let secret = publish_id(&server, "open-house", json!({"data": "members only"})).await;
    let (texts, code) = texts_until_close(&mut socket).await;
    assert!(texts.iter().all(|t| !t.contains(&secret)), "{texts:?}");
    assert_eq!(code, Some(CloseCode::from(4002)));
}

/// Finding: a generated admin token not yet cached was taken as anonymous
/// on a public channel, and the admin's socket was closed when the channel
/// went private.
async fn a_generated_admin_token_keeps_its_socket_when_the_channel_goes_private(backend: Backend) {
    let db = common::TestDb::new(backend).await;
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &db.url,
        "--exempt-loopback",
    ];
    let mut first = common::Spawned::start(&args, &[], false);
    let admin = first
        .stdout
        .lock()
        .unwrap()
        .iter()
        .find_map(|line| line.split_whitespace().find(|w| w.starts_with("cha_")))
        .expect("the generated admin token is printed")
        .to_owned();
    let http = common::http_client();
    let status = http
        .post(first.url("/api/v1/channels"))
        .bearer_auth(&admin)
        .json(&json!({"id": "boardroom"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::CREATED);
    first.stop();
    // A fresh process has never seen the token: the socket is its first use.
    let second = common::Spawned::start(&args, &[], false);
    let ws_url = second
        .url(&format!("/api/v1/channels/boardroom/ws?token={admin}"))
        .replacen("http://", "ws://", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let status = http
        .patch(second.url("/api/v1/channels/boardroom"))
        .bearer_auth(&admin)
        .json(&json!({"is_public": false}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    let published: Value = http
        .post(second.url("/api/v1/channels/boardroom/events"))
        .bearer_auth(&admin)
        .json(&json!({"data": "for the board"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = next_text(&mut socket).await;
    assert!(
        text.contains(published["id"].as_str().unwrap()),
        "the admin's socket received {text}"
    );
}
