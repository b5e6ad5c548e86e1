//! Events written to an idle subscriber's socket by the broadcast itself
//! (ARCHITECTURE.md, "Direct writes"): what a subscriber sees must not
//! change. Each frame whole and in order when the socket fills in the middle
//! of a frame and the session takes over (with pongs and type filters in
//! play), and a ring that overran only what was delivered directly is no
//! lag. Real binary, real sockets. On SQLite the fan-out task writes to
//! parked sessions; on PostgreSQL the bus wakes them (the same sessions,
//! parked and woken), so both databases run each case.

mod common;

use std::time::Duration;

use common::{Backend, TestServer, metric_value, next_text};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

on_both_backends!(
    a_parked_subscriber_outrun_by_its_ring_is_not_cut,
    a_slow_reader_gets_every_frame_whole_and_in_order,
);

const QUEUE_SERIES: &str = "channelhub_slow_consumer_disconnects_total{reason=\"queue\"}";

/// The ring holds 4 commits here. A subscriber that reads as fast as events
/// come is parked between them, so the broadcasts write to its socket and
/// its place in the ring falls far behind; whatever wakes it next (a ping
/// here) must find that only what it already has was overrun.
async fn a_parked_subscriber_outrun_by_its_ring_is_not_cut(backend: Backend) {
    let server = TestServer::start_with(backend, &["--subscriber-queue-frames", "4"]).await;
    server.create_channel(json!({"id": "parked"})).await;
    let mut sub = server.ws("/channels/parked/ws").await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let published = server.publish("parked", json!({"data": i})).await;
        let event: Value = serde_json::from_str(&next_text(&mut sub).await).unwrap();
        assert_eq!(event["data"], i, "events in order, each once");
        assert_eq!(event["id"], published["id"]);
        ids.push(event["id"].clone());
    }
    // Wakes the session: the pong goes out through it.
    sub.send(Message::Ping(b"wake".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(common::scaled(Duration::from_secs(10)), sub.next())
        .await
        .expect("a pong within 10 s");
    assert!(
        matches!(pong, Some(Ok(Message::Pong(ref p))) if &p[..] == b"wake"),
        "{pong:?}"
    );
    // And it is still subscribed: the next event arrives, once.
    server.publish("parked", json!({"data": "after"})).await;
    let event: Value = serde_json::from_str(&next_text(&mut sub).await).unwrap();
    assert_eq!(event["data"], "after");
    assert_eq!(server.subscribers("parked").await, 1);
    let metrics = server.metrics().await;
    assert_eq!(
        metric_value(&metrics, QUEUE_SERIES).unwrap_or(0.0),
        0.0,
        "nobody was cut as too far behind: {metrics}"
    );
}

/// A reader with a small receive buffer that takes its events slowly,
/// pinging as it goes: the socket fills in the middle of frames, direct
/// writes hand what is left to the session, which must finish each frame
/// before its pong. Only `keep` events are asked for.
async fn a_slow_reader_gets_every_frame_whole_and_in_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "slow"})).await;
    let mut slow = server.ws_small_buffer("/channels/slow/ws?types=keep").await;
    // 30 commits of 10 events of 20 KB, every other one of the filtered type:
    // 6 MB in all, 3 MB for the reader, within the queue bound (8 MiB).
    const COMMITS: usize = 30;
    let pad = "x".repeat(20_000);
    let publishing = {
        let url = server.url("/channels/slow/events");
        tokio::spawn(async move {
            let client = common::http_client();
            for commit in 0..COMMITS {
                let events: Vec<Value> = (0..10)
                    .map(|i| {
                        let kind = if i % 2 == 0 { "keep" } else { "skip" };
                        json!({"type": kind, "data": {"commit": commit, "i": i, "pad": pad}})
                    })
                    .collect();
                let response = client
                    .post(&url)
                    .bearer_auth(common::ADMIN)
                    .json(&json!({"events": events}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut seen = 0;
    while seen < COMMITS * 5 {
        if seen % 10 == 0 {
            slow.send(Message::Ping(seen.to_string().into_bytes().into()))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        let event: Value =
            serde_json::from_str(&next_text(&mut slow).await).expect("each frame is whole JSON");
        assert_eq!(event["type"], "keep", "only the asked-for type");
        assert_eq!(
            (
                event["data"]["commit"].as_u64(),
                event["data"]["i"].as_u64()
            ),
            (Some((seen / 5) as u64), Some((seen % 5 * 2) as u64)),
            "every event once, in order"
        );
        assert_eq!(event["data"]["pad"].as_str().map(str::len), Some(20_000));
        seen += 1;
    }
    publishing.await.unwrap();
    assert_eq!(server.subscribers("slow").await, 1);
}
