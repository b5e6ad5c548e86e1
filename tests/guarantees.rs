//! Delivery guarantees: a publish carrying an `Idempotency-Key` is stored
//! once however often it is retried, across a crash, concurrent repeats and
//! the key's window. On SQLite and PostgreSQL.

mod common;

use std::{
    collections::{BTreeSet, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{ADMIN, Backend, TestServer, next_text};
use eventsource_stream::Eventsource;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    a_repeated_key_stores_once,
    concurrent_repeats_store_once,
    keys_expire_after_their_window,
    a_publisher_cut_off_by_a_crash_retries_without_duplicates,
    a_poll_from_an_evicted_cursor_reports_the_gap,
    live_resumes_from_an_evicted_id_announce_the_gap,
);

/// Publishes as admin with an idempotency key; status, replay header, body.
async fn publish_with_key(
    http: &reqwest::Client,
    base: &str,
    channel: &str,
    key: &str,
    body: &Value,
) -> Result<(StatusCode, Option<String>, Value), reqwest::Error> {
    let response = http
        .post(format!("{base}/channels/{channel}/events"))
        .bearer_auth(ADMIN)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await?;
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    Ok((status, replayed, response.json().await?))
}

async fn a_repeated_key_stores_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "orders"})).await;
    server.create_channel(json!({"id": "refunds"})).await;
    let (http, base) = (&server.http, server.base.as_str());

    let order = json!({"type": "order.placed", "data": {"n": 1}});
    let (status, replayed, first) = publish_with_key(http, base, "orders", "order-1", &order)
        .await
        .unwrap();
    assert_eq!((status, replayed), (StatusCode::CREATED, None), "{first}");
    let (status, replayed, again) = publish_with_key(http, base, "orders", "order-1", &order)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(again, first, "the repeat answers the first result");

    let batch = json!({"events": [{"data": "a"}, {"data": "b"}]});
    let (_, _, stored) = publish_with_key(http, base, "orders", "batch-1", &batch)
        .await
        .unwrap();
    let (status, replayed, repeated) = publish_with_key(http, base, "orders", "batch-1", &batch)
        .await
        .unwrap();
    assert_eq!(
        (status, replayed.as_deref()),
        (StatusCode::CREATED, Some("true"))
    );
    assert_eq!(repeated, stored);
    assert_eq!(server.all_events("orders").await.len(), 3);

    // The same key for a different request is refused and stores nothing.
    for other in [
        json!({"type": "order.placed", "data": {"n": 2}}),
        json!({"events": [{"type": "order.placed", "data": {"n": 1}}]}),
    ] {
        let (status, _, problem) = publish_with_key(http, base, "orders", "order-1", &other)
            .await
            .unwrap();
        common::assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(server.all_events("orders").await.len(), 3);

    // Keys belong to their channel.
    let (status, replayed, _) = publish_with_key(http, base, "refunds", "order-1", &order)
        .await
        .unwrap();
    assert_eq!((status, replayed), (StatusCode::CREATED, None));

    for bad in ["has space", &"k".repeat(256), ""] {
        let (status, _, problem) = publish_with_key(http, base, "orders", bad, &order)
            .await
            .unwrap();
        common::assert_problem(status, &problem, StatusCode::BAD_REQUEST);
    }
    assert_eq!(server.all_events("orders").await.len(), 3);
}

async fn concurrent_repeats_store_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "payments"})).await;
    let body = json!({"type": "charge", "data": {"cents": 500}});
    let answers = join_all(
        (0..16)
            .map(|_| publish_with_key(&server.http, &server.base, "payments", "charge-7", &body)),
    )
    .await;
    let mut ids = HashSet::new();
    let mut replays = 0;
    for answer in answers {
        let (status, replayed, event) = answer.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{event}");
        replays += usize::from(replayed.is_some());
        ids.insert(event["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "every answer names the one stored event");
    assert_eq!(replays, 15, "all but the first are replays");
    assert_eq!(server.all_events("payments").await.len(), 1);
}

async fn keys_expire_after_their_window(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &["--idempotency-window", "1", "--retention-interval", "0.2"],
    )
    .await;
    server.create_channel(json!({"id": "pings"})).await;
    let body = json!({"data": "ping"});
    let (_, _, first) = publish_with_key(&server.http, &server.base, "pings", "p", &body)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, replayed, second) =
        publish_with_key(&server.http, &server.base, "pings", "p", &body)
            .await
            .unwrap();
    assert_eq!((status, replayed), (StatusCode::CREATED, None), "{second}");
    assert_ne!(first["id"], second["id"], "an expired key stores again");
    assert_eq!(server.all_events("pings").await.len(), 2);
}

async fn a_publisher_cut_off_by_a_crash_retries_without_duplicates(backend: Backend) {
    const PUBLISHERS: usize = 8;
    const EACH: usize = 40;
    let mut server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "ledger"})).await;
    let body = |n: usize| json!({"type": "entry", "data": {"n": n}});
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));

    // Publishers run until the server dies under them.
    let client = reqwest::Client::builder()
        .timeout(common::scaled(Duration::from_secs(5)))
        .build()
        .unwrap();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (client, base, acknowledged) =
                (client.clone(), server.base.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for i in 0..EACH {
                    let n = p * EACH + i;
                    match publish_with_key(
                        &client,
                        &base,
                        "ledger",
                        &format!("entry-{n}"),
                        &body(n),
                    )
                    .await
                    {
                        Ok((StatusCode::CREATED, _, _)) => {
                            acknowledged.lock().unwrap().insert(n);
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + common::scaled(Duration::from_secs(30));
    while acknowledged.lock().unwrap().len() < PUBLISHERS * EACH / 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "publishers made no progress before the crash"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.crash();
    for publisher in publishers {
        tokio::time::timeout(common::scaled(Duration::from_secs(30)), publisher)
            .await
            .expect("publishers notice the crash within 30 s")
            .unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() < PUBLISHERS * EACH,
        "the crash cut publishing short"
    );

    // Every request is retried with its key, answered or not.
    server.restart();
    let mut replayed = 0;
    for n in 0..PUBLISHERS * EACH {
        let (status, was_replayed, event) = publish_with_key(
            &server.http,
            &server.base,
            "ledger",
            &format!("entry-{n}"),
            &body(n),
        )
        .await
        .unwrap();
        assert_eq!(status, StatusCode::CREATED, "{event}");
        assert_eq!(event["data"]["n"], n);
        if acknowledged.contains(&n) {
            assert_eq!(
                was_replayed.as_deref(),
                Some("true"),
                "entry {n} was stored"
            );
        }
        replayed += usize::from(was_replayed.is_some());
    }
    assert!(replayed >= acknowledged.len());
    let stored: Vec<u64> = server
        .all_events("ledger")
        .await
        .iter()
        .map(|e| e["data"]["n"].as_u64().unwrap())
        .collect();
    let distinct: BTreeSet<u64> = stored.iter().copied().collect();
    assert_eq!(stored.len(), PUBLISHERS * EACH, "each entry stored once");
    assert_eq!(distinct, (0..(PUBLISHERS * EACH) as u64).collect());
}

/// A poll page as a consumer sees it.
async fn poll_after(server: &TestServer, channel: &str, cursor: &str) -> (StatusCode, Value) {
    server
        .call(
            reqwest::Method::GET,
            &format!("/channels/{channel}/events?cursor={cursor}&limit=1000"),
            Some(ADMIN),
            None,
        )
        .await
}

async fn a_poll_from_an_evicted_cursor_reports_the_gap(backend: Backend) {
    let server = TestServer::start_with(backend, &["--retention-interval", "0.2"]).await;
    server
        .create_channel(json!({"id": "ticker", "retention": {"max_events": 5}}))
        .await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let event = server.publish("ticker", json!({"data": i})).await;
        ids.push(event["id"].as_str().unwrap().to_owned());
    }
    common::eventually("retention keeps the newest 5", || async {
        server.all_events("ticker").await.len() == 5
    })
    .await;

    // Resuming from the first event: 14 events are gone, and the page says so.
    let (status, page) = poll_after(&server, "ticker", &ids[0]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["gap"]["removed_through"], ids[14], "{page}");
    let got: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        ids[15..].iter().map(String::as_str).collect::<Vec<_>>()
    );

    // The newest removed event is a clean resume point; so is a held one.
    for clean in [&ids[14], &ids[16]] {
        let (status, page) = poll_after(&server, "ticker", clean).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["gap"], Value::Null, "{page}");
    }
    // A lower-case cursor is the same id.
    let (_, page) = poll_after(&server, "ticker", &ids[0].to_lowercase()).await;
    assert_eq!(page["gap"]["removed_through"], ids[14]);

    // A cursor that was never an event of this channel is refused.
    let never = ulid::Ulid::generate().to_string();
    let (status, problem) = poll_after(&server, "ticker", &never).await;
    common::assert_problem(status, &problem, StatusCode::NOT_FOUND);

    // Deleting one event is no gap: whoever resumes before it (or from it)
    // simply does not get it.
    let (status, _) = server
        .call(
            reqwest::Method::DELETE,
            &format!("/channels/ticker/events/{}", ids[17]),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for after in [&ids[16], &ids[17]] {
        let (status, page) = poll_after(&server, "ticker", after).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["gap"], Value::Null, "{page}");
        let got: Vec<&str> = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        assert_eq!(got, [ids[18].as_str(), ids[19].as_str()]);
    }
}

/// Publishes 20 events on a channel keeping 5; returns their ids.
async fn evicted_channel(server: &TestServer, channel: &str) -> Vec<String> {
    server
        .create_channel(json!({"id": channel, "retention": {"max_events": 5}}))
        .await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let event = server.publish(channel, json!({"data": i})).await;
        ids.push(event["id"].as_str().unwrap().to_owned());
    }
    common::eventually("retention keeps the newest 5", || async {
        server.all_events(channel).await.len() == 5
    })
    .await;
    ids
}

async fn live_resumes_from_an_evicted_id_announce_the_gap(backend: Backend) {
    let server = TestServer::start_with(backend, &["--retention-interval", "0.2"]).await;
    let ids = evicted_channel(&server, "quotes").await;

    // WebSocket: a gap notice (no `id`) before the replay.
    let mut socket = server
        .ws(&format!("/channels/quotes/ws?after={}", ids[0]))
        .await;
    let notice: Value = serde_json::from_str(&next_text(&mut socket).await).unwrap();
    assert_eq!(
        notice,
        json!({"gap": {"after": ids[0], "removed_through": ids[14]}})
    );
    for id in &ids[15..] {
        let event: Value = serde_json::from_str(&next_text(&mut socket).await).unwrap();
        assert_eq!(&event["id"], id);
    }
    // From a held id: the replay starts at once, no notice.
    let mut clean = server
        .ws(&format!("/channels/quotes/ws?after={}", ids[17]))
        .await;
    let first: Value = serde_json::from_str(&next_text(&mut clean).await).unwrap();
    assert_eq!(first["id"], ids[18]);
    // An id that never was an event of the channel is refused.
    let never = ulid::Ulid::generate().to_string();
    let (status, _, problem) = server
        .ws_refused(&format!("/channels/quotes/ws?after={never}"))
        .await;
    common::assert_problem(status, &problem, StatusCode::NOT_FOUND);

    // SSE: a distinct `gap` message, then the events.
    let response = server
        .http
        .get(server.url("/channels/quotes/stream"))
        .header("last-event-id", &ids[0])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = Box::pin(response.bytes_stream().eventsource());
    let gap = next_sse(&mut stream).await;
    assert_eq!(gap.event, "gap");
    let gap: Value = serde_json::from_str(&gap.data).unwrap();
    assert_eq!(gap["gap"]["removed_through"], ids[14]);
    assert_eq!(next_sse(&mut stream).await.id, ids[15]);
}

async fn next_sse<S>(stream: &mut S) -> eventsource_stream::Event
where
    S: futures_util::Stream<
            Item = Result<
                eventsource_stream::Event,
                eventsource_stream::EventStreamError<reqwest::Error>,
            >,
        > + Unpin,
{
    common::within(
        Duration::from_secs(10),
        "an SSE message",
        futures_util::StreamExt::next(stream),
    )
    .await
    .expect("the stream is open")
    .expect("a well-formed SSE message")
}
