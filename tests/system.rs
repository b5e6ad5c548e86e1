//! Docs and health (SPEC §6): the committed OpenAPI document equals what the
//! server generates, the docs UI loads, health and readiness answer.

mod common;

use std::time::Duration;

use common::{
    ADMIN, Backend, Spawned, TestDb, TestServer, eventually, metric_value, next_text,
    postgres_available, sigterm, within,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    health_and_readiness,
    metrics_count_what_happened,
    generated_admin_token_is_printed_once_and_stored_as_a_hash,
    shutdown_lets_in_flight_requests_and_queued_publishes_finish,
    shutdown_grace_bounds_the_wait,
);

async fn health_and_readiness(backend: Backend) {
    let server = TestServer::start(backend).await;
    let root = format!("http://{}", server.addr);
    // With the database up; `readyz_answers_503_while_the_database_is_down`
    // takes it away.
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = server
            .http
            .get(format!("{root}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"status": status}), "{path}");
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
    // It shows the finished document, the one /api/v1/openapi.json serves
    // (poem-openapi's own lacks what contract.rs adds, such as the closed
    // request bodies), byte for byte.
    let served = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("let spec = {served};")),
        "/docs embeds the served document"
    );
    assert!(html.contains("\"additionalProperties\": false"));
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
        metric_value(&scrape().await, "channelhub_frames_delivered_total") == Some(3.0)
    })
    .await;
    let text = scrape().await;
    assert_eq!(
        metric_value(&text, "channelhub_events_published_total"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric_value(&text, "channelhub_websocket_connections"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric_value(&text, "channelhub_subscribers"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric_value(&text, "channelhub_live_channels"),
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

/// `/readyz` says whether the database answers: 503 (a problem document)
/// while PostgreSQL refuses the server's connections, 200 again once it
/// accepts them. PostgreSQL only: a SQLite file cannot be taken away from a
/// process that has it open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_while_the_database_is_down() {
    if !postgres_available("readyz_answers_503_while_the_database_is_down") {
        return;
    }
    let server = TestServer::start(Backend::Postgres).await;
    let readyz = format!("http://{}/readyz", server.addr);
    let healthz = format!("http://{}/healthz", server.addr);
    let get = |url: String| {
        let http = server.http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            let status = response.status();
            let content_type = response.headers().get("content-type").cloned();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, content_type, body)
        }
    };
    assert_eq!(get(readyz.clone()).await.0, StatusCode::OK);

    let name = server
        .db
        .url
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    // Each statement on a connection of its own to the maintenance database.
    let admin = |sql: String| async move {
        let admin_url = std::env::var("TEST_DATABASE_URL").unwrap();
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .unwrap();
        sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(sql))
            .await
            .unwrap();
    };
    admin(format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
    ))
    .await;
    let cut = || {
        admin(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
    };
    cut().await;
    eventually("/readyz answers 503 with the database down", || async {
        // Connections the pool opens again are refused; cut any that slipped in.
        cut().await;
        get(readyz.clone()).await.0 == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    let (status, content_type, body) = get(readyz.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        content_type.unwrap().to_str().unwrap(),
        "application/problem+json"
    );
    assert_eq!(body["status"], 503, "{body}");
    assert_eq!(
        get(healthz.clone()).await.0,
        StatusCode::OK,
        "the process itself still answers"
    );

    admin(format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")).await;
    eventually("/readyz answers 200 once the database is back", || async {
        get(readyz.clone()).await.0 == StatusCode::OK
    })
    .await;
}

const GENERATED: &str = "Generated admin token (shown once, only its hash is kept): ";

/// README: with no `--admin-token`, the first start prints a generated admin
/// token once and keeps only its argon2 hash; the token works, also after a
/// restart, which prints nothing.
async fn generated_admin_token_is_printed_once_and_stored_as_a_hash(backend: Backend) {
    let db = TestDb::new(backend).await;
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        db.url.as_str(),
    ];
    let mut first = Spawned::start(&args, &[], false);
    let printed: Vec<String> = first
        .stdout
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| l.strip_prefix(GENERATED).map(str::to_owned))
        .collect();
    assert_eq!(printed.len(), 1, "{:?}", first.stdout.lock().unwrap());
    let token = printed[0].clone();
    assert!(token.len() >= 32, "{token}");
    let http = common::http_client();
    let create = |addr: String, id: &'static str, token: String| {
        let http = http.clone();
        async move {
            http.post(format!("http://{addr}/api/v1/channels"))
                .bearer_auth(token)
                .json(&json!({"id": id}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        create(first.addr.clone(), "made-by-generated", token.clone()).await,
        StatusCode::CREATED
    );
    assert_eq!(
        create(first.addr.clone(), "made-by-guess", format!("{token}x")).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(first.stop().success());

    // Nothing in the database holds the token; the settings hold its argon2 hash.
    let rows = database_text(backend, &db.url).await;
    assert!(
        rows.iter().all(|row| !row.contains(&token)),
        "the token is stored in clear: {rows:?}"
    );
    assert!(
        rows.iter()
            .any(|row| row.contains("admin_token_hash") && row.contains("$argon2id$")),
        "no argon2id hash of the admin token in the settings: {rows:?}"
    );

    let second = Spawned::start(&args, &[], false);
    assert!(
        second
            .stdout
            .lock()
            .unwrap()
            .iter()
            .all(|l| !l.contains(&token) && !l.starts_with(GENERATED)),
        "printed again: {:?}",
        second.stdout.lock().unwrap()
    );
    assert_eq!(
        create(second.addr.clone(), "after-restart", token.clone()).await,
        StatusCode::CREATED
    );
}

/// Every row of every table, as text (SQLite: the database files' raw bytes).
async fn database_text(backend: Backend, url: &str) -> Vec<String> {
    match backend {
        Backend::Sqlite => {
            let file = std::path::PathBuf::from(url.strip_prefix("sqlite://").unwrap());
            let dir = file.parent().unwrap();
            let mut texts = Vec::new();
            for entry in std::fs::read_dir(dir).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                texts.push(String::from_utf8_lossy(&bytes).into_owned());
            }
            // And the settings table through SQL, so the hash check reads rows.
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(url)
                .await
                .unwrap();
            let settings: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM settings")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            texts.extend(settings.into_iter().map(|(k, v)| format!("{k}={v}")));
            texts
        }
        Backend::Postgres => {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
                .await
                .unwrap();
            let tables: Vec<(String,)> = sqlx::query_as(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            assert!(!tables.is_empty());
            let mut texts = Vec::new();
            for (table,) in tables {
                let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT row_to_json(t)::text FROM \"{table}\" t"
                )))
                .fetch_all(&mut conn)
                .await
                .unwrap();
                texts.extend(rows.into_iter().map(|(row,)| format!("{table}: {row}")));
            }
            texts
        }
    }
}

/// README, "Graceful shutdown": SIGTERM lets in-flight requests finish (a
/// long-poll in progress gets its 200; publishes in flight get their 201)
/// and drains queued publishes: every publish answered 201 is in the store
/// after a restart, none is answered with an error status, and requests fail
/// only once the signal was sent (refused by the closed listener).
async fn shutdown_lets_in_flight_requests_and_queued_publishes_finish(backend: Backend) {
    let mut server = TestServer::start_with(backend, &["--shutdown-grace", "10"]).await;
    server.create_channel(json!({"id": "draining"})).await;
    let long_poll = {
        let http = server.http.clone();
        let url = server.url("/channels/draining/events?wait=2");
        tokio::spawn(async move {
            let response = http
                .get(url)
                .send()
                .await
                .expect("the long-poll is answered");
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        })
    };
    let signalled: std::sync::Arc<std::sync::OnceLock<std::time::Instant>> = Default::default();
    // Four publishers publish one event after another, through the signal,
    // until the server refuses them.
    let publishers: Vec<_> = (0..4)
        .map(|p| {
            let http = server.http.clone();
            let url = server.url("/channels/draining/events");
            let signalled = signalled.clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in 0.. {
                    let response = http
                        .post(&url)
                        .bearer_auth(ADMIN)
                        .json(&json!({"data": {"p": p, "i": i}}))
                        .send()
                        .await;
                    let answered = std::time::Instant::now();
                    match response {
                        Ok(response) => {
                            let status = response.status();
                            let body: Value = response.json().await.unwrap_or(Value::Null);
                            assert_eq!(status, StatusCode::CREATED, "{body}");
                            acknowledged.push((body["id"].as_str().unwrap().to_owned(), answered));
                        }
                        Err(err) => {
                            assert!(
                                signalled.get().is_some(),
                                "a publish failed before the shutdown: {err}"
                            );
                            return acknowledged;
                        }
                    }
                }
                unreachable!()
            })
        })
        .collect();
    // The long-poll is surely waiting; the publishers are going.
    tokio::time::sleep(Duration::from_millis(500)).await;
    signalled.set(std::time::Instant::now()).unwrap();
    sigterm(server.pid());
    let (status, page) = within(Duration::from_secs(15), "the long-poll's answer", long_poll)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page["events"].is_array(), "{page}");
    let mut acknowledged = Vec::new();
    for publisher in publishers {
        acknowledged.extend(
            within(
                Duration::from_secs(15),
                "the publishers to be refused",
                publisher,
            )
            .await
            .unwrap(),
        );
    }
    let signal = *signalled.get().unwrap();
    assert!(
        acknowledged.iter().any(|(_, at)| *at > signal),
        "no publish in flight at the signal was answered after it"
    );
    let exit = tokio::task::spawn_blocking(move || {
        let status = server.stop();
        (status, server)
    });
    let (status, mut server) = exit.await.unwrap();
    assert!(status.success(), "exit status {status:?}");
    server.restart();
    let stored: Vec<String> = server
        .all_events("draining")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let mut acknowledged: Vec<String> = acknowledged.into_iter().map(|(id, _)| id).collect();
    acknowledged.sort();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged publish, and only those, is stored"
    );
}

/// `--shutdown-grace` bounds how long in-flight requests may hold up the
/// exit: with 1 s, a long-poll asked to wait 30 s does not keep the process
/// alive for long.
async fn shutdown_grace_bounds_the_wait(backend: Backend) {
    let mut server = TestServer::start_with(backend, &["--shutdown-grace", "1"]).await;
    server.create_channel(json!({"id": "lingering"})).await;
    let http = server.http.clone();
    let url = server.url("/channels/lingering/events?wait=30");
    let long_poll = tokio::spawn(async move { http.get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!long_poll.is_finished(), "the long-poll is waiting");
    let started = std::time::Instant::now();
    let (status, _server) = tokio::task::spawn_blocking(move || {
        let status = server.stop();
        (status, server)
    })
    .await
    .unwrap();
    let took = started.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        took < Duration::from_secs(8),
        "a 1 s grace, and the process took {took:?} to exit"
    );
    // The long-poll ended with the process, one way or another, not after 30 s.
    let _ = within(Duration::from_secs(5), "the long-poll to end", long_poll).await;
}

/// README: `--log-json` writes JSON lines, one per request with method, path
/// and status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_json_writes_json_lines() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut server = Spawned::start(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            db.url.as_str(),
            "--admin-token",
            ADMIN,
            "--log-json",
        ],
        &[("RUST_LOG", "info")],
        true,
    );
    let http = common::http_client();
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        http.request(Method::GET, server.url("/api/v1/channels/no-such"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let request_line = |path: &'static str, status: u64| {
        let lines = server.stderr.clone();
        move || {
            let found = lines.lock().unwrap().iter().any(|line| {
                serde_json::from_str::<Value>(line).is_ok_and(|entry| {
                    let fields = &entry["fields"];
                    fields["path"] == path
                        && fields["method"] == "GET"
                        && (fields["status"] == status
                            || fields["status"].as_str() == Some(status.to_string().as_str()))
                })
            });
            async move { found }
        }
    };
    eventually(
        "a JSON request line for /healthz",
        request_line("/healthz", 200),
    )
    .await;
    eventually(
        "a JSON request line for the 404",
        request_line("/api/v1/channels/no-such", 404),
    )
    .await;
    assert!(server.stop().success());
    let lines = server.stderr.lock().unwrap().clone();
    assert!(!lines.is_empty());
    for line in &lines {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(entry["level"].is_string(), "{line}");
    }
}
