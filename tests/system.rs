//! Docs and health (SPEC §6): the committed OpenAPI document equals what the
//! server generates, the docs UI loads, health and readiness answer.

mod common;

use common::{Backend, TestServer, eventually, metric_value as metric, next_text};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(health_and_readiness, metrics_count_what_happened);

async fn health_and_readiness(backend: Backend) {
    let server = TestServer::start(backend).await;
    let root = format!("http://{}", server.addr);
    for path in ["/healthz", "/readyz"] {
        let response = server
            .http
            .get(format!("{root}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["status"].is_string(), "{path}: {body}");
    }
}

/// Set `UPDATE_OPENAPI=1` to rewrite `openapi/openapi.json` from the server.
#[tokio::test]
async fn committed_openapi_document_matches_the_server() {
    let server = TestServer::start(Backend::Sqlite).await;
    let response = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let generated = response.text().await.unwrap();
    let document: Value = serde_json::from_str(&generated).expect("the document is JSON");
    for path in [
        "/channels",
        "/channels/{channel_id}/events",
        "/channels/{channel_id}/ws",
        "/channels/{channel_id}/tokens",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
    let ws_params = document["paths"]["/channels/{channel_id}/ws"]["get"]["parameters"].to_string();
    assert!(
        ws_params.contains("\"types\"") && ws_params.contains("\"token\""),
        "{ws_params}"
    );

    let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi")).unwrap();
        std::fs::write(committed_path, format!("{generated}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(committed_path)
        .expect("openapi/openapi.json exists (run with UPDATE_OPENAPI=1 to write it)");
    assert_eq!(
        committed.trim_end(),
        generated,
        "openapi/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test --test system`"
    );
}

#[tokio::test]
async fn docs_ui_is_served() {
    let server = TestServer::start(Backend::Sqlite).await;
    let response = server
        .http
        .get(format!("http://{}/docs", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger"), "the docs page embeds Swagger UI");
}

async fn metrics_count_what_happened(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "measured"})).await;
    let mut socket = server.ws("/channels/measured/ws").await;
    for i in 0..3 {
        server.publish("measured", json!({"data": i})).await;
    }
    for _ in 0..3 {
        next_text(&mut socket).await;
    }
    let url = format!("http://{}/metrics", server.addr);
    let scrape = || async {
        server
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    eventually("the delivered frames are counted", || async {
        metric(&scrape().await, "channelhub_frames_delivered_total") == Some(3.0)
    })
    .await;
    let text = scrape().await;
    assert_eq!(
        metric(&text, "channelhub_events_published_total"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "channelhub_websocket_connections"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(metric(&text, "channelhub_subscribers"), Some(1.0), "{text}");
    assert_eq!(
        metric(&text, "channelhub_live_channels"),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains(
            "channelhub_http_request_duration_seconds_bucket{method=\"POST\",status=\"201\""
        ),
        "{text}"
    );
    let response = server.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
}
