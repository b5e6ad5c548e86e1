//! Webhooks (SPEC §5): registration rules, signed at-least-once delivery to a
//! real local HTTP receiver, retries, restarts, isolation, disabling, TTL and
//! the SSRF guard, on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use common::{
    ADMIN, Backend, TestServer, eventually,
    receiver::{Behaviour, Received, Receiver},
};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

on_both_backends!(
    registration_rules,
    targets_on_private_addresses_are_refused,
    deliveries_are_signed_and_filtered,
    failing_receiver_gets_everything_in_order,
    retry_after_is_honoured,
    deliveries_survive_a_restart_while_the_receiver_is_down,
    a_delivery_cut_by_a_graceful_stop_is_retried_after_restart,
    slow_receiver_does_not_delay_a_fast_one,
    failing_webhook_is_disabled,
    expired_webhooks_stop_and_are_removed,
    slow_targets_time_out,
    redirects_are_failures_and_not_followed,
    private_targets_are_refused_at_delivery_time,
    the_backlog_gauge_counts_waiting_deliveries,
);

const FAST_RETRIES: &[&str] = &[
    "--allow-private-webhooks",
    "--webhook-retry-base",
    "0.05",
    "--webhook-retry-max",
    "0.5",
];

/// The webhook's logged attempts, once there are `count` of them (a receiver
/// can see a delivery a moment before the server has logged it).
async fn logged_attempts(
    server: &TestServer,
    channel: &str,
    hook: &Value,
    count: usize,
) -> Vec<Value> {
    let path = format!(
        "/channels/{channel}/webhooks/{}/deliveries",
        hook["id"].as_str().unwrap()
    );
    let fetch = || async { server.call(Method::GET, &path, Some(ADMIN), None).await.1 };
    eventually("every attempt is logged", || async {
        fetch().await.as_array().unwrap().len() == count
    })
    .await;
    fetch().await.as_array().unwrap().clone()
}

async fn registration_rules(backend: Backend) {
    let server = TestServer::start_with(backend, FAST_RETRIES).await;
    server.create_channel(json!({"id": "public-feed"})).await;
    server
        .create_channel(json!({"id": "private-feed", "is_public": false}))
        .await;
    let url = "http://127.0.0.1:9/hook";

    let (status, created) = server
        .register_webhook("public-feed", None, json!({"url": url}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["state"], "active");
    assert_eq!(created["event_types"], Value::Null);
    assert_eq!(created["url"], url);

    // Same URL again: same webhook, filter and TTL updated, secret not shown again.
    let (status, again) = server
        .register_webhook(
            "public-feed",
            None,
            json!({"url": url, "event_types": ["a"], "ttl_seconds": 60}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], created["id"]);
    assert_eq!(again["event_types"], json!(["a"]));
    assert!(again.get("secret").is_none(), "{again}");
    assert!(again["expires_at"].as_str() < created["expires_at"].as_str());
    assert_eq!(server.webhooks("public-feed").await.len(), 1);

    // Private channels: a subscribe token or admin.
    let (reader, _) = server
        .create_token("private-feed", "subscribe", json!({}))
        .await;
    let (writer, _) = server
        .create_token("private-feed", "publish", json!({}))
        .await;
    assert_eq!(
        server
            .register_webhook("private-feed", None, json!({"url": url}))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .register_webhook("private-feed", Some(&writer), json!({"url": url}))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .register_webhook("private-feed", Some(&reader), json!({"url": url}))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        server
            .register_webhook("missing", None, json!({"url": url}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    for bad in [
        json!({"url": "ftp://127.0.0.1/x"}),
        json!({"url": "nope"}),
        // An RFC 3986 URI (what the document's `format: uri` allows) that
        // the WHATWG URL standard refuses: a rule stated in words (issue 23).
        json!({"url": "http://127.0.0.1:99999/x"}),
        json!({}),
        json!({"url": url, "ttl_seconds": 0}),
    ] {
        let (status, problem) = server
            .register_webhook("public-feed", None, bad.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
    }

    // Listing, deliveries and deleting are admin-only.
    let id = created["id"].as_str().unwrap();
    let path = format!("/channels/public-feed/webhooks/{id}");
    assert_eq!(
        server
            .call(Method::GET, "/channels/public-feed/webhooks", None, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .call(
                Method::GET,
                &format!("{path}/deliveries"),
                Some(&reader),
                None
            )
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, deliveries) = server
        .call(
            Method::GET,
            &format!("{path}/deliveries"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!((status, deliveries), (StatusCode::OK, json!([])));
    assert_eq!(
        server.call(Method::DELETE, &path, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .call(Method::DELETE, &path, Some(ADMIN), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server
            .call(Method::DELETE, &path, Some(ADMIN), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .call(
                Method::GET,
                &format!("{path}/deliveries"),
                Some(ADMIN),
                None
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // At most 100 per channel, whoever registers (the admin here: anonymous
    // callers have a smaller bound of their own).
    for i in 0..100 {
        let (status, _) = server
            .register_webhook(
                "public-feed",
                Some(ADMIN),
                json!({"url": format!("http://127.0.0.1:9/hook/{i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, problem) = server
        .register_webhook(
            "public-feed",
            Some(ADMIN),
            json!({"url": "http://127.0.0.1:9/one-too-many"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    // Re-registering an existing URL still works at the limit.
    let (status, _) = server
        .register_webhook(
            "public-feed",
            Some(ADMIN),
            json!({"url": "http://127.0.0.1:9/hook/7"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn targets_on_private_addresses_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "guarded"})).await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hook",
        "http://localhost:8080/hook",
        "http://192.168.1.10/hook",
    ] {
        let (status, problem) = server
            .register_webhook("guarded", None, json!({"url": url}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("allow-private-webhooks"),
            "{problem}"
        );
    }
    assert!(server.webhooks("guarded").await.is_empty());
}

/// Checks the Standard Webhooks headers of a delivery, independently of the
/// server's code: HMAC-SHA256 with the secret, Ed25519 with the published key.
fn verify_signature(received: &Received, secret: &str, public_key: &VerifyingKey) {
    let header = |name: &str| {
        received
            .headers
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let id = header("webhook-id");
    let timestamp = header("webhook-timestamp");
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "timestamp is current");
    let signed = format!("{id}.{timestamp}.{}", received.body);

    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected_hmac = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));

    let signatures = header("webhook-signature");
    let entries: Vec<&str> = signatures.split(' ').collect();
    assert!(entries.contains(&expected_hmac.as_str()), "{signatures}");
    let ed25519 = entries
        .iter()
        .find_map(|e| e.strip_prefix("v1a,"))
        .expect("a v1a entry");
    let signature = Signature::from_slice(&STANDARD.decode(ed25519).unwrap()).unwrap();
    public_key
        .verify(signed.as_bytes(), &signature)
        .expect("the Ed25519 signature verifies with the published key");
}

async fn deliveries_are_signed_and_filtered(backend: Backend) {
    let server = TestServer::start_with(backend, FAST_RETRIES).await;
    server.create_channel(json!({"id": "signed"})).await;
    let all = Receiver::start(Behaviour::default()).await;
    let only_a = Receiver::start(Behaviour::default()).await;
    let (_, hook_all) = server
        .register_webhook("signed", None, json!({"url": all.url}))
        .await;
    let (_, hook_a) = server
        .register_webhook(
            "signed",
            None,
            json!({"url": only_a.url, "event_types": ["a"]}),
        )
        .await;

    let mut published = Vec::new();
    for body in [
        json!({"type": "a", "data": {"n": 1}}),
        json!({"type": "b", "data": 2}),
        json!({"data": [3]}),
    ] {
        published.push(server.publish_raw("signed", body).await);
    }
    eventually("every event reaches the unfiltered webhook", || async {
        all.delivered().len() == 3
    })
    .await;
    eventually("the filtered webhook gets type a", || async {
        only_a.delivered().len() == 1
    })
    .await;
    assert_eq!(
        all.delivered(),
        published,
        "bodies are the event JSON, in order"
    );
    assert_eq!(only_a.delivered(), published[..1]);

    let identity = server.root_json("/.well-known/channelhub.json").await;
    assert!(
        identity["server_id"].is_string() && identity["version"].is_string(),
        "{identity}"
    );
    let key_b64 = identity["webhook_public_key"]
        .as_str()
        .unwrap()
        .strip_prefix("whpk_")
        .unwrap();
    let key_bytes: [u8; 32] = STANDARD.decode(key_b64).unwrap().try_into().unwrap();
    let public_key = VerifyingKey::from_bytes(&key_bytes).unwrap();
    let secret = hook_all["secret"].as_str().unwrap();
    for (received, body) in all.received().iter().zip(&published) {
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            received.headers["webhook-id"],
            event["id"].as_str().unwrap()
        );
        assert_eq!(received.headers["content-type"], "application/json");
        verify_signature(received, secret, &public_key);
    }
    // Each webhook's deliveries are signed with its own secret: the server
    // signed the filtered webhook's copy of the same event with the other
    // secret, so the first webhook's secret must not verify it.
    let secret_a = hook_a["secret"].as_str().unwrap();
    assert_ne!(secret_a, secret, "every webhook gets a secret of its own");
    let copy_for_a = &only_a.received()[0];
    assert_eq!(
        copy_for_a.headers["webhook-id"],
        all.received()[0].headers["webhook-id"]
    );
    verify_signature(copy_for_a, secret_a, &public_key);
    let wrong_key = std::panic::catch_unwind(|| verify_signature(copy_for_a, secret, &public_key));
    assert!(
        wrong_key.is_err(),
        "the filtered webhook's delivery was signed with the other webhook's secret"
    );

    let attempts = logged_attempts(&server, "signed", &hook_all, 3).await;
    assert!(
        attempts
            .iter()
            .all(|a| a["outcome"] == "success" && a["status"] == Value::Null && a["attempt"] == 1)
    );
}

async fn failing_receiver_gets_everything_in_order(backend: Backend) {
    let server = TestServer::start_with(backend, FAST_RETRIES).await;
    server.create_channel(json!({"id": "flaky"})).await;
    let receiver = Receiver::start(Behaviour {
        fail_first: 4,
        ..Behaviour::default()
    })
    .await;
    let (_, hook) = server
        .register_webhook("flaky", None, json!({"url": receiver.url}))
        .await;
    let mut published = Vec::new();
    for i in 0..6 {
        published.push(server.publish_raw("flaky", json!({"data": i})).await);
    }
    eventually("every event is delivered despite failures", || async {
        receiver.delivered().len() == 6
    })
    .await;
    assert_eq!(
        receiver.delivered(),
        published,
        "each exactly once, in publish order"
    );
    let failed: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.answered == 500)
        .collect();
    assert_eq!(failed.len(), 4);
    assert!(
        failed.iter().all(|r| r.body == published[0]),
        "the head event is retried before any later one"
    );

    let attempts = logged_attempts(&server, "flaky", &hook, 10).await;
    let errors: Vec<_> = attempts
        .iter()
        .filter(|a| a["outcome"] == "http_error")
        .collect();
    assert_eq!(errors.len(), 4);
    assert!(errors.iter().all(|a| a["status"] == 500));
    assert_eq!(
        attempts
            .iter()
            .map(|a| a["attempt"].as_i64().unwrap())
            .max(),
        Some(5)
    );
    let metrics = server
        .http
        .get(format!("http://{}/metrics", server.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (series, count) in [
        (
            "channelhub_webhook_attempts_total{outcome=\"success\"} ",
            "6",
        ),
        (
            "channelhub_webhook_attempts_total{outcome=\"http_error\"} ",
            "4",
        ),
    ] {
        assert!(
            metrics.lines().any(|l| l == format!("{series}{count}")),
            "{series}: {metrics}"
        );
    }
    let hooks = server.webhooks("flaky").await;
    assert_eq!(hooks[0]["state"], "active");
    assert_eq!(
        hooks[0]["last_error"],
        Value::Null,
        "a success clears the error"
    );
    assert!(hooks[0]["last_success_at"].is_string());
}

async fn retry_after_is_honoured(backend: Backend) {
    let server = TestServer::start_with(backend, FAST_RETRIES).await;
    // README: "a `Retry-After` (seconds) on a 429 or 503 is honoured".
    let check = |status: u16| {
        let server = &server;
        async move {
            let channel = format!("busy-target-{status}");
            server.create_channel(json!({"id": channel})).await;
            let receiver = Receiver::start(Behaviour {
                retry_after_first: Some(1),
                retry_after_status: Some(status),
                ..Behaviour::default()
            })
            .await;
            server
                .register_webhook(&channel, None, json!({"url": receiver.url}))
                .await;
            server.publish(&channel, json!({"data": 1})).await;
            eventually("the event is delivered after the pause", || async {
                receiver.delivered().len() == 1
            })
            .await;
            let received = receiver.received();
            assert_eq!(received[0].answered, status);
            let pause = received[1].at - received[0].at;
            // The backoff alone would be under 0.1 s.
            assert!(
                pause >= Duration::from_millis(950),
                "{status}: retried after {pause:?}"
            );
        }
    };
    tokio::join!(check(429), check(503));
}

/// An attempt that outlives `--webhook-timeout` is logged as `timeout`, and
/// retried.
async fn slow_targets_time_out(backend: Backend) {
    let mut args = FAST_RETRIES.to_vec();
    args.extend(["--webhook-timeout", "0.3"]);
    let server = TestServer::start_with(backend, &args).await;
    server.create_channel(json!({"id": "sluggish"})).await;
    let receiver = Receiver::start(Behaviour {
        delay: Duration::from_secs(2),
        ..Behaviour::default()
    })
    .await;
    server
        .register_webhook("sluggish", None, json!({"url": receiver.url}))
        .await;
    let event = server.publish_raw("sluggish", json!({"data": 1})).await;
    let id = hook_id(&server, "sluggish").await;
    eventually("an attempt is logged as a timeout", || async {
        deliveries(&server, "sluggish", &id)
            .await
            .iter()
            .any(|a| a["outcome"] == "timeout")
    })
    .await;
    let log = deliveries(&server, "sluggish", &id).await;
    let timed_out = log.iter().find(|a| a["outcome"] == "timeout").unwrap();
    assert_eq!(timed_out["status"], Value::Null, "{timed_out}");
    assert!(
        timed_out["duration_ms"].as_i64().unwrap() < 1500,
        "cut at the timeout, not after the receiver's 2 s: {timed_out}"
    );
    assert!(
        server
            .metric("channelhub_webhook_attempts_total{outcome=\"timeout\"}")
            .await
            >= 1.0
    );
    // A receiver that answers in time again gets the event.
    receiver.set_behaviour(Behaviour::default());
    eventually("the timed-out event is retried and delivered", || async {
        receiver.delivered().contains(&event)
    })
    .await;
}

/// README: "Redirects are not followed (a 3xx is a failure)".
async fn redirects_are_failures_and_not_followed(backend: Backend) {
    let server = TestServer::start_with(backend, FAST_RETRIES).await;
    server.create_channel(json!({"id": "moved"})).await;
    let elsewhere = Receiver::start(Behaviour::default()).await;
    let receiver = Receiver::start(Behaviour {
        answer_status: Some(302),
        location: Some(elsewhere.url.clone()),
        ..Behaviour::default()
    })
    .await;
    server
        .register_webhook("moved", None, json!({"url": receiver.url}))
        .await;
    server.publish("moved", json!({"data": 1})).await;
    let id = hook_id(&server, "moved").await;
    eventually("two failed attempts are logged", || async {
        deliveries(&server, "moved", &id).await.len() >= 2
    })
    .await;
    let log = deliveries(&server, "moved", &id).await;
    assert!(
        log.iter()
            .all(|a| a["outcome"] == "http_error" && a["status"] == 302),
        "{log:?}"
    );
    // Had the first attempt followed the redirect, `elsewhere` would have been
    // called before it was logged.
    assert_eq!(elsewhere.started(), 0, "the redirect was followed");
    let hooks = server.webhooks("moved").await;
    assert!(
        hooks[0]["last_error"].as_str().unwrap().contains("302"),
        "{}",
        hooks[0]
    );
    assert!(hooks[0]["failing_since"].is_string(), "{}", hooks[0]);
}

/// A target that was allowed at registration is refused at delivery time
/// once the server runs without `--allow-private-webhooks`: the guard runs
/// on every delivery, and logs `refused`.
async fn private_targets_are_refused_at_delivery_time(backend: Backend) {
    let mut server = TestServer::start_with(backend, FAST_RETRIES).await;
    server.create_channel(json!({"id": "guarded-late"})).await;
    let receiver = Receiver::start(Behaviour::default()).await;
    let (status, hook) = server
        .register_webhook("guarded-late", None, json!({"url": receiver.url}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    assert!(server.stop().success());
    server.restart_with(&["--webhook-retry-base", "0.05", "--webhook-retry-max", "0.5"]);
    server.publish("guarded-late", json!({"data": 1})).await;
    let id = hook["id"].as_str().unwrap();
    eventually("two refused attempts are logged", || async {
        deliveries(&server, "guarded-late", id).await.len() >= 2
    })
    .await;
    let log = deliveries(&server, "guarded-late", id).await;
    assert!(
        log.iter()
            .all(|a| a["outcome"] == "refused" && a["status"] == Value::Null),
        "{log:?}"
    );
    // Refused before connecting: the receiver never saw a request.
    assert_eq!(receiver.started(), 0);
    assert!(
        server
            .metric("channelhub_webhook_attempts_total{outcome=\"refused\"}")
            .await
            >= 2.0
    );
}

async fn deliveries_survive_a_restart_while_the_receiver_is_down(backend: Backend) {
    let mut server = TestServer::start_with(backend, FAST_RETRIES).await;
    server.create_channel(json!({"id": "patient"})).await;
    // Reserve a port, then leave nothing listening on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let (_, hook) = server
        .register_webhook("patient", None, json!({"url": url}))
        .await;
    let mut published = Vec::new();
    for i in 0..5 {
        published.push(server.publish_raw("patient", json!({"data": i})).await);
    }
    let deliveries = format!(
        "/channels/patient/webhooks/{}/deliveries",
        hook["id"].as_str().unwrap()
    );
    eventually("attempts fail while the receiver is down", || async {
        let (_, attempts) = server
            .call(Method::GET, &deliveries, Some(ADMIN), None)
            .await;
        attempts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["outcome"] == "network_error")
    })
    .await;
    assert!(server.stop().success());

    let receiver = Receiver::start_on(&format!("127.0.0.1:{port}"), Behaviour::default()).await;
    server.restart();
    eventually("the queued deliveries resume after the restart", || async {
        receiver.delivered().len() == 5
    })
    .await;
    assert_eq!(receiver.delivered(), published);
}

async fn a_delivery_cut_by_a_graceful_stop_is_retried_after_restart(backend: Backend) {
    // A 60 s timeout leases an in-flight job for 65 s: only a released lease
    // lets the restarted server retry within the 30 s this test waits.
    let mut args = FAST_RETRIES.to_vec();
    args.extend(["--webhook-timeout", "60"]);
    let mut server = TestServer::start_with(backend, &args).await;
    server.create_channel(json!({"id": "interrupted"})).await;
    let receiver = Receiver::start(Behaviour {
        delay: Duration::from_secs(3),
        ..Behaviour::default()
    })
    .await;
    server
        .register_webhook("interrupted", None, json!({"url": receiver.url}))
        .await;
    let event = server
        .publish_raw("interrupted", json!({"data": "in flight"}))
        .await;
    eventually("the delivery is in flight", || async {
        receiver.started() == 1
    })
    .await;
    assert!(server.stop().success());
    server.restart();
    eventually("the restarted server retries the cut delivery", || async {
        receiver.started() >= 2
    })
    .await;
    eventually("it is delivered", || async {
        receiver.delivered().contains(&event)
    })
    .await;
}

async fn slow_receiver_does_not_delay_a_fast_one(backend: Backend) {
    let server = TestServer::start_with(backend, FAST_RETRIES).await;
    server.create_channel(json!({"id": "mixed"})).await;
    let slow = Receiver::start(Behaviour {
        delay: Duration::from_secs(2),
        ..Behaviour::default()
    })
    .await;
    let fast = Receiver::start(Behaviour::default()).await;
    server
        .register_webhook("mixed", None, json!({"url": slow.url}))
        .await;
    server
        .register_webhook("mixed", None, json!({"url": fast.url}))
        .await;
    for i in 0..4 {
        server.publish("mixed", json!({"data": i})).await;
    }
    eventually("the fast receiver gets everything", || async {
        fast.delivered().len() == 4
    })
    .await;
    assert!(
        slow.delivered().len() < 4,
        "the slow receiver takes 2 s a delivery, one at a time"
    );
    eventually("the slow receiver gets everything too", || async {
        slow.delivered().len() == 4
    })
    .await;
}

async fn failing_webhook_is_disabled(backend: Backend) {
    let mut args = FAST_RETRIES.to_vec();
    args.extend(["--webhook-disable-after", "1"]);
    let server = TestServer::start_with(backend, &args).await;
    server.create_channel(json!({"id": "broken"})).await;
    let receiver = Receiver::start(Behaviour {
        always_fail: true,
        ..Behaviour::default()
    })
    .await;
    server
        .register_webhook("broken", None, json!({"url": receiver.url}))
        .await;
    server.publish("broken", json!({"data": 1})).await;
    eventually(
        "the webhook is disabled after failing for over a second",
        || async { server.webhooks("broken").await[0]["state"] == "disabled" },
    )
    .await;
    let hook = &server.webhooks("broken").await[0];
    assert!(
        hook["last_error"].as_str().unwrap().contains("500"),
        "{hook}"
    );
    assert!(hook["failing_since"].is_string());

    // A disabled webhook gets nothing more, and its queue was dropped: the
    // events behind the failing head (2, 3) and one published while it is
    // disabled (4) are never delivered. Proved by what the server does next,
    // not by a quiet pause: once the receiver answers 200 and the URL is
    // registered again, deliveries are in order per webhook, so the first
    // thing delivered must be event 5, published after re-activation.
    let id = hook_id(&server, "broken").await;
    let _queued = [
        server.publish_raw("broken", json!({"data": 2})).await,
        server.publish_raw("broken", json!({"data": 3})).await,
    ];
    let attempts_when_disabled = deliveries(&server, "broken", &id).await.len();
    let while_disabled = server
        .publish_raw("broken", json!({"data": "while disabled"}))
        .await;
    receiver.set_behaviour(Behaviour::default());
    let (status, again) = server
        .register_webhook("broken", None, json!({"url": receiver.url}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["state"], "active");
    let after = server
        .publish_raw("broken", json!({"data": "after re-activation"}))
        .await;
    eventually(
        "the event published after re-activation is delivered",
        || async { !receiver.delivered().is_empty() },
    )
    .await;
    assert_eq!(
        receiver.delivered(),
        vec![after.clone()],
        "nothing queued before or during the disabled state is delivered"
    );
    assert!(!receiver.delivered().contains(&while_disabled));
    eventually("the delivery is logged", || async {
        deliveries(&server, "broken", &id).await.len() > attempts_when_disabled
    })
    .await;
    let log = deliveries(&server, "broken", &id).await;
    assert_eq!(
        log.len(),
        attempts_when_disabled + 1,
        "one attempt since the webhook was disabled: {log:?}"
    );
    // Newest first.
    assert_eq!(
        (&log[0]["event_id"], &log[0]["outcome"]),
        (
            &serde_json::from_str::<Value>(&after).unwrap()["id"],
            &json!("success")
        )
    );
}

async fn hook_id(server: &TestServer, channel: &str) -> String {
    server.webhooks(channel).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The webhook's delivery log now.
async fn deliveries(server: &TestServer, channel: &str, id: &str) -> Vec<Value> {
    let (status, log) = server
        .call(
            Method::GET,
            &format!("/channels/{channel}/webhooks/{id}/deliveries"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    log.as_array().unwrap().clone()
}

async fn expired_webhooks_stop_and_are_removed(backend: Backend) {
    let server = TestServer::start_with(backend, FAST_RETRIES).await;
    server.create_channel(json!({"id": "fleeting"})).await;
    let receiver = Receiver::start(Behaviour::default()).await;
    server
        .register_webhook(
            "fleeting",
            None,
            json!({"url": receiver.url, "ttl_seconds": 1}),
        )
        .await;
    server.publish("fleeting", json!({"data": "in time"})).await;
    eventually("delivered while live", || async {
        receiver.delivered().len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    server
        .publish("fleeting", json!({"data": "too late"}))
        .await;
    eventually("an expired webhook is cleaned up", || async {
        server.webhooks("fleeting").await.is_empty()
    })
    .await;
    assert_eq!(
        receiver.delivered().len(),
        1,
        "nothing is delivered after expiry"
    );
}

/// `channelhub_webhook_backlog`: deliveries waiting in the shared queue
/// (here a receiver that keeps failing, retried slowly), and none once the
/// webhook is deleted.
async fn the_backlog_gauge_counts_waiting_deliveries(backend: Backend) {
    let server = TestServer::start_with(backend, &["--allow-private-webhooks"]).await;
    server.create_channel(json!({"id": "backlog"})).await;
    let receiver = Receiver::start(Behaviour {
        fail_first: 1_000_000,
        ..Behaviour::default()
    })
    .await;
    server
        .register_webhook("backlog", None, json!({"url": receiver.url}))
        .await;
    let hook = hook_id(&server, "backlog").await;
    assert_eq!(server.metric("channelhub_webhook_backlog").await, 0.0);
    for i in 0..3 {
        server.publish_raw("backlog", json!({"data": i})).await;
    }
    eventually("three deliveries wait", || async {
        server.metric("channelhub_webhook_backlog").await == 3.0
    })
    .await;
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/channels/backlog/webhooks/{hook}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    eventually("nothing waits once the webhook is gone", || async {
        server.metric("channelhub_webhook_backlog").await == 0.0
    })
    .await;
}
