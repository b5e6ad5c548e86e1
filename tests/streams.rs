//! Feeds and resumable live delivery (SPEC §5b): WebSocket `?after=` replay,
//! the SSE stream with `Last-Event-ID` (real WebSocket and SSE clients), and
//! the JSON Feed and RSS documents (parsed as feeds).

mod common;

use std::time::Duration;

use common::{ADMIN, Backend, Deadline, TestServer, next_text, within};
use eventsource_stream::{Event as SseEvent, Eventsource};
use futures_util::{Stream, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    websocket_after_replays_then_goes_live,
    websocket_after_has_no_gap_while_publishing,
    sse_delivers_ids_types_and_filters,
    sse_resumes_with_last_event_id,
    sse_refusals,
    feeds_parse_as_feeds,
    sse_ends_on_delete_revoke_and_privacy,
    sse_ends_a_slow_stream_which_then_resumes,
);

fn id_of(json: &str) -> String {
    serde_json::from_str::<Value>(json).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn websocket_after_replays_then_goes_live(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "replay"})).await;
    let mut published = Vec::new();
    for i in 0..6 {
        let event_type = if i % 2 == 0 { "even" } else { "odd" };
        published.push(
            server
                .publish_raw("replay", json!({"type": event_type, "data": i}))
                .await,
        );
    }
    let after = id_of(&published[1]);
    let mut all = server
        .ws(&format!("/channels/replay/ws?after={after}"))
        .await;
    let mut evens = server
        .ws(&format!("/channels/replay/ws?after={after}&types=even"))
        .await;
    for expected in &published[2..] {
        assert_eq!(&next_text(&mut all).await, expected);
    }
    assert_eq!(next_text(&mut evens).await, published[2]);
    assert_eq!(next_text(&mut evens).await, published[4]);
    let live = server
        .publish_raw("replay", json!({"type": "even", "data": "live"}))
        .await;
    assert_eq!(next_text(&mut all).await, live);
    assert_eq!(next_text(&mut evens).await, live);

    let (status, _, body) = server
        .ws_refused("/channels/replay/ws?after=not-an-id")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

async fn websocket_after_has_no_gap_while_publishing(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "racing"})).await;
    const EVENTS: usize = 150;
    let first = server.publish_raw("racing", json!({"data": 0})).await;
    let publisher = async {
        for i in 1..EVENTS {
            server.publish("racing", json!({"data": i})).await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    // Connects while events keep coming: replay and live must meet exactly.
    let subscriber = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut socket = server
            .ws(&format!("/channels/racing/ws?after={}", id_of(&first)))
            .await;
        let mut ids = Vec::new();
        for _ in 1..EVENTS {
            ids.push(id_of(&next_text(&mut socket).await));
        }
        ids
    };
    let ((), received) = tokio::join!(publisher, subscriber);
    let stored: Vec<String> = server
        .all_events("racing")
        .await
        .iter()
        .skip(1)
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(received, stored);
}

/// Opens an SSE stream with a real SSE parser.
async fn sse(
    server: &TestServer,
    path: &str,
    last_event_id: Option<&str>,
) -> impl Stream<Item = Result<SseEvent, eventsource_stream::EventStreamError<reqwest::Error>>> + use<>
{
    let mut request = server
        .http
        .get(server.url(path))
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    Box::pin(response.bytes_stream().eventsource())
}

async fn next_sse<S>(stream: &mut S) -> SseEvent
where
    S: Stream<Item = Result<SseEvent, eventsource_stream::EventStreamError<reqwest::Error>>>
        + Unpin,
{
    tokio::time::timeout(common::scaled(Duration::from_secs(10)), stream.next())
        .await
        .expect("an SSE message within 10 s")
        .expect("the stream is open")
        .expect("a well-formed SSE message")
}

async fn sse_delivers_ids_types_and_filters(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "sse"})).await;
    let mut all = sse(&server, "/channels/sse/stream", None).await;
    let mut only_a = sse(&server, "/channels/sse/stream?types=a", None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let typed = server
        .publish_raw("sse", json!({"type": "a", "data": {"n": 1}}))
        .await;
    let untyped = server.publish_raw("sse", json!({"data": 2})).await;
    let first = next_sse(&mut all).await;
    assert_eq!(
        (first.id.as_str(), first.event.as_str(), first.data.as_str()),
        (id_of(&typed).as_str(), "a", typed.as_str())
    );
    let second = next_sse(&mut all).await;
    assert_eq!(
        (second.id, second.event.as_str(), second.data),
        (id_of(&untyped), "message", untyped)
    );
    assert_eq!(next_sse(&mut only_a).await.data, typed);
}

async fn sse_resumes_with_last_event_id(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "resume"})).await;
    let mut stream = sse(&server, "/channels/resume/stream", None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut published = Vec::new();
    for i in 0..3 {
        published.push(server.publish_raw("resume", json!({"data": i})).await);
    }
    let mut last_id = String::new();
    for expected in &published {
        let message = next_sse(&mut stream).await;
        assert_eq!(&message.data, expected);
        last_id = message.id;
    }
    drop(stream);
    // Missed while disconnected.
    for i in 3..6 {
        published.push(server.publish_raw("resume", json!({"data": i})).await);
    }
    let mut resumed = sse(&server, "/channels/resume/stream", Some(&last_id)).await;
    for expected in &published[3..] {
        assert_eq!(&next_sse(&mut resumed).await.data, expected);
    }
    let live = server.publish_raw("resume", json!({"data": "live"})).await;
    assert_eq!(
        next_sse(&mut resumed).await.data,
        live,
        "then live, with no duplicate"
    );
}

async fn sse_refusals(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({"id": "hidden", "is_public": false}))
        .await;
    let (reader, _) = server.create_token("hidden", "subscribe", json!({})).await;
    for (path, token, expected) in [
        ("/channels/missing/stream", None, StatusCode::NOT_FOUND),
        ("/channels/hidden/stream", None, StatusCode::UNAUTHORIZED),
        (
            "/channels/hidden/stream?after=bogus",
            Some(ADMIN),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let response = server.send(Method::GET, path, token, None).await;
        assert_eq!(response.status(), expected, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    let mut stream = sse(
        &server,
        &format!("/channels/hidden/stream?token={reader}"),
        None,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let body = server
        .publish_raw("hidden", json!({"data": "members"}))
        .await;
    assert_eq!(next_sse(&mut stream).await.data, body);
}

async fn feeds_parse_as_feeds(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(
            json!({"id": "news", "name": "News & <Alerts>", "description": "what happened"}),
        )
        .await;
    let mut published = Vec::new();
    for i in 0..55 {
        let event_type = if i % 2 == 0 {
            json!("story")
        } else {
            Value::Null
        };
        published.push(
            server
                .publish(
                    "news",
                    json!({"type": event_type, "data": {"n": i, "text": "a < b & c"}}),
                )
                .await,
        );
    }
    let newest_first: Vec<&Value> = published.iter().rev().take(50).collect();

    let response = server
        .send(Method::GET, "/channels/news/rss", None, None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/rss+xml")
    );
    let rss = rss::Channel::read_from(&response.bytes().await.unwrap()[..]).expect("valid RSS 2.0");
    assert_eq!(rss.title(), "News & <Alerts>");
    assert_eq!(rss.items().len(), 50);
    for (item, event) in rss.items().iter().zip(&newest_first) {
        assert_eq!(item.guid().unwrap().value(), event["id"].as_str().unwrap());
        assert_eq!(item.description().unwrap(), event["data"].to_string());
        assert!(item.pub_date().is_some());
    }

    let (status, feed) = server
        .call(Method::GET, "/channels/news/feed.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(feed["title"], "News & <Alerts>");
    assert!(
        feed["feed_url"]
            .as_str()
            .unwrap()
            .ends_with("/channels/news/feed.json")
    );
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    for (item, event) in items.iter().zip(&newest_first) {
        assert_eq!(item["id"], event["id"]);
        assert_eq!(item["_channelhub"], **event);
        assert_eq!(item["content_text"], event["data"].to_string());
        assert!(item["date_published"].as_str().unwrap().ends_with('Z'));
    }

    // Same access as polling.
    server
        .create_channel(json!({"id": "secret-news", "is_public": false}))
        .await;
    for path in [
        "/channels/secret-news/rss",
        "/channels/secret-news/feed.json",
    ] {
        assert_eq!(
            server.send(Method::GET, path, None, None).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            server
                .send(Method::GET, path, Some(ADMIN), None)
                .await
                .status(),
            StatusCode::OK
        );
    }
}

/// The stream ends (no further message) within 10 s.
async fn sse_ends<S>(stream: &mut S, what: &str)
where
    S: Stream<Item = Result<SseEvent, eventsource_stream::EventStreamError<reqwest::Error>>>
        + Unpin,
{
    let end = within(
        Duration::from_secs(10),
        format!("the SSE stream to end ({what})"),
        stream.next(),
    )
    .await;
    match end {
        None | Some(Err(_)) => {}
        Some(Ok(message)) => panic!("{what}: a message instead of the end: {message:?}"),
    }
}

/// README: SSE has the same access rules as the WebSocket: deleting the
/// channel, revoking the token and making the channel private end the streams
/// that no longer hold a valid token, and only those.
async fn sse_ends_on_delete_revoke_and_privacy(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "doomed"})).await;
    let mut doomed = sse(&server, "/channels/doomed/stream", None).await;
    let (status, _) = server
        .call(Method::DELETE, "/channels/doomed", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    sse_ends(&mut doomed, "channel deleted").await;

    server
        .create_channel(json!({"id": "guarded", "is_public": false}))
        .await;
    let (kept, _) = server.create_token("guarded", "subscribe", json!({})).await;
    let (lost, lost_info) = server.create_token("guarded", "subscribe", json!({})).await;
    let mut keeps = sse(
        &server,
        &format!("/channels/guarded/stream?token={kept}"),
        None,
    )
    .await;
    let mut loses = sse(
        &server,
        &format!("/channels/guarded/stream?token={lost}"),
        None,
    )
    .await;
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!(
                "/channels/guarded/tokens/{}",
                lost_info["id"].as_str().unwrap()
            ),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    sse_ends(&mut loses, "token revoked").await;
    let body = server
        .publish_raw("guarded", json!({"data": "still here"}))
        .await;
    assert_eq!(next_sse(&mut keeps).await.data, body);

    server.create_channel(json!({"id": "going-private"})).await;
    let (member, _) = server
        .create_token("going-private", "subscribe", json!({}))
        .await;
    let mut anonymous = sse(&server, "/channels/going-private/stream", None).await;
    let mut with_token = sse(
        &server,
        &format!("/channels/going-private/stream?token={member}"),
        None,
    )
    .await;
    let (status, _) = server
        .call(
            Method::PATCH,
            "/channels/going-private",
            Some(ADMIN),
            Some(json!({"is_public": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    sse_ends(&mut anonymous, "channel made private").await;
    let body = server
        .publish_raw("going-private", json!({"data": "members only"}))
        .await;
    assert_eq!(next_sse(&mut with_token).await.data, body);
}

/// README: "A client too slow for the queue has its stream ended and simply
/// resumes." A raw HTTP/1.0 client with a small receive buffer stops reading
/// while 960 events of 16 KiB are published against a 16-frame queue, then
/// reads on: its stream ends early; what it got is a gap-free prefix of the
/// channel, and resuming with `Last-Event-ID` brings exactly the rest.
async fn sse_ends_a_slow_stream_which_then_resumes(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start_with(backend, &["--subscriber-queue-frames", "16"]).await;
    server.create_channel(json!({"id": "slow-sse"})).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let mut stream = socket.connect(server.addr.parse().unwrap()).await.unwrap();
    stream
        .write_all(
            format!(
                "GET /api/v1/channels/slow-sse/stream HTTP/1.0\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
                server.addr
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // The response head: the session has joined the room.
    let mut raw = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let head_deadline = Deadline::after(Duration::from_secs(10));
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = head_deadline
            .within(
                || "the SSE response head".to_owned(),
                stream.read(&mut buffer),
            )
            .await
            .unwrap();
        assert!(n > 0, "the connection closed before the response head");
        raw.extend_from_slice(&buffer[..n]);
    }
    // 15 MB: far more than the 16-frame queue, the session's buffer and
    // the socket buffers can hold for a client that reads nothing.
    const EVENTS: usize = 960;
    let payload = "e".repeat(16 * 1024);
    for batch in 0..EVENTS / 8 {
        let events: Vec<Value> = (0..8)
            .map(|i| json!({"data": {"n": batch * 8 + i, "pad": payload}}))
            .collect();
        server.publish("slow-sse", json!({"events": events})).await;
    }
    // Now read on, up to the end of the stream.
    let deadline = Deadline::after(Duration::from_secs(60));
    loop {
        let n = deadline
            .within(
                || {
                    format!(
                        "the slow SSE stream was never ended ({} bytes read; all {EVENTS} events are about 16 MB)",
                        raw.len()
                    )
                },
                stream.read(&mut buffer),
            )
            .await
            .expect("read the SSE stream");
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buffer[..n]);
    }
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    assert!(head.contains(" 200 "), "{head}");
    let body = bytes::Bytes::copy_from_slice(&raw[head_end..]);
    let received: Vec<SseEvent> = futures_util::stream::iter([Ok::<_, std::io::Error>(body)])
        .eventsource()
        .filter_map(|m| async move { m.ok() })
        .collect()
        .await;
    let stored: Vec<String> = server
        .all_events("slow-sse")
        .await
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(stored.len(), EVENTS);
    assert!(
        received.len() < EVENTS,
        "the slow stream was not ended: it got all {EVENTS} events"
    );
    assert!(
        !received.is_empty(),
        "the stream delivered nothing before ending"
    );
    let got: Vec<&str> = received.iter().map(|m| m.data.as_str()).collect();
    assert_eq!(
        got,
        stored[..received.len()],
        "what arrived is the channel's first events, in order"
    );

    let last_id = &received.last().unwrap().id;
    let mut resumed = sse(&server, "/channels/slow-sse/stream", Some(last_id)).await;
    for (i, expected) in stored[received.len()..].iter().enumerate() {
        let message = within(
            Duration::from_secs(10),
            format!("resumed event {} of {}", received.len() + i, EVENTS),
            next_sse(&mut resumed),
        )
        .await;
        assert_eq!(&message.data, expected);
    }
}
