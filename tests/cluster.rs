//! Several nodes on one PostgreSQL (SPEC §7): three server processes share a
//! database; events, closes and counts cross between them; a killed node or a
//! cut LISTEN connection loses nothing. Needs `TEST_DATABASE_URL`.

mod common;

use std::{collections::HashSet, time::Duration};

use common::{
    ADMIN, Backend, Deadline, TestServer, eventually, next_text, postgres_available,
    read_until_close,
    receiver::{Behaviour, Receiver},
};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Three nodes on one fresh database, or `None` without PostgreSQL (a
/// failure under CI, a `SKIPPED` line elsewhere).
async fn three_nodes(test: &str, args: &[&str]) -> Option<(TestServer, TestServer, TestServer)> {
    if !postgres_available(&format!("cluster::{test}")) {
        return None;
    }
    let a = TestServer::start_with(Backend::Postgres, args).await;
    let b = a.join();
    let c = a.join();
    Some((a, b, c))
}

fn ids(frames: &[String]) -> Vec<String> {
    frames
        .iter()
        .map(|f| {
            serde_json::from_str::<Value>(f).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_on_one_node_reach_every_node() {
    let Some((a, b, c)) = three_nodes("events_published_on_one_node_reach_every_node", &[]).await
    else {
        return;
    };
    a.create_channel(json!({"id": "shared"})).await;
    let mut on_b = b.ws("/channels/shared/ws").await;
    let mut on_c = c.ws("/channels/shared/ws").await;
    let mut on_a = a.ws("/channels/shared/ws").await;
    // A batch too large for one notification travels by reference.
    let big: Vec<Value> = (0..5)
        .map(|i| json!({"data": {"i": i, "pad": "x".repeat(3000)}}))
        .collect();
    let single = a
        .publish_raw("shared", json!({"type": "t", "data": 1}))
        .await;
    let batch: Value = a.publish("shared", json!({"events": big})).await;
    let mut expected = vec![single];
    expected.extend(
        batch["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.to_string()),
    );
    for socket in [&mut on_a, &mut on_b, &mut on_c] {
        let mut got = Vec::new();
        for _ in 0..expected.len() {
            got.push(next_text(socket).await);
        }
        assert_eq!(got, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_on_every_node_are_seen_once_in_one_order_everywhere() {
    let Some((a, b, c)) = three_nodes(
        "concurrent_publishers_on_every_node_are_seen_once_in_one_order_everywhere",
        &[],
    )
    .await
    else {
        return;
    };
    a.create_channel(json!({"id": "busy"})).await;
    let nodes = [&a, &b, &c];
    let mut sockets = Vec::new();
    for node in nodes {
        sockets.push(node.ws("/channels/busy/ws").await);
    }
    const PER_NODE: usize = 60;
    let publishers = nodes.iter().enumerate().map(|(n, node)| async move {
        for i in 0..PER_NODE {
            let body = if i % 10 == 0 {
                json!({"events": [{"data": {"n": n, "i": i}}, {"data": {"n": n, "i": i, "second": true}}]})
            } else {
                json!({"data": {"n": n, "i": i}})
            };
            let (status, _) = node.call(Method::POST, "/channels/busy/events", Some(ADMIN), Some(body)).await;
            assert_eq!(status, StatusCode::CREATED);
        }
    });
    let total = 3 * (PER_NODE + PER_NODE / 10);
    let pollers = nodes.iter().enumerate().map(|(n, node)| async move {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let deadline = Deadline::after(Duration::from_secs(60));
        while seen.len() < total {
            let path = match &cursor {
                Some(c) => format!("/channels/busy/events?limit=25&wait=5&cursor={c}"),
                None => "/channels/busy/events?limit=25&wait=5".to_owned(),
            };
            deadline.check(|| {
                format!(
                    "the poller on node {n} saw only {} of {total} events",
                    seen.len()
                )
            });
            let (status, page) = deadline
                .within(
                    || {
                        format!(
                            "the poller on node {n} saw only {} of {total} events (a poll was still waiting)",
                            seen.len()
                        )
                    },
                    node.call(Method::GET, &path, None, None),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            for event in page["events"].as_array().unwrap() {
                seen.push(event["id"].as_str().unwrap().to_owned());
            }
            if let Some(next) = page["cursor"].as_str() {
                cursor = Some(next.to_owned());
            }
        }
        seen
    });
    let (polled, _) = tokio::join!(join_all(pollers), join_all(publishers));

    let stored: Vec<String> = a
        .all_events("busy")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored.len(), total);
    assert_eq!(stored.iter().collect::<HashSet<_>>().len(), total);
    for seen in polled {
        assert_eq!(
            seen, stored,
            "every poller saw every event once, in the stored order"
        );
    }
    for socket in &mut sockets {
        let mut frames = Vec::new();
        for _ in 0..total {
            frames.push(next_text(socket).await);
        }
        assert_eq!(
            ids(&frames),
            stored,
            "every node delivered the same order live"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_privacy_and_deletion_reach_every_node() {
    let Some((a, b, c)) =
        three_nodes("revocation_privacy_and_deletion_reach_every_node", &[]).await
    else {
        return;
    };
    a.create_channel(json!({"id": "vault", "is_public": false}))
        .await;
    let (token, info) = a.create_token("vault", "subscribe", json!({})).await;
    // C verifies (and caches) the token, and holds a socket with it.
    let read = |node: &TestServer| {
        let path = "/channels/vault/events".to_owned();
        let token = token.clone();
        let http = node.http.clone();
        let url = node.url(&path);
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(read(&c).await, StatusCode::OK);
    let mut on_c = c.ws(&format!("/channels/vault/ws?token={token}")).await;
    a.call(
        Method::DELETE,
        &format!("/channels/vault/tokens/{}", info["id"].as_str().unwrap()),
        Some(ADMIN),
        None,
    )
    .await;
    let (code, reason, _) = read_until_close(&mut on_c).await;
    assert_eq!(
        (code, reason.as_str()),
        (Some(CloseCode::Policy), "token revoked")
    );
    assert_eq!(
        read(&c).await,
        StatusCode::UNAUTHORIZED,
        "C's verification cache was cleared"
    );

    a.create_channel(json!({"id": "going-private"})).await;
    let mut anonymous_on_b = b.ws("/channels/going-private/ws").await;
    c.call(
        Method::PATCH,
        "/channels/going-private",
        Some(ADMIN),
        Some(json!({"is_public": false})),
    )
    .await;
    let (code, _, _) = read_until_close(&mut anonymous_on_b).await;
    assert_eq!(code, Some(CloseCode::Policy));

    a.create_channel(json!({"id": "doomed"})).await;
    let mut on_b = b.ws("/channels/doomed/ws").await;
    a.call(Method::DELETE, "/channels/doomed", Some(ADMIN), None)
        .await;
    let (code, reason, _) = read_until_close(&mut on_b).await;
    assert_eq!(
        (code, reason.as_str()),
        (Some(CloseCode::Normal), "channel deleted")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_counts_span_nodes() {
    let Some((a, b, c)) = three_nodes("subscriber_counts_span_nodes", &[]).await else {
        return;
    };
    a.create_channel(json!({"id": "counted"})).await;
    let mut sockets = Vec::new();
    for node in [&a, &a, &b, &b, &b] {
        sockets.push(node.ws("/channels/counted/ws").await);
    }
    eventually("C counts the subscribers of A and B", || async {
        c.call(Method::GET, "/channels/counted", None, None).await.1["subscribers"] == 5
    })
    .await;
    sockets.truncate(1);
    eventually(
        "closed sockets drop out of the count everywhere",
        || async {
            c.call(Method::GET, "/channels/counted", None, None).await.1["subscribers"] == 1
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_does_not_stop_the_others() {
    let Some((a, mut b, c)) = three_nodes("a_killed_node_does_not_stop_the_others", &[]).await
    else {
        return;
    };
    a.create_channel(json!({"id": "survivors"})).await;
    let mut on_c = c.ws("/channels/survivors/ws").await;
    let _on_b = b.ws("/channels/survivors/ws").await;
    b.crash();
    let body = a
        .publish_raw("survivors", json!({"data": "still here"}))
        .await;
    assert_eq!(next_text(&mut on_c).await, body);
    let (status, _) = c
        .call(
            Method::POST,
            "/channels/survivors/events",
            Some(ADMIN),
            Some(json!({"data": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_listen_connection_loses_no_event() {
    let Some((a, b, c)) = three_nodes("a_cut_listen_connection_loses_no_event", &[]).await else {
        return;
    };
    a.create_channel(json!({"id": "steady"})).await;
    let mut sockets = Vec::new();
    for node in [&a, &b, &c] {
        sockets.push(node.ws("/channels/steady/ws").await);
    }
    const EVENTS: usize = 150;
    let publisher = async {
        let mut published = Vec::new();
        for i in 0..EVENTS {
            let node = [&a, &b, &c][i % 3];
            let (status, event) = node
                .call(
                    Method::POST,
                    "/channels/steady/events",
                    Some(ADMIN),
                    Some(json!({"data": i})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED);
            published.push(event["id"].as_str().unwrap().to_owned());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        published
    };
    // Mid-stream, terminate every node's LISTEN connection, twice.
    let cutter = async {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&a.db.url)
            .await
            .unwrap();
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let cut: Vec<(bool,)> = sqlx::query_as(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'channelhub-bus' AND datname = current_database()",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            assert_eq!(cut.len(), 3, "one LISTEN connection per node was cut");
        }
    };
    let (published, ()) = tokio::join!(publisher, cutter);
    for socket in &mut sockets {
        let mut frames = Vec::new();
        for _ in 0..EVENTS {
            frames.push(next_text(socket).await);
        }
        assert_eq!(
            ids(&frames),
            published,
            "no gap and no duplicate after reconnecting"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_jobs_are_delivered_once_across_nodes() {
    let Some((a, b, c)) = three_nodes(
        "webhook_jobs_are_delivered_once_across_nodes",
        &["--allow-private-webhooks", "--webhook-retry-base", "0.05"],
    )
    .await
    else {
        return;
    };
    a.create_channel(json!({"id": "hooked"})).await;
    let receiver = Receiver::start(Behaviour::default()).await;
    let (status, hook) = a
        .call(
            Method::POST,
            "/channels/hooked/webhooks",
            None,
            Some(json!({"url": receiver.url})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let mut published = Vec::new();
    for i in 0..30 {
        let node = [&a, &b, &c][i % 3];
        let (_, event) = node
            .call(
                Method::POST,
                "/channels/hooked/events",
                Some(ADMIN),
                Some(json!({"data": i})),
            )
            .await;
        published.push(event.to_string());
    }
    // What the nodes report rather than a quiet pause: every attempt is
    // logged (the log is shared) and counted by the node that made it, so a
    // duplicate delivery by a second node would be a 31st logged attempt and
    // a 31st count, and a request the receiver saw beyond the logged ones.
    let deliveries = format!(
        "/channels/hooked/webhooks/{}/deliveries",
        hook["id"].as_str().unwrap()
    );
    let logged = || async {
        let (status, attempts) = a.call(Method::GET, &deliveries, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::OK, "{attempts}");
        attempts.as_array().unwrap().clone()
    };
    eventually("30 delivery attempts are logged", || async {
        logged().await.len() >= 30
    })
    .await;
    let mut counted = 0.0;
    for node in [&a, &b, &c] {
        counted += node
            .metric("channelhub_webhook_attempts_total{outcome=\"success\"}")
            .await;
    }
    let attempts = logged().await;
    assert_eq!(
        attempts.len(),
        30,
        "one logged attempt per event: {attempts:?}"
    );
    assert!(
        attempts
            .iter()
            .all(|a| a["outcome"] == "success" && a["attempt"] == 1),
        "{attempts:?}"
    );
    assert_eq!(counted, 30.0, "the nodes together made 30 attempts");
    let hooks = a
        .call(Method::GET, "/channels/hooked/webhooks", Some(ADMIN), None)
        .await
        .1;
    assert!(hooks[0]["last_success_at"].is_string(), "{hooks}");
    assert_eq!(
        receiver.started(),
        30,
        "the receiver got exactly the 30 logged attempts"
    );
    assert_eq!(
        receiver.delivered(),
        published,
        "each event once, in order, whichever node delivers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_on_many_channels_across_nodes_never_conflict() {
    let Some((a, b, c)) = three_nodes(
        "publishers_on_many_channels_across_nodes_never_conflict",
        &[],
    )
    .await
    else {
        return;
    };
    let channels = ["chan-a", "chan-b", "chan-c", "chan-d"];
    for id in channels {
        a.create_channel(json!({"id": id})).await;
    }
    // Every node commits groups that touch several channels, in every order.
    let publishers = [&a, &b, &c].into_iter().flat_map(|node| {
        (0..4).map(move |worker| async move {
            let mut failures = Vec::new();
            for i in 0..25 {
                let channel = channels[(worker + i) % channels.len()];
                let path = format!("/channels/{channel}/events");
                let (status, body) = node
                    .call(Method::POST, &path, Some(ADMIN), Some(json!({"data": i})))
                    .await;
                if status != StatusCode::CREATED {
                    failures.push(body);
                }
            }
            failures
        })
    });
    let failures: Vec<Value> = join_all(publishers).await.into_iter().flatten().collect();
    assert!(failures.is_empty(), "publishes failed: {failures:?}");
    let mut total = 0;
    for id in channels {
        total += a.all_events(id).await.len();
    }
    assert_eq!(total, 3 * 4 * 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_on_two_nodes_stores_once() {
    let Some((a, b, _c)) = three_nodes("one_idempotency_key_on_two_nodes_stores_once", &[]).await
    else {
        return;
    };
    a.create_channel(json!({"id": "orders"})).await;
    let body = json!({"type": "order", "data": {"sku": 42}});
    let attempts = (0..12).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        node.http
            .post(node.url("/channels/orders/events"))
            .bearer_auth(ADMIN)
            .header("Idempotency-Key", "order-42")
            .json(&body)
            .send()
    });
    let mut ids = HashSet::new();
    for response in join_all(attempts).await {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let event: Value = response.json().await.unwrap();
        ids.insert(event["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "both nodes answer with the one stored event");
    assert_eq!(a.all_events("orders").await.len(), 1);
}

/// `GET /api/v1/status` (admin) answers for every node sharing the
/// database, from any node: each up while it reports, a stopped one `stale`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_answers_for_the_whole_cluster() {
    let Some((a, mut b, mut c)) =
        three_nodes("every_node_answers_for_the_whole_cluster", &[]).await
    else {
        return;
    };
    let node_id = |body: &Value| -> String {
        let this: Vec<&Value> = body["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["this_node"] == true)
            .collect();
        assert_eq!(this.len(), 1, "{body}");
        this[0]["node_id"].as_str().unwrap().to_owned()
    };
    let ids = [
        node_id(&status(&a).await),
        node_id(&status(&b).await),
        node_id(&status(&c).await),
    ];
    eventually("every node sees all three up", || async {
        for server in [&a, &b] {
            let body = status(server).await;
            let up: HashSet<String> = body["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["state"] == "up")
                .map(|n| n["node_id"].as_str().unwrap().to_owned())
                .collect();
            if !ids.iter().all(|id| up.contains(id)) {
                return false;
            }
        }
        true
    })
    .await;
    let body = status(&a).await;
    assert_eq!(body["database_ready"], true);
    // Only the admin token.
    let (code, _) = a.call(Method::GET, "/status", None, None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    // A node that crashes is shown stale by the others; one that stops in
    // order removes itself.
    c.crash();
    eventually("the crashed node is stale", || async {
        status(&a).await["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["node_id"] == ids[2].as_str() && n["state"] == "stale")
    })
    .await;
    b.stop();
    eventually("the stopped node is gone", || async {
        !status(&a).await["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["node_id"] == ids[1].as_str())
    })
    .await;
}

async fn status(server: &TestServer) -> Value {
    let (code, body) = server.call(Method::GET, "/status", Some(ADMIN), None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body
}
