//! The seed endpoint, `GET /channels/{id}/ws` (SPEC §1), driven by real
//! WebSocket clients against the real binary, on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::{
    ADMIN, Backend, Deadline, TestServer, Ws, eventually, next_text, read_until_close, within,
};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::{CloseFrame, frame::coding::CloseCode},
};

on_both_backends!(
    refusals_come_in_contract_order,
    frames_equal_the_publish_response_byte_for_byte,
    burst_of_1000_arrives_complete_and_in_order,
    type_filters,
    private_channels_need_a_valid_token,
    slow_consumer_is_closed_while_others_get_everything,
    oversized_client_frames_close_with_1009,
    delete_and_revoke_close_the_right_sockets,
    graceful_shutdown_sends_going_away,
    connection_limit_answers_503,
    silent_peers_are_dropped_after_two_pings,
    client_pings_are_answered_and_its_close_is_echoed,
    subscriber_count_is_live,
    thousand_subscribers_all_receive_every_event,
    subscriber_queue_frames_bounds_the_lag_and_silent_peers_are_dropped,
    subscriber_queue_bytes_bounds_the_lag,
);

async fn refusals_come_in_contract_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "open"})).await;
    server
        .create_channel(json!({"id": "closed", "is_public": false}))
        .await;

    // 404 before anything else, even with a bad token.
    let (status, content_type, body) = server
        .ws_refused("/channels/missing/ws?token=garbage")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(body["status"], 404);
    // 401 before the upgrade check.
    let (status, content_type, body) = server.ws_refused("/channels/closed/ws").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(body["status"], 401);

    // Plain HTTP (no Upgrade): 404, then 401, then 426 with `Upgrade: websocket`.
    for (path, expected) in [
        ("/channels/missing/ws", StatusCode::NOT_FOUND),
        ("/channels/closed/ws", StatusCode::UNAUTHORIZED),
        ("/channels/open/ws", StatusCode::UPGRADE_REQUIRED),
    ] {
        let response = server.send(Method::GET, path, None, None).await;
        assert_eq!(response.status(), expected, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        if expected == StatusCode::UPGRADE_REQUIRED {
            assert_eq!(response.headers()["upgrade"], "websocket");
        }
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], expected.as_u16());
    }
}

async fn frames_equal_the_publish_response_byte_for_byte(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "exact"})).await;
    let mut socket = server.ws("/channels/exact/ws").await;
    let body = server
        .publish_raw(
            "exact",
            json!({"type": "price.update", "data": {"symbol": "BTC", "price": 67500.0, "z": [1, {"b": 2, "a": 1}]}, "meta": "m"}),
        )
        .await;
    assert_eq!(next_text(&mut socket).await, body);

    // A batch arrives as one frame per event, each equal to its element.
    let batch: Value = server
        .publish(
            "exact",
            json!({"events": [{"data": 1}, {"type": "t", "data": "two"}]}),
        )
        .await;
    for event in batch["events"].as_array().unwrap() {
        assert_eq!(next_text(&mut socket).await, event.to_string());
    }
}

async fn burst_of_1000_arrives_complete_and_in_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "burst"})).await;
    let mut socket = server.ws("/channels/burst/ws").await;
    // Four concurrent publishers: publish order is the store's id order.
    let publishers = (0..4).map(|p| {
        let server = &server;
        async move {
            for i in 0..25 {
                let events: Vec<Value> = (0..10)
                    .map(|j| json!({"data": {"p": p, "i": i, "j": j}}))
                    .collect();
                server.publish("burst", json!({"events": events})).await;
            }
        }
    });
    futures_util::future::join_all(publishers).await;
    let mut received = Vec::new();
    for _ in 0..1000 {
        let frame: Value = serde_json::from_str(&next_text(&mut socket).await).unwrap();
        received.push(frame);
    }
    assert_eq!(
        received,
        server.all_events("burst").await,
        "every event, in publish order"
    );
}

async fn type_filters(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "typed"})).await;
    let mut some = server.ws("/channels/typed/ws?types=a,c").await;
    let mut all = server.ws("/channels/typed/ws?types=").await;
    for event_type in [json!("a"), json!("b"), Value::Null, json!("c")] {
        server
            .publish("typed", json!({"type": event_type, "data": 0}))
            .await;
    }
    let types = |frame: String| serde_json::from_str::<Value>(&frame).unwrap()["type"].clone();
    assert_eq!(types(next_text(&mut some).await), "a");
    assert_eq!(types(next_text(&mut some).await), "c");
    for expected in [json!("a"), json!("b"), Value::Null, json!("c")] {
        assert_eq!(types(next_text(&mut all).await), expected);
    }
}

async fn private_channels_need_a_valid_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({"id": "vault", "is_public": false}))
        .await;
    server
        .create_channel(json!({"id": "other", "is_public": false}))
        .await;
    let (reader, _) = server.create_token("vault", "subscribe", json!({})).await;
    let (writer, _) = server.create_token("vault", "publish", json!({})).await;
    let (elsewhere, _) = server.create_token("other", "subscribe", json!({})).await;
    let (short, _) = server
        .create_token("vault", "subscribe", json!({"expires_in_seconds": 1}))
        .await;
    let (revoked, revoked_info) = server.create_token("vault", "subscribe", json!({})).await;
    server
        .call(
            Method::DELETE,
            &format!(
                "/channels/vault/tokens/{}",
                revoked_info["id"].as_str().unwrap()
            ),
            Some(ADMIN),
            None,
        )
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    for token in [
        &elsewhere,
        &writer,
        &short,
        &revoked,
        &"chs_bad_token".to_owned(),
    ] {
        let (status, _, _) = server
            .ws_refused(&format!("/channels/vault/ws?token={token}"))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}");
    }
    let mut by_query = server
        .ws(&format!("/channels/vault/ws?token={reader}"))
        .await;
    let mut by_header = server
        .ws_with_header("/channels/vault/ws", Some(&reader))
        .await;
    let mut as_admin = server
        .ws(&format!("/channels/vault/ws?token={ADMIN}"))
        .await;
    let body = server.publish_raw("vault", json!({"data": "secret"})).await;
    for socket in [&mut by_query, &mut by_header, &mut as_admin] {
        assert_eq!(next_text(socket).await, body);
    }
}

async fn slow_consumer_is_closed_while_others_get_everything(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "firehose"})).await;
    let mut fast = server.ws("/channels/firehose/ws").await;
    let mut slow = server.ws_small_buffer("/channels/firehose/ws").await;

    // 4000 events of 8 KiB (32 MB): far more than the default 1024-frame
    // queue plus every socket buffer on the way.
    const BATCHES: usize = 40;
    let payload = "x".repeat(8 * 1024);
    let fast_reader = tokio::spawn(async move {
        for _ in 0..BATCHES * 100 {
            next_text(&mut fast).await;
        }
        BATCHES * 100
    });
    // The slow client reads about 100 frames a second: it falls behind, and
    // still reaches the close frame queued behind what was already sent.
    let slow_reader = tokio::spawn(async move {
        let mut texts = 0;
        let deadline = Deadline::after(Duration::from_secs(90));
        loop {
            match deadline
                .within(
                    || format!("no close frame for the slow client after {texts} events"),
                    slow.next(),
                )
                .await
            {
                Some(Ok(Message::Text(_))) => texts += 1,
                Some(Ok(Message::Close(frame))) => return (frame, texts),
                Some(Ok(_)) => {}
                other => panic!("the slow client lost its socket without a close frame: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    for batch in 0..BATCHES {
        let events: Vec<Value> = (0..100)
            .map(|i| json!({"data": {"b": batch, "i": i, "pad": payload}}))
            .collect();
        server.publish("firehose", json!({"events": events})).await;
    }
    assert_eq!(
        fast_reader.await.unwrap(),
        BATCHES * 100,
        "the fast subscriber got everything"
    );
    let (frame, delivered) = slow_reader.await.unwrap();
    let frame = frame.expect("a close frame with a code");
    assert_eq!(
        frame.code,
        CloseCode::Policy,
        "closed with 1008 ({})",
        frame.reason
    );
    assert!(frame.reason.contains("slow"), "{}", frame.reason);
    assert!(
        delivered < BATCHES * 100,
        "the slow subscriber did not get everything"
    );
    // README (Observability): the close is counted.
    assert_eq!(
        server
            .metric("channelhub_slow_consumer_disconnects_total{reason=\"queue\"}")
            .await,
        1.0,
        "{}",
        server.metrics().await
    );
}

async fn oversized_client_frames_close_with_1009(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "chatty"})).await;
    let mut socket = server.ws("/channels/chatty/ws").await;
    // Client frames within the bound are ignored; the subscription carries
    // on. Some are larger than what a socket reads into at first (512 bytes).
    socket.send(Message::text("hello")).await.unwrap();
    socket.send(Message::binary(vec![1u8; 100])).await.unwrap();
    socket.send(Message::text("h".repeat(3000))).await.unwrap();
    socket.send(Message::binary(vec![2u8; 4000])).await.unwrap();
    let body = server.publish_raw("chatty", json!({"data": 1})).await;
    assert_eq!(next_text(&mut socket).await, body);

    socket.send(Message::text("y".repeat(5000))).await.unwrap();
    let (code, _, _) = read_until_close(&mut socket).await;
    assert_eq!(code, Some(CloseCode::Size));
}

async fn delete_and_revoke_close_the_right_sockets(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "doomed"})).await;
    let mut doomed = server.ws("/channels/doomed/ws").await;
    server
        .call(Method::DELETE, "/channels/doomed", Some(ADMIN), None)
        .await;
    let (code, reason, _) = read_until_close(&mut doomed).await;
    assert_eq!(
        (code, reason.as_str()),
        (Some(CloseCode::Normal), "channel deleted")
    );

    server
        .create_channel(json!({"id": "guarded", "is_public": false}))
        .await;
    let (kept, _) = server.create_token("guarded", "subscribe", json!({})).await;
    let (lost, lost_info) = server.create_token("guarded", "subscribe", json!({})).await;
    let mut keeps = server
        .ws(&format!("/channels/guarded/ws?token={kept}"))
        .await;
    let mut loses = server
        .ws(&format!("/channels/guarded/ws?token={lost}"))
        .await;
    server
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
    let (code, reason, _) = read_until_close(&mut loses).await;
    assert_eq!(
        (code, reason.as_str()),
        (Some(CloseCode::Policy), "token revoked")
    );
    let body = server
        .publish_raw("guarded", json!({"data": "still here"}))
        .await;
    assert_eq!(next_text(&mut keeps).await, body);

    // Making a public channel private closes only the sockets without a token.
    server.create_channel(json!({"id": "going-private"})).await;
    let (member, _) = server
        .create_token("going-private", "subscribe", json!({}))
        .await;
    let mut anonymous = server.ws("/channels/going-private/ws").await;
    let mut with_token = server
        .ws(&format!("/channels/going-private/ws?token={member}"))
        .await;
    server
        .call(
            Method::PATCH,
            "/channels/going-private",
            Some(ADMIN),
            Some(json!({"is_public": false})),
        )
        .await;
    let (code, reason, _) = read_until_close(&mut anonymous).await;
    assert_eq!(
        (code, reason.as_str()),
        (Some(CloseCode::Policy), "token revoked")
    );
    let body = server
        .publish_raw("going-private", json!({"data": "members only"}))
        .await;
    assert_eq!(next_text(&mut with_token).await, body);
}

async fn graceful_shutdown_sends_going_away(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "bye"})).await;
    let mut sockets: Vec<Ws> = Vec::new();
    for _ in 0..3 {
        sockets.push(server.ws("/channels/bye/ws").await);
    }
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| tokio::spawn(async move { read_until_close(&mut socket).await }))
        .collect();
    let stopping = tokio::task::spawn_blocking(move || {
        let status = server.stop();
        (status, server)
    });
    for reader in readers {
        let (code, _, _) = reader.await.unwrap();
        assert_eq!(code, Some(CloseCode::Away));
    }
    let (status, _server) = stopping.await.unwrap();
    assert!(status.success(), "exit status {status:?}");
}

async fn connection_limit_answers_503(backend: Backend) {
    let server = TestServer::start_with(backend, &["--max-connections", "2"]).await;
    server.create_channel(json!({"id": "tiny"})).await;
    let first = server.ws("/channels/tiny/ws").await;
    let _second = server.ws("/channels/tiny/ws").await;
    let third = within(
        Duration::from_secs(20),
        "an answer to the third upgrade",
        tokio_tungstenite::connect_async(server.ws_url("/channels/tiny/ws")),
    )
    .await;
    match third {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("expected 503, got {other:?}"),
    }
    // A freed slot can be taken again.
    drop(first);
    eventually("a slot frees up", || async {
        tokio_tungstenite::connect_async(server.ws_url("/channels/tiny/ws"))
            .await
            .is_ok()
    })
    .await;
}

async fn silent_peers_are_dropped_after_two_pings(backend: Backend) {
    let server = TestServer::start_with(backend, &["--ping-interval", "0.3"]).await;
    server.create_channel(json!({"id": "pings"})).await;
    // This client never reads, so never answers a ping.
    let mut silent = server.ws("/channels/pings/ws").await;
    // This one reads (and so answers pings) all along.
    let mut lively = server.ws("/channels/pings/ws").await;
    let lively_reader = tokio::spawn(async move {
        let mut pings = 0;
        let deadline = Deadline::after(Duration::from_secs(20));
        loop {
            let frame = deadline
                .within(
                    || format!("the lively client got {pings} pings and never the event"),
                    lively.next(),
                )
                .await;
            match frame {
                Some(Ok(Message::Ping(_))) => pings += 1,
                Some(Ok(Message::Text(text))) => return (pings, text.to_string()),
                other => panic!("the lively client lost its socket: {other:?}"),
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let body = server
        .publish_raw("pings", json!({"data": "still there?"}))
        .await;
    let (pings, text) = lively_reader.await.unwrap();
    assert!(pings >= 2, "pings arrive every interval ({pings})");
    assert_eq!(text, body, "a peer that answers pings stays connected");

    // The silent one was dropped: after the pings it had, the stream ends
    // without an event. Pings alone must not keep it reading: by 0.3 s a ping,
    // two unanswered ones end it well within 5 s of the publish.
    let mut frames = Vec::new();
    let deadline = Deadline::after(Duration::from_secs(5));
    loop {
        match deadline
            .within(
                || {
                    format!(
                        "the silent peer was not dropped: still open after {} pings",
                        frames.len()
                    )
                },
                silent.next(),
            )
            .await
        {
            Some(Ok(Message::Ping(_))) => frames.push("ping"),
            Some(Ok(Message::Text(_))) => panic!("a dropped peer got an event"),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    assert!(
        frames.len() >= 2,
        "it was pinged twice before being dropped: {frames:?}"
    );
}

async fn client_pings_are_answered_and_its_close_is_echoed(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "echo"})).await;
    let mut socket = server.ws("/channels/echo/ws").await;
    socket
        .send(Message::Ping("are you there".into()))
        .await
        .unwrap();
    let answer = tokio::time::timeout(common::scaled(Duration::from_secs(5)), socket.next())
        .await
        .expect("an answer to the ping");
    match answer {
        Some(Ok(Message::Pong(payload))) => assert_eq!(&payload[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    // The subscription carries on after the ping.
    let body = server.publish_raw("echo", json!({"data": 1})).await;
    assert_eq!(next_text(&mut socket).await, body);

    socket
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        })))
        .await
        .unwrap();
    let echo = tokio::time::timeout(common::scaled(Duration::from_secs(5)), socket.next())
        .await
        .expect("the server answers the close");
    match echo {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected the close to be echoed, got {other:?}"),
    }
}

async fn subscriber_count_is_live(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "counted"})).await;
    let count = || async {
        server
            .call(Method::GET, "/channels/counted", None, None)
            .await
            .1["subscribers"]
            .clone()
    };
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(server.ws("/channels/counted/ws").await);
    }
    assert_eq!(count().await, 3);
    sockets.pop().unwrap().close(None).await.unwrap();
    drop(sockets.pop());
    eventually("closed sockets are no longer counted", || async {
        count().await == 1
    })
    .await;
}

async fn thousand_subscribers_all_receive_every_event(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "crowd"})).await;
    const SUBSCRIBERS: usize = 1000;
    const EVENTS: usize = 20;
    let mut sockets = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        sockets.push(server.ws("/channels/crowd/ws").await);
    }
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            tokio::spawn(async move {
                let mut frames = Vec::with_capacity(EVENTS);
                for _ in 0..EVENTS {
                    frames.push(next_text(&mut socket).await);
                }
                frames
            })
        })
        .collect();
    let mut published = Vec::new();
    for i in 0..EVENTS {
        published.push(server.publish_raw("crowd", json!({"data": i})).await);
    }
    for reader in readers {
        assert_eq!(reader.await.unwrap(), published);
    }
}

/// Publishes batches of 8 events of 4 KiB until the server counts `closes`
/// slow-consumer disconnects, at most `max_events`; returns how many it published.
async fn publish_until_slow_closes(
    server: &TestServer,
    channel: &str,
    closes: f64,
    max_events: usize,
) -> usize {
    let payload = "s".repeat(4 * 1024);
    let mut published = 0;
    while server
        .metric("channelhub_slow_consumer_disconnects_total{reason=\"queue\"}")
        .await
        < closes
    {
        assert!(
            published < max_events,
            "{published} events of 4 KiB and still fewer than {closes} slow-consumer closes: {}",
            server.metrics().await
        );
        let events: Vec<Value> = (0..8)
            .map(|i| json!({"data": {"n": published + i, "pad": payload}}))
            .collect();
        server.publish(channel, json!({"events": events})).await;
        published += 8;
    }
    published
}

/// `--subscriber-queue-frames` (README, Configuration): with a bound of 16
/// frames, subscribers that stop reading are closed with 1008 long before
/// the default (1024 frames, 8 MiB) would; the slow-consumer metric counts
/// them; one that reads nothing at all is dropped 10 s after its close frame
/// was queued (README, "Slow subscribers"). (That a reader who keeps up is
/// not slowed is `slow_consumer_is_closed_while_others_get_everything`.)
async fn subscriber_queue_frames_bounds_the_lag_and_silent_peers_are_dropped(backend: Backend) {
    let server = TestServer::start_with(backend, &["--subscriber-queue-frames", "16"]).await;
    server.create_channel(json!({"id": "bounded"})).await;
    let mut late_reader = server.ws_small_buffer("/channels/bounded/ws").await;
    let silent = server.ws_small_buffer("/channels/bounded/ws").await;
    // 1000 events of 4 KiB stay under the default bounds (1024 frames, 8 MiB).
    let published = publish_until_slow_closes(&server, "bounded", 2.0, 1000).await;
    let closed_at = tokio::time::Instant::now();

    let (code, reason, texts) = read_until_close(&mut late_reader).await;
    assert_eq!(code, Some(CloseCode::Policy), "{reason}");
    assert!(reason.contains("slow"), "{reason}");
    assert!(texts < published, "{texts} of {published}");
    drop(late_reader);

    // The silent one never reads its close frame: dropped after 10 s more.
    eventually("only the silent subscriber is left", || async {
        server.metric("channelhub_websocket_connections").await == 1.0
    })
    .await;
    assert!(
        closed_at.elapsed() < Duration::from_secs(8),
        "the check above ran too late to tell"
    );
    let dropped = Deadline::after(Duration::from_secs(30));
    loop {
        let open = server.metric("channelhub_websocket_connections").await;
        if open == 0.0 {
            break;
        }
        dropped.check(|| format!("the silent slow subscriber was never dropped ({open} open)"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waited = closed_at.elapsed();
    // Both stalled subscribers were closed within moments of each other,
    // before `closed_at`: allow for that, but not for an immediate drop.
    assert!(
        waited >= Duration::from_secs(7),
        "dropped {waited:?} after the close, before its 10 s to read it"
    );
    drop(silent);
}

/// `--subscriber-queue-bytes`: with 64 KiB, a subscriber that stops reading
/// is closed with 1008 although it lags by far fewer than the default 1024
/// frames.
async fn subscriber_queue_bytes_bounds_the_lag(backend: Backend) {
    let server = TestServer::start_with(backend, &["--subscriber-queue-bytes", "65536"]).await;
    server.create_channel(json!({"id": "byte-bound"})).await;
    let mut stalled = server.ws_small_buffer("/channels/byte-bound/ws").await;
    // Under 1024 frames in all: only the byte bound can close it.
    let published = publish_until_slow_closes(&server, "byte-bound", 1.0, 1000).await;
    let (code, reason, texts) = read_until_close(&mut stalled).await;
    assert_eq!(code, Some(CloseCode::Policy), "{reason}");
    assert!(texts < published, "{texts} of {published}");
}
