//! Reproduces the adversarial review's findings about webhooks and stored
//! data, each as an attacker or user would meet it over HTTP: who a webhook
//! delivers for, bounds on what is stored (webhook URLs, event `meta`), the
//! anonymous webhook bound, refreshing revoked webhooks, idempotency keys
//! (non-ASCII keys, retries after deletion or a change of strict types),
//! existence oracles, and single-event deletion versus gaps; on SQLite and
//! PostgreSQL.

mod common;

use common::{
    ADMIN, Backend, TestServer, assert_problem, eventually,
    receiver::{Behaviour, Receiver},
};
use reqwest::{Method, StatusCode, header::HeaderValue};
use serde_json::{Value, json};

on_both_backends!(
    webhooks_deliver_only_for_registrants_who_may_read,
    publish_tokens_register_as_anonymous,
    an_expired_registrant_gets_nothing_before_the_sweep,
    stored_webhook_urls_are_bounded,
    revoked_webhooks_do_not_count_toward_the_anonymous_bound,
    revoked_webhooks_are_not_revived_by_a_refresh,
    non_ascii_idempotency_keys_are_refused,
    a_retry_whose_events_were_deleted_is_gone,
    a_retry_after_strict_types_changed_answers_the_first_result,
    deleting_events_of_a_private_channel_is_no_oracle,
    metrics_name_no_tokens,
    deleting_one_event_is_not_a_gap,
    event_meta_is_bounded,
);

async fn webhook(server: &TestServer, channel: &str, id: &Value) -> Value {
    server
        .webhooks(channel)
        .await
        .into_iter()
        .find(|hook| hook["id"] == *id)
        .expect("the webhook is listed")
}

/// A publish token, and a subscribe token of another channel, can register
/// on a public channel; neither would let them read it were it private, so
/// once it is private their webhooks get nothing, while a subscribe token's
/// webhook keeps receiving.
async fn webhooks_deliver_only_for_registrants_who_may_read(backend: Backend) {
    let server = TestServer::start_with(backend, &["--allow-private-webhooks"]).await;
    server.create_channel(json!({"id": "open"})).await;
    server
        .create_channel(json!({"id": "elsewhere", "is_public": false}))
        .await;
    let (writer, _) = server.create_token("open", "publish", json!({})).await;
    let (reader, _) = server.create_token("open", "subscribe", json!({})).await;
    let (foreign, _) = server
        .create_token("elsewhere", "subscribe", json!({}))
        .await;
    // Each token has been used where it is valid (so the server knows it).
    let (status, _) = server
        .call(
            Method::POST,
            "/channels/open/events",
            Some(&writer),
            Some(json!({"data": "warm-up"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = server
        .call(
            Method::GET,
            "/channels/elsewhere/events",
            Some(&foreign),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let by_writer = Receiver::start(Behaviour::default()).await;
    let by_foreign = Receiver::start(Behaviour::default()).await;
    let by_reader = Receiver::start(Behaviour::default()).await;
    let mut hooks = Vec::new();
    for (token, receiver) in [
        (&writer, &by_writer),
        (&foreign, &by_foreign),
        (&reader, &by_reader),
    ] {
        let (status, hook) = server
            .register_webhook("open", Some(token), json!({"url": receiver.url}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        hooks.push(hook);
    }
    for hook in &hooks[..2] {
        assert!(
            hook["registered_by"]
                .as_str()
                .unwrap()
                .starts_with("anonymous:"),
            "a token that could not read the channel were it private is no registrant: {hook}"
        );
    }

    server.make_private("open").await;
    server.publish("open", json!({"data": "secret"})).await;
    eventually(
        "the subscribe token's webhook gets the private event",
        || async { by_reader.delivered().len() == 1 },
    )
    .await;
    for (hook, receiver) in [(&hooks[0], &by_writer), (&hooks[1], &by_foreign)] {
        assert!(receiver.delivered().is_empty(), "a private event leaked");
        assert_eq!(
            webhook(&server, "open", &hook["id"]).await["state"],
            "revoked"
        );
    }
    assert!(by_reader.delivered()[0].contains("secret"));
}

/// Access is checked at delivery too: a subscribe token that expired gets
/// its webhook nothing more, though the sweep for expired tokens
/// (`--retention-interval`, 60 s) has not run yet.
async fn an_expired_registrant_gets_nothing_before_the_sweep(backend: Backend) {
    let server = TestServer::start_with(backend, &["--allow-private-webhooks"]).await;
    server
        .create_channel(json!({"id": "lapsing", "is_public": false}))
        .await;
    let (brief, _) = server
        .create_token("lapsing", "subscribe", json!({"expires_in_seconds": 1}))
        .await;
    let lapsed = Receiver::start(Behaviour::default()).await;
    let witness = Receiver::start(Behaviour::default()).await;
    let (status, hook) = server
        .register_webhook("lapsing", Some(&brief), json!({"url": lapsed.url}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let (status, admins) = server
        .register_webhook("lapsing", Some(ADMIN), json!({"url": witness.url}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{admins}");
    server.publish("lapsing", json!({"data": "before"})).await;
    eventually(
        "both webhooks get the event while the token lives",
        || async { lapsed.delivered().len() == 1 && witness.delivered().len() == 1 },
    )
    .await;

    // Past the token's expiry (whole seconds: wait until it is refused).
    eventually("the token expires", || async {
        let (status, _) = server
            .call(Method::GET, "/channels/lapsing/events", Some(&brief), None)
            .await;
        status == StatusCode::UNAUTHORIZED
    })
    .await;
    server.publish("lapsing", json!({"data": "after"})).await;
    eventually("the admin's webhook gets the later event", || async {
        witness.delivered().len() == 2
    })
    .await;
    eventually("the expired registrant's webhook is revoked", || async {
        webhook(&server, "lapsing", &hook["id"]).await["state"] == "revoked"
    })
    .await;
    assert_eq!(
        lapsed.delivered().len(),
        1,
        "nothing after the token expired"
    );
}

/// With anonymous webhooks off, a credential that would not read the channel
/// were it private (a publish token, another channel's token) is refused like
/// no credential; a subscribe token of the channel and the admin are not.
async fn publish_tokens_register_as_anonymous(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            "--allow-private-webhooks",
            "--allow-anonymous-webhooks",
            "false",
        ],
    )
    .await;
    server.create_channel(json!({"id": "hooks"})).await;
    server.create_channel(json!({"id": "other"})).await;
    let (writer, _) = server.create_token("hooks", "publish", json!({})).await;
    let (foreign, _) = server.create_token("other", "subscribe", json!({})).await;
    let (reader, _) = server.create_token("hooks", "subscribe", json!({})).await;
    for token in [&writer, &foreign] {
        let response = server
            .send(
                Method::POST,
                "/channels/hooks/webhooks",
                Some(token),
                Some(json!({"url": "http://127.0.0.1:9/refused"})),
            )
            .await;
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "Bearer"
        );
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_problem(status, &body, StatusCode::UNAUTHORIZED);
        assert!(
            body["detail"].as_str().unwrap().contains("anonymous"),
            "{body}"
        );
    }
    assert!(server.webhooks("hooks").await.is_empty());
    for (token, url) in [
        (reader.as_str(), "http://127.0.0.1:9/a"),
        (ADMIN, "http://127.0.0.1:9/b"),
    ] {
        let (status, hook) = server
            .register_webhook("hooks", Some(token), json!({"url": url}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
    }
}

/// A URL within 2 048 characters whose stored (percent-encoded) form is
/// longer is refused alike on both databases, and nothing is stored.
async fn stored_webhook_urls_are_bounded(backend: Backend) {
    let server = TestServer::start_with(backend, &["--allow-private-webhooks"]).await;
    server.create_channel(json!({"id": "long"})).await;
    let url = format!("http://127.0.0.1:9/{}", "é".repeat(1000));
    assert!(url.chars().count() < 2048);
    let (status, body) = server
        .register_webhook("long", None, json!({"url": url}))
        .await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap().contains("2048"), "{body}");
    assert!(server.webhooks("long").await.is_empty());
}

/// Webhooks revoked for lost access no longer count toward
/// `--max-anonymous-webhooks-per-ip`.
async fn revoked_webhooks_do_not_count_toward_the_anonymous_bound(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            "--allow-private-webhooks",
            "--max-anonymous-webhooks-per-ip",
            "2",
        ],
    )
    .await;
    server.create_channel(json!({"id": "first"})).await;
    server.create_channel(json!({"id": "second"})).await;
    for n in 0..2 {
        let (status, hook) = server
            .register_webhook(
                "first",
                None,
                json!({"url": format!("http://127.0.0.1:9/{n}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
    }
    let url = json!({"url": "http://127.0.0.1:9/more"});
    let (status, body) = server.register_webhook("second", None, url.clone()).await;
    assert_problem(status, &body, StatusCode::TOO_MANY_REQUESTS);

    server.make_private("first").await;
    for hook in server.webhooks("first").await {
        assert_eq!(hook["state"], "revoked", "{hook}");
    }
    let (status, hook) = server.register_webhook("second", None, url).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
}

/// Re-registering a webhook revoked for lost access, even as the admin, does
/// not revive it: 410, and it stays revoked.
async fn revoked_webhooks_are_not_revived_by_a_refresh(backend: Backend) {
    let server = TestServer::start_with(backend, &["--allow-private-webhooks"]).await;
    server.create_channel(json!({"id": "dimmed"})).await;
    let url = json!({"url": "http://127.0.0.1:9/dimmed"});
    let (status, hook) = server.register_webhook("dimmed", None, url.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    server.make_private("dimmed").await;
    assert_eq!(
        webhook(&server, "dimmed", &hook["id"]).await["state"],
        "revoked"
    );

    let (status, body) = server
        .register_webhook("dimmed", Some(ADMIN), url.clone())
        .await;
    assert_problem(status, &body, StatusCode::GONE);
    assert!(
        body["detail"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    let after = webhook(&server, "dimmed", &hook["id"]).await;
    assert_eq!(after["state"], "revoked", "{after}");
    assert_eq!(after["expires_at"], hook["expires_at"], "nothing changed");
}

/// Publishes `body` as the admin with `key` as the raw `Idempotency-Key`.
async fn publish_keyed(
    server: &TestServer,
    channel: &str,
    key: HeaderValue,
    body: Value,
) -> (StatusCode, Option<String>, Value) {
    let response = server
        .http
        .post(server.url(&format!("/channels/{channel}/events")))
        .bearer_auth(ADMIN)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, replayed, response.json().await.unwrap())
}

/// A key that is not visible ASCII is refused, not ignored (which stored a
/// duplicate on every retry).
async fn non_ascii_idempotency_keys_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "keys"})).await;
    for _ in 0..2 {
        let key = HeaderValue::from_bytes("clé-1".as_bytes()).unwrap();
        let (status, _, body) = publish_keyed(&server, "keys", key, json!({"data": "once"})).await;
        assert_problem(status, &body, StatusCode::BAD_REQUEST);
        assert!(
            body["detail"].as_str().unwrap().contains("Idempotency-Key"),
            "{body}"
        );
    }
    assert!(server.all_events("keys").await.is_empty());
}

/// A retry whose events were deleted gets 410 naming them, not their data.
async fn a_retry_whose_events_were_deleted_is_gone(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "forgotten"})).await;
    let key = || HeaderValue::from_static("delete-me");
    let body = json!({"data": {"card": "4111-1111"}});
    let (status, _, first) = publish_keyed(&server, "forgotten", key(), body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/channels/forgotten/events/{id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, _, retry) = publish_keyed(&server, "forgotten", key(), body).await;
    assert_problem(status, &retry, StatusCode::GONE);
    assert_eq!(retry["event_ids"], json!([id]), "{retry}");
    assert!(
        !retry.to_string().contains("4111"),
        "no deleted data: {retry}"
    );
    assert!(server.all_events("forgotten").await.is_empty());
}

/// The idempotency lookup comes before strict types: a retry after the
/// channel's types changed answers what the first request stored.
async fn a_retry_after_strict_types_changed_answers_the_first_result(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "typed"})).await;
    let key = || HeaderValue::from_static("typed-1");
    let body = json!({"type": "note", "data": {"text": "hi"}});
    let (status, replayed, first) = publish_keyed(&server, "typed", key(), body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(replayed, None);
    let (status, channel) = server
        .call(
            Method::PATCH,
            "/channels/typed",
            Some(ADMIN),
            Some(json!({"config": {"strict_types": true, "types": {"other": {}}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{channel}");
    // The same body from a new request is refused now...
    let (status, _, refused) = publish_keyed(
        &server,
        "typed",
        HeaderValue::from_static("typed-2"),
        body.clone(),
    )
    .await;
    assert_problem(status, &refused, StatusCode::BAD_REQUEST);
    // ...but the retry gets the first answer.
    let (status, replayed, again) = publish_keyed(&server, "typed", key(), body).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(again, first);
    assert_eq!(server.all_events("typed").await.len(), 1);
}

/// Without authority to delete, an existing event and a missing one get the
/// same answer.
async fn deleting_events_of_a_private_channel_is_no_oracle(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({"id": "hidden", "is_public": false}))
        .await;
    server.create_channel(json!({"id": "beside"})).await;
    let event = server.publish("hidden", json!({"data": 1})).await;
    let existing = event["id"].as_str().unwrap().to_owned();
    let missing = ulid::Ulid::generate().to_string();
    let (reader, _) = server.create_token("hidden", "subscribe", json!({})).await;
    let (foreign, _) = server.create_token("beside", "publish", json!({})).await;
    for (token, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(reader.as_str()), StatusCode::FORBIDDEN),
        (Some(foreign.as_str()), StatusCode::FORBIDDEN),
    ] {
        for id in [&existing, &missing] {
            let (status, body) = server
                .call(
                    Method::DELETE,
                    &format!("/channels/hidden/events/{id}"),
                    token,
                    None,
                )
                .await;
            assert_problem(status, &body, expected);
        }
    }
    assert_eq!(server.all_events("hidden").await.len(), 1);
}

/// `/metrics` carries no token id, whatever tokens were used: to publish
/// (past its rate too), to read, on a WebSocket, and refused.
async fn metrics_name_no_tokens(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            "--limit-loopback",
            "--publish-rate",
            "0.01",
            "--publish-burst",
            "1",
        ],
    )
    .await;
    server
        .create_channel(json!({"id": "counted", "is_public": false}))
        .await;
    let (writer, writer_info) = server.create_token("counted", "publish", json!({})).await;
    let (reader, reader_info) = server.create_token("counted", "subscribe", json!({})).await;
    let (status, _) = server
        .call(
            Method::POST,
            "/channels/counted/events",
            Some(&writer),
            Some(json!({"data": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = server
        .call(Method::GET, "/channels/counted/events", Some(&reader), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call(
            Method::POST,
            "/channels/counted/events",
            Some(&reader),
            Some(json!({"data": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server
        .call(
            Method::POST,
            "/channels/counted/events",
            Some(&writer),
            Some(json!({"data": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let socket = server
        .ws(&format!("/channels/counted/ws?token={reader}"))
        .await;
    drop(socket);
    let metrics = server.metrics().await;
    assert!(metrics.contains("channelhub_"), "{metrics}");
    for info in [writer_info, reader_info] {
        let id = info["id"].as_str().unwrap();
        assert!(!metrics.contains(id), "token id {id} in /metrics");
    }
}

/// Deleting one event is not a gap: a resume from before it gets the later
/// events without a gap notice, and a resume from the deleted id works, also
/// on a channel whose retention has removed events (a gap still announced
/// from before those, and an id that never was one still refused).
async fn deleting_one_event_is_not_a_gap(backend: Backend) {
    let server = TestServer::start_with(backend, &["--retention-interval", "0.2"]).await;
    server
        .create_channel(json!({"id": "holes", "retention": {"max_events": 3}}))
        .await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let event = server.publish("holes", json!({"data": n})).await;
        ids.push(event["id"].as_str().unwrap().to_owned());
    }
    eventually("retention keeps the newest 3", || async {
        server.all_events("holes").await.len() == 3
    })
    .await;
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/channels/holes/events/{}", ids[3]),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let page = |after: String| {
        let server = &server;
        async move {
            server
                .call(
                    Method::GET,
                    &format!("/channels/holes/events?cursor={after}"),
                    None,
                    None,
                )
                .await
        }
    };
    let ids_of = |page: &Value| -> Vec<String> {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for after in [&ids[2], &ids[3]] {
        let (status, body) = page(after.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["gap"], Value::Null, "{body}");
        assert_eq!(ids_of(&body), [ids[4].clone()]);
    }
    // Retention's removal is still a gap.
    let (status, body) = page(ids[0].clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["gap"]["removed_through"], ids[1].as_str(), "{body}");
    assert_eq!(ids_of(&body), [ids[2].clone(), ids[4].clone()]);
    // A resume point that never was an event is still refused.
    let third: ulid::Ulid = ids[3].parse().unwrap();
    let never = ulid::Ulid::from_parts(third.timestamp_ms(), third.random() ^ 1);
    let (status, body) = page(never.to_string()).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
}

/// Event `meta` is bounded (16 KiB): past it, 400 naming the bound, nothing stored.
async fn event_meta_is_bounded(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "meta"})).await;
    let (status, body) = server
        .call(
            Method::POST,
            "/channels/meta/events",
            Some(ADMIN),
            Some(json!({"data": 1, "meta": "m".repeat(16 * 1024 + 1)})),
        )
        .await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap().contains("16384"), "{body}");
    assert!(server.all_events("meta").await.is_empty());
    let (status, body) = server
        .call(
            Method::POST,
            "/channels/meta/events",
            Some(ADMIN),
            Some(json!({"data": 1, "meta": "m".repeat(16 * 1024)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
