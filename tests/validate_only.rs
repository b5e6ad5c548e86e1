//! `POST /api/v1/channels/{id}/events/validate`: a publish checked as
//! publishing checks it (credential, batch bound, size, strict types) and
//! never stored or delivered; counted against the publish rate. On SQLite
//! and PostgreSQL.

mod common;

use common::{ADMIN, Backend, TestServer, assert_problem, next_text};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    a_valid_publish_is_answered_and_nothing_is_stored,
    a_refused_publish_gets_publishings_problem,
    validating_costs_a_publish_of_the_rate,
);

const PATH: &str = "/channels/prices/events/validate";

async fn strict_channel(server: &TestServer) {
    server
        .create_channel(json!({"id": "prices", "is_public": true, "config": {"strict_types": true, "types": {
            "price.update": {"type": "object", "required": ["symbol", "price"],
                             "properties": {"symbol": {"type": "string"}, "price": {"type": "number"}}}
        }}}))
        .await;
}

fn good() -> Value {
    json!({"type": "price.update", "data": {"symbol": "BTC", "price": 1.0}})
}

async fn a_valid_publish_is_answered_and_nothing_is_stored(backend: Backend) {
    let server = TestServer::start(backend).await;
    strict_channel(&server).await;
    let mut ws = server.ws("/channels/prices/ws").await;
    let (publisher, _) = server.create_token("prices", "publish", json!({})).await;
    for (credential, body, count) in [
        (ADMIN, good(), 1),
        (
            publisher.as_str(),
            json!({"events": [good(), good(), good()]}),
            3,
        ),
    ] {
        let (status, answer) = server
            .call(Method::POST, PATH, Some(credential), Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer, json!({"valid": true, "events": count}));
    }
    // Nothing stored, nothing delivered: the next frame is the first real publish.
    assert!(server.all_events("prices").await.is_empty());
    let real = server.publish("prices", good()).await;
    let frame: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(frame["id"], real["id"]);
    assert_eq!(server.all_events("prices").await.len(), 1);
}

async fn a_refused_publish_gets_publishings_problem(backend: Backend) {
    let server = TestServer::start(backend).await;
    strict_channel(&server).await;
    let (subscriber, _) = server.create_token("prices", "subscribe", json!({})).await;
    let bad_data = json!({"type": "price.update", "data": {"symbol": "BTC", "price": "high"}});
    let too_many = json!({"events": vec![good(); 101]});
    let cases: [(&str, Option<&str>, Value, StatusCode); 7] = [
        (PATH, Some(ADMIN), bad_data.clone(), StatusCode::BAD_REQUEST),
        (
            PATH,
            Some(ADMIN),
            json!({"events": [good(), bad_data.clone()]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            PATH,
            Some(ADMIN),
            json!({"type": "other", "data": {}}),
            StatusCode::BAD_REQUEST,
        ),
        (PATH, Some(ADMIN), too_many, StatusCode::BAD_REQUEST),
        (PATH, None, good(), StatusCode::UNAUTHORIZED),
        (PATH, Some(&subscriber), good(), StatusCode::FORBIDDEN),
        (
            "/channels/nowhere/events/validate",
            Some(ADMIN),
            good(),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (path, credential, body, expected) in cases {
        let (status, problem) = server
            .call(Method::POST, path, credential, Some(body.clone()))
            .await;
        assert_problem(status, &problem, expected);
        // The same words as publishing the same body.
        let publish_path = path.trim_end_matches("/validate");
        let (publish_status, publish_problem) = server
            .call(Method::POST, publish_path, credential, Some(body))
            .await;
        assert_eq!(
            (publish_status, &publish_problem["detail"]),
            (status, &problem["detail"])
        );
    }
    let (status, problem) = server
        .call(Method::POST, PATH, Some(ADMIN), Some(bad_data))
        .await;
    assert_problem(status, &problem, StatusCode::BAD_REQUEST);
    assert!(problem["detail"].as_str().unwrap().contains("/data/price"));
    // Malformed bodies are refused as publishing refuses them.
    let (status, problem) = server
        .call(
            Method::POST,
            PATH,
            Some(ADMIN),
            Some(json!({"data": 1, "unknown": true})),
        )
        .await;
    assert_problem(status, &problem, StatusCode::BAD_REQUEST);
    assert!(server.all_events("prices").await.is_empty());
}

async fn validating_costs_a_publish_of_the_rate(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            "--limit-loopback",
            "--publish-rate",
            "0.01",
            "--publish-burst",
            "3",
        ],
    )
    .await;
    strict_channel(&server).await;
    let (publisher, _) = server.create_token("prices", "publish", json!({})).await;
    for _ in 0..3 {
        let (status, body) = server
            .call(Method::POST, PATH, Some(&publisher), Some(good()))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, problem) = server
        .call(Method::POST, PATH, Some(&publisher), Some(good()))
        .await;
    assert_problem(status, &problem, StatusCode::TOO_MANY_REQUESTS);
    // The same bucket as publishing: a publish is refused too.
    let (status, problem) = server
        .call(
            Method::POST,
            "/channels/prices/events",
            Some(&publisher),
            Some(good()),
        )
        .await;
    assert_problem(status, &problem, StatusCode::TOO_MANY_REQUESTS);
}
