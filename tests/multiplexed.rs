//! The multiplexed socket, `GET /api/v1/ws` (README "One socket, many
//! channels"): many channels on one socket, resume, gaps, endings, bounds
//! and bad input, driven by a real WebSocket client against the real binary
//! on SQLite and PostgreSQL. Credentials, refresh and limits on the socket
//! are in `multiplexed_access.rs`.

mod common;

use std::{collections::HashMap, time::Duration};

use common::{
    ADMIN, Backend, TestServer,
    mux::{Mux, NIL, ids, publish_n},
    scaled,
};
use futures_util::SinkExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

on_both_backends!(
    the_handshake_checks_the_credential_then_says_hello,
    many_channels_public_and_private_share_one_socket,
    every_channel_resumes_after_a_forced_disconnect,
    gaps_are_announced_per_channel,
    endings_are_per_subscription,
    a_slow_subscription_ends_alone,
    bad_frames_get_errors_and_harm_nothing,
    bounds_close_or_refuse,
    padded_types_filter_live_events_as_they_filter_the_replay,
    an_ended_socket_leaves_its_rooms_before_the_close_handshake,
    a_socket_that_takes_nothing_is_dropped_with_its_subscriptions,
    the_socket_reads_on_while_a_command_is_checked,
);

async fn the_handshake_checks_the_credential_then_says_hello(backend: Backend) {
    let server = TestServer::start(backend).await;
    // A credential that is present but invalid is refused, as problem+json.
    let (status, content_type, problem) = server.ws_refused("/ws?token=chs_nope").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(problem["status"], 401);
    // Plain HTTP: 426 with `Upgrade: websocket`.
    let response = server.http.get(server.url("/ws")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
    assert_eq!(response.headers()["upgrade"], "websocket");

    let (_anonymous, hello) = Mux::open(&server, None).await;
    assert_eq!(hello["max_subscriptions"], 100);
    assert_eq!(hello["max_frame_bytes"], 16 * 1024);
    assert_eq!(hello["credential"], Value::Null);
    let (_admin, hello) = Mux::open(&server, Some(ADMIN)).await;
    assert_eq!(hello["credential"]["kind"], "admin");
}

async fn many_channels_public_and_private_share_one_socket(backend: Backend) {
    let server = TestServer::start(backend).await;
    for id in ["news", "sport", "weather"] {
        server.create_channel(json!({"id": id})).await;
    }
    server
        .create_channel(json!({"id": "vault", "is_public": false}))
        .await;
    server
        .create_channel(json!({"id": "other", "is_public": false}))
        .await;
    let (vault_token, _) = server.create_token("vault", "subscribe", json!({})).await;

    let (mut mux, _) = Mux::open(&server, None).await;
    for channel in ["news", "sport"] {
        let (subscribed, replay) = mux
            .subscribe(json!({"ref": channel, "channel": channel}))
            .await;
        assert_eq!(subscribed["ref"], channel);
        assert_eq!(
            subscribed["position"], NIL,
            "an empty channel starts at the nil id"
        );
        assert!(replay.is_empty());
    }
    mux.subscribe(json!({"channel": "weather", "types": ["storm"]}))
        .await;
    // A private channel with its own token; another channel's token is refused.
    let (subscribed, _) = mux
        .subscribe(json!({"channel": "vault", "token": vault_token}))
        .await;
    assert_eq!(subscribed["expires_at"], Value::Null);
    let refused = mux
        .refused(json!({"subscribe": {"ref": "x", "channel": "other", "token": vault_token}}))
        .await;
    assert_eq!(
        (refused["ref"].as_str(), refused["status"].as_u64()),
        (Some("x"), Some(401))
    );
    let refused = mux
        .refused(json!({"subscribe": {"channel": "other"}}))
        .await;
    assert_eq!(refused["status"], 401, "no credential at all");
    let refused = mux
        .refused(json!({"subscribe": {"channel": "missing"}}))
        .await;
    assert_eq!(refused["status"], 404);

    // Each subscription counts as a subscriber of its channel.
    for channel in ["news", "sport", "weather"] {
        assert_eq!(server.subscribers(channel).await, 1, "{channel}");
    }
    let mut published = Vec::new();
    for round in 0..3 {
        for channel in ["news", "sport", "vault"] {
            let event = server
                .publish(channel, json!({"type": "t", "data": round}))
                .await;
            published.push(event);
        }
        server
            .publish("weather", json!({"type": "sun", "data": round}))
            .await;
        published.push(
            server
                .publish("weather", json!({"type": "storm", "data": round}))
                .await,
        );
    }
    let mut got = Vec::new();
    while got.len() < published.len() {
        got.push(mux.next().await);
    }
    // Per channel: every event once, in publish order, byte for byte the
    // publish answer; filtered types never arrive.
    for channel in ["news", "sport", "weather", "vault"] {
        let sent: Vec<&Value> = published
            .iter()
            .filter(|e| e["channel_id"] == channel)
            .collect();
        let received: Vec<&Value> = got.iter().filter(|e| e["channel_id"] == channel).collect();
        assert_eq!(sent, received, "{channel}");
    }
    assert!(got.iter().all(|e| e["type"] != "sun"));

    // Unsubscribing ends that channel only.
    mux.send(json!({"unsubscribe": {"ref": "u", "channel": "sport"}}))
        .await;
    let answer = mux.next().await;
    assert_eq!(
        answer,
        json!({"unsubscribed": {"ref": "u", "channel": "sport", "code": 1000, "reason": "unsubscribed"}})
    );
    common::eventually("sport has no subscriber", || async {
        server.subscribers("sport").await == 0
    })
    .await;
    server.publish("sport", json!({"data": "unseen"})).await;
    let news = server.publish("news", json!({"data": "seen"})).await;
    assert_eq!(mux.next().await, news);
    assert_eq!(server.metric("channelhub_ws_subscriptions").await, 3.0);
}

async fn every_channel_resumes_after_a_forced_disconnect(backend: Backend) {
    let server = TestServer::start(backend).await;
    let channels = ["ch-0", "ch-1", "ch-2", "ch-3", "ch-4"];
    for id in channels {
        server.create_channel(json!({"id": id})).await;
    }
    server.create_channel(json!({"id": "empty"})).await;
    let (mut mux, _) = Mux::open(&server, None).await;
    let mut last: HashMap<String, String> = HashMap::new();
    for channel in channels.iter().chain(&["empty"]) {
        let (subscribed, _) = mux.subscribe(json!({"channel": channel})).await;
        last.insert(
            channel.to_string(),
            subscribed["position"].as_str().unwrap().into(),
        );
    }
    for channel in channels {
        publish_n(&server, channel, 3).await;
    }
    for _ in 0..15 {
        let event = mux.next().await;
        last.insert(
            event["channel_id"].as_str().unwrap().into(),
            event["id"].as_str().unwrap().into(),
        );
    }
    // The connection is cut; meanwhile every channel moves on.
    drop(mux);
    let mut missed = HashMap::new();
    for channel in channels.iter().chain(&["empty"]) {
        missed.insert(channel.to_string(), publish_n(&server, channel, 4).await);
    }
    let (mut mux, _) = Mux::open(&server, None).await;
    for channel in channels.iter().chain(&["empty"]) {
        let (subscribed, replay) = mux
            .subscribe(json!({"channel": channel, "after": last[*channel]}))
            .await;
        assert_eq!(subscribed["position"], last[*channel].as_str());
        assert_eq!(
            ids(&replay),
            missed[*channel],
            "{channel}: no gap, no duplicate"
        );
    }
    // Then live, for all of them.
    for channel in channels {
        let event = server.publish(channel, json!({"data": "live"})).await;
        assert_eq!(mux.next().await, event);
    }
    // `after` from another channel (past this one's last), or never issued,
    // is refused.
    let later = server.publish("ch-1", json!({"data": "later"})).await;
    let (mut other, _) = Mux::open(&server, None).await;
    let refused = other
        .refused(json!({"subscribe": {"channel": "ch-0", "after": later["id"]}}))
        .await;
    assert_eq!(refused["status"], 404, "{refused}");
    let refused = other
        .refused(json!({"subscribe": {"channel": "ch-0", "after": "not-an-id"}}))
        .await;
    assert_eq!(refused["status"], 400, "{refused}");
}

async fn gaps_are_announced_per_channel(backend: Backend) {
    let server = TestServer::start_with(backend, &["--retention-interval", "0.2"]).await;
    server
        .create_channel(json!({"id": "quotes", "retention": {"max_events": 5}}))
        .await;
    server.create_channel(json!({"id": "calm"})).await;
    let quotes = publish_n(&server, "quotes", 20).await;
    common::eventually("retention keeps the newest 5", || async {
        server.all_events("quotes").await.len() == 5
    })
    .await;
    let calm = publish_n(&server, "calm", 2).await;
    let (mut mux, _) = Mux::open(&server, None).await;
    let (_, replay) = mux
        .subscribe(json!({"channel": "quotes", "after": quotes[0]}))
        .await;
    assert_eq!(
        replay[0],
        json!({"gap": {"channel": "quotes", "after": quotes[0], "removed_through": quotes[14]}})
    );
    assert_eq!(ids(&replay[1..]), quotes[15..].to_vec());
    // From the nil id: everything still stored, after the gap.
    let (_, replay) = mux
        .subscribe(json!({"channel": "calm", "after": NIL}))
        .await;
    assert_eq!(ids(&replay), calm);
}

async fn endings_are_per_subscription(backend: Backend) {
    let server = TestServer::start(backend).await;
    for id in ["keep", "doomed", "turning"] {
        server.create_channel(json!({"id": id})).await;
    }
    for id in ["revoked", "expiring"] {
        server
            .create_channel(json!({"id": id, "is_public": false}))
            .await;
    }
    let (revoked_token, revoked) = server.create_token("revoked", "subscribe", json!({})).await;
    let (expiring_token, _) = server
        .create_token("expiring", "subscribe", json!({"expires_in_seconds": 3}))
        .await;
    let (mut mux, _) = Mux::open(&server, None).await;
    for channel in ["keep", "doomed", "turning"] {
        mux.subscribe(json!({"channel": channel})).await;
    }
    mux.subscribe(json!({"channel": "revoked", "token": revoked_token}))
        .await;
    let (subscribed, _) = mux
        .subscribe(json!({"channel": "expiring", "token": expiring_token}))
        .await;
    assert!(subscribed["expires_at"].is_string(), "{subscribed}");

    let ended = |frame: &Value, channel: &str, code: u64| {
        frame["unsubscribed"]["channel"] == channel && frame["unsubscribed"]["code"] == code
    };
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!(
                "/channels/revoked/tokens/{}",
                revoked["id"].as_str().unwrap()
            ),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let frame = mux.next().await;
    assert!(ended(&frame, "revoked", 4001), "{frame}");
    still_delivers(&mut mux, &server).await;

    server.make_private("turning").await;
    let frame = mux.next().await;
    assert!(ended(&frame, "turning", 4002), "{frame}");
    still_delivers(&mut mux, &server).await;

    let (status, _) = server
        .call(Method::DELETE, "/channels/doomed", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let frame = mux.next().await;
    assert!(ended(&frame, "doomed", 4004), "{frame}");
    still_delivers(&mut mux, &server).await;

    let frame = mux.next().await;
    assert!(ended(&frame, "expiring", 4003), "{frame}");
    still_delivers(&mut mux, &server).await;
    assert_eq!(server.metric("channelhub_ws_subscriptions").await, 1.0);
}

/// The `keep` channel still delivers on this socket.
async fn still_delivers(mux: &mut Mux, server: &TestServer) {
    let event = server.publish("keep", json!({"data": 1})).await;
    let frames = mux.until("keep's event", |f| f["id"] == event["id"]).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
}

async fn a_slow_subscription_ends_alone(backend: Backend) {
    let server = TestServer::start_with(backend, &["--subscriber-queue-frames", "16"]).await;
    server.create_channel(json!({"id": "flood"})).await;
    server.create_channel(json!({"id": "quiet"})).await;
    let mut mux = Mux(server.ws_small_buffer("/ws").await);
    mux.next().await;
    mux.subscribe(json!({"channel": "flood"})).await;
    mux.subscribe(json!({"channel": "quiet"})).await;
    // The client stops reading while `flood` publishes past its bound.
    let pad = "s".repeat(4 * 1024);
    let mut published = 0;
    while server
        .metric("channelhub_slow_consumer_disconnects_total{reason=\"queue\"}")
        .await
        < 1.0
    {
        assert!(
            published < 2000,
            "{published} events and no slow subscription"
        );
        let events: Vec<Value> = (0..8).map(|_| json!({"data": {"pad": pad}})).collect();
        server.publish("flood", json!({"events": events})).await;
        published += 8;
    }
    let frames = mux
        .until("flood's ending", |f| f.get("unsubscribed").is_some())
        .await;
    let ending = &frames.last().unwrap()["unsubscribed"];
    assert_eq!(
        (ending["channel"].as_str(), ending["code"].as_u64()),
        (Some("flood"), Some(4000)),
        "{ending}"
    );
    assert!(
        frames.len() <= published,
        "it ended before the end of the flood"
    );
    // The socket and its other subscription carry on.
    let event = server.publish("quiet", json!({"data": "still here"})).await;
    let frames = mux.until("quiet's event", |f| f["id"] == event["id"]).await;
    assert!(
        frames.iter().all(|f| f["channel_id"] != "flood"),
        "flood ended"
    );
    assert_eq!(server.subscribers("flood").await, 0);
}

async fn bad_frames_get_errors_and_harm_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "okay"})).await;
    let (mut mux, _) = Mux::open(&server, None).await;
    mux.subscribe(json!({"channel": "okay"})).await;
    for (frame, status, says) in [
        (json!("text"), 400, "a JSON object"),
        (
            json!({"publish": {"channel": "okay"}}),
            400,
            "unknown frame",
        ),
        (
            json!({"subscribe": {"channel": "okay", "tpyes": []}}),
            400,
            "unknown field",
        ),
        (
            json!({"subscribe": {"ref": "dup", "channel": "okay"}}),
            409,
            "already subscribed",
        ),
        (
            json!({"unsubscribe": {"channel": "never"}}),
            404,
            "not subscribed",
        ),
        (
            json!({"refresh": {"token": "chs_x"}}),
            403,
            "no connection credential",
        ),
    ] {
        let error = mux.refused(frame.clone()).await;
        assert_eq!(error["status"], status, "{frame}: {error}");
        assert!(
            error["detail"].as_str().unwrap().contains(says),
            "{frame}: {error}"
        );
    }
    mux.0.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    let error = mux.next().await;
    assert_eq!(error["error"]["status"], 400, "{error}");
    mux.0.send(Message::text("{not json")).await.unwrap();
    assert_eq!(mux.next().await["error"]["status"], 400);
    // The subscription is unharmed.
    let event = server.publish("okay", json!({"data": 1})).await;
    assert_eq!(mux.next().await, event);
    // The tenth malformed frame closes the socket cleanly (1008): five were
    // sent above (a JSON string, an unknown kind, an unknown field, the
    // binary frame, the broken JSON); refused commands do not count.
    for _ in 0..4 {
        mux.0.send(Message::text("[]")).await.unwrap();
        assert_eq!(mux.next().await["error"]["status"], 400);
    }
    mux.0.send(Message::text("[]")).await.unwrap();
    let (code, _) = mux.closed().await;
    assert_eq!(code, Some(CloseCode::Policy));
    common::eventually("the closed socket's subscription is gone", || async {
        server.subscribers("okay").await == 0
    })
    .await;
}

async fn bounds_close_or_refuse(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            "--ws-max-subscriptions",
            "3",
            "--ws-commands-per-second",
            "2",
            "--ws-max-frame-bytes",
            "2048",
        ],
    )
    .await;
    for i in 0..4 {
        server
            .create_channel(json!({"id": format!("bound-{i}")}))
            .await;
    }
    let (mut mux, hello) = Mux::open(&server, None).await;
    assert_eq!(hello["max_subscriptions"], 3);
    for i in 0..3 {
        mux.subscribe(json!({"channel": format!("bound-{i}")}))
            .await;
    }
    // The burst is 10 commands (five seconds' worth): three were taken.
    let error = mux.refused(json!({"subscribe": {"channel": "b3"}})).await;
    assert_eq!(error["status"], 429, "the 4th subscription: {error}");
    assert!(error["detail"].as_str().unwrap().contains("maximum of 3"));
    let mut limited = None;
    for _ in 0..12 {
        let error = mux
            .refused(json!({"unsubscribe": {"ref": "u", "channel": "none"}}))
            .await;
        if error["status"] == 429 {
            limited = Some(error);
            break;
        }
    }
    let limited = limited.expect("a command flood is refused");
    assert!(limited["retry_after"].as_u64().unwrap() >= 1, "{limited}");
    // It names the command it refused, so a client knows which to send again.
    assert_eq!(
        (&limited["ref"], &limited["channel"]),
        (&json!("u"), &json!("none"))
    );
    // The subscriptions still deliver.
    let event = server.publish("bound-1", json!({"data": 1})).await;
    assert_eq!(mux.next().await, event);
    // A frame over the size bound closes the socket with 1009.
    let big = json!({"subscribe": {"channel": "x".repeat(3000)}}).to_string();
    mux.0.send(Message::text(big)).await.unwrap();
    let (code, _) = mux.closed().await;
    assert_eq!(code, Some(CloseCode::Size));
}

/// The replay reads `types` trimmed (as the per-channel route's `?types=`
/// does); live delivery reads them the same way.
async fn padded_types_filter_live_events_as_they_filter_the_replay(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "weather"})).await;
    let stored = server
        .publish("weather", json!({"type": "storm", "data": 0}))
        .await;
    let (mut mux, _) = Mux::open(&server, None).await;
    let (_, replay) = mux
        .subscribe(json!({"channel": "weather", "types": [" storm "], "after": NIL}))
        .await;
    assert_eq!(
        ids(&replay),
        vec![stored["id"].as_str().unwrap().to_owned()]
    );
    let live = server
        .publish("weather", json!({"type": "storm", "data": 1}))
        .await;
    let frame = tokio::time::timeout(scaled(Duration::from_secs(5)), mux.next())
        .await
        .expect("the replay delivered a storm, live delivery drops the next one");
    assert_eq!(frame, live);
}

/// A socket that ends leaves its rooms at once, as the per-channel session
/// does, not after the close handshake (up to 10 s with a peer that does
/// not answer the close).
async fn an_ended_socket_leaves_its_rooms_before_the_close_handshake(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "okay"})).await;
    let (mut mux, _) = Mux::open(&server, None).await;
    mux.subscribe(json!({"channel": "okay"})).await;
    assert_eq!(server.subscribers("okay").await, 1);
    // The tenth malformed frame ends the socket (1008). This client reads
    // nothing more, so it never answers the close.
    for _ in 0..10 {
        mux.0.send(Message::text("[]")).await.unwrap();
    }
    let started = std::time::Instant::now();
    while server.subscribers("okay").await != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the ended socket is still okay's subscriber after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.metric("channelhub_ws_subscriptions").await, 0.0);
    drop(mux);
}

/// The write deadline ends the socket, not one subscription: a multiplexed
/// socket that takes no bytes for `--write-timeout` is dropped even once its
/// channels are quiet, with every subscription on it, while another socket
/// on the same channels keeps its own.
async fn a_socket_that_takes_nothing_is_dropped_with_its_subscriptions(backend: Backend) {
    let server = TestServer::start_with(backend, &["--write-timeout", "1"]).await;
    server.create_channel(json!({"id": "loud"})).await;
    server.create_channel(json!({"id": "calm"})).await;
    let mut stuck = Mux(server.ws_small_buffer("/ws").await);
    stuck.next().await;
    let (mut reader, _) = Mux::open(&server, None).await;
    for mux in [&mut stuck, &mut reader] {
        mux.subscribe(json!({"channel": "loud"})).await;
        mux.subscribe(json!({"channel": "calm"})).await;
    }
    // 4 MB in 50 KB events (far under the queue bound), then quiet.
    let pad = "x".repeat(50_000);
    for batch in 0..8 {
        let events: Vec<Value> = (0..10)
            .map(|i| json!({"data": {"batch": batch, "i": i, "pad": pad}}))
            .collect();
        server.publish("loud", json!({"events": events})).await;
    }
    let frames = reader
        .until("the 80th event", |f| {
            f["data"]["batch"] == 7 && f["data"]["i"] == 9
        })
        .await;
    assert_eq!(frames.len(), 80);
    common::eventually(
        "the stuck socket dropped with both subscriptions",
        || async { server.subscribers("loud").await == 1 && server.subscribers("calm").await == 1 },
    )
    .await;
    let series = "channelhub_slow_consumer_disconnects_total{reason=\"write_timeout\"}";
    assert_eq!(server.metric(series).await, 1.0);
    assert_eq!(server.metric("channelhub_ws_subscriptions").await, 2.0);
    // The other socket carries on.
    let event = server.publish("calm", json!({"data": "after"})).await;
    assert_eq!(reader.next().await, event);
    // The stuck client, reading at last: what the kernel held, then the end
    // (a 4000 close if it fit, else a cut connection), never `unsubscribed`.
    let (code, frames) = stuck.closed().await;
    assert!(
        frames.iter().all(|f| f.get("unsubscribed").is_none()),
        "the socket ended, not a subscription"
    );
    if let Some(code) = code {
        assert_eq!(code, CloseCode::from(4000));
    }
}

/// While the gate answers a command (a store read, here held 2.5 s by the
/// debug hook), the socket still reads: pongs keep it alive through pings
/// every 0.5 s, and the commands that came meanwhile run after it, in order.
async fn the_socket_reads_on_while_a_command_is_checked(backend: Backend) {
    let server = TestServer::start_with(backend, &["--ping-interval", "0.5"]).await;
    server.create_channel(json!({"id": "first"})).await;
    server.create_channel(json!({"id": "second"})).await;
    let slow = server.join_with_env(&[("CHANNELHUB_DEBUG_PAUSE_AFTER_ACCESS_CHECK_MS", "2500")]);
    let (mut mux, _) = Mux::open(&slow, None).await;
    mux.send(json!({"subscribe": {"ref": "a", "channel": "first"}}))
        .await;
    mux.send(json!({"subscribe": {"ref": "b", "channel": "second"}}))
        .await;
    mux.send(json!({"unsubscribe": {"ref": "c", "channel": "never"}}))
        .await;
    let frames = mux
        .until("the answer to the third command", |f| {
            f.get("error").is_some()
        })
        .await;
    let kinds: Vec<String> = frames
        .iter()
        .map(|f| {
            let (kind, body) = f.as_object().unwrap().iter().next().unwrap();
            format!(
                "{kind}:{}",
                body["ref"]
                    .as_str()
                    .or(body["channel"].as_str())
                    .unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "subscribed:a",
            "caught_up:first",
            "subscribed:b",
            "caught_up:second",
            "error:c"
        ]
    );
    let event = slow.publish("second", json!({"data": 1})).await;
    assert_eq!(mux.next().await, event);
}
