//! The MCP endpoint (`/mcp`) against the real binary, by JSON-RPC over
//! HTTP: the handshakes and tool listing, access equal to REST's, cursors,
//! waits, limits and bad input. On SQLite and PostgreSQL (and two nodes).

mod common;

use common::{
    ADMIN, Backend, LIMIT_LOOPBACK, TestServer,
    mcp::{Mcp, answer, tool_answer},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    handshakes_and_tool_listing,
    access_equals_rests_for_every_credential,
    pages_continue_without_gaps_within_the_size_budget,
    waits_are_woken_time_out_and_start_from_now,
    publishing_is_idempotent_with_a_key_and_gaps_are_reported,
    limits_refuse_inside_the_tool_result,
    bad_input_is_refused_clearly_and_changes_nothing,
    the_door_refuses_urls_with_tokens_bad_tokens_and_browsers,
    the_stdio_relay_carries_calls_and_cancellations,
    waits_answer_an_empty_page_at_shutdown,
    a_cancellation_ends_the_wait_it_names_and_frees_its_slot,
    a_trickled_body_times_out,
    credentials_that_are_not_bearer_or_sit_in_the_url_are_refused,
    a_wait_rmcp_refuses_is_refused_before_any_wait,
);

const START: &str = "00000000000000000000000000";

/// Both handshakes answer; five tools, each with closed input and an output schema.
async fn handshakes_and_tool_listing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mcp = Mcp::new(&server, None);
    let init = mcp
        .request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}}),
        )
        .await;
    assert_eq!(init["result"]["serverInfo"]["name"], "channelhub", "{init}");
    assert!(
        init["result"]["instructions"]
            .as_str()
            .unwrap()
            .contains("wait_for_events")
    );
    let known: Value = server.root_json("/.well-known/channelhub.json").await;
    assert_eq!(known["mcp_url"], "/mcp");
    let listed = mcp.request("tools/list", json!({})).await;
    let tools = listed["result"]["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "get_channel",
            "list_channels",
            "publish_events",
            "read_events",
            "wait_for_events"
        ]
    );
    for tool in tools {
        assert_eq!(
            tool["inputSchema"]["additionalProperties"],
            json!(false),
            "{tool}"
        );
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
        assert!(tool["description"].as_str().unwrap().len() > 40);
    }
}

/// Each tool's answer equals its REST route's for anonymous, subscribe,
/// publish, another channel's and the admin credential, on a public and a
/// private channel.
async fn access_equals_rests_for_every_credential(backend: Backend) {
    let server = common::jwt::start(backend, &[]).await;
    server
        .create_channel(json!({"id": "open", "is_public": true}))
        .await;
    server
        .create_channel(json!({"id": "shut", "is_public": false}))
        .await;
    server.create_channel(json!({"id": "other"})).await;
    let mut credentials: Vec<(String, Option<String>)> = vec![
        ("anonymous".into(), None),
        ("admin".into(), Some(ADMIN.into())),
    ];
    for channel in ["open", "shut"] {
        for kind in ["subscribe", "publish"] {
            let (token, _) = server.create_token(channel, kind, json!({})).await;
            credentials.push((format!("{channel} {kind}"), Some(token)));
        }
        // JWTs work on /mcp like any credential.
        for scope in ["sub", "pub"] {
            let claims = json!({"sub": "agent", "scopes": [format!("{scope}:{channel}")],
                "aud": common::jwt::AUDIENCE, "exp": common::jwt::now() + 600});
            let jwt = common::jwt::hs256(common::jwt::SECRET, claims);
            credentials.push((format!("JWT {scope}:{channel}"), Some(jwt)));
        }
    }
    let (other, _) = server.create_token("other", "publish", json!({})).await;
    credentials.push(("another channel's".into(), Some(other)));
    for (who, token) in &credentials {
        let mcp = Mcp::new(&server, token.as_deref());
        for channel in ["open", "shut"] {
            let rest = |method: Method, path: String, body: Option<Value>| {
                let token = token.clone();
                let server = &server;
                async move { server.call(method, &path, token.as_deref(), body).await.0 }
            };
            let cases = [
                (
                    "get_channel",
                    json!({"channel": channel}),
                    rest(Method::GET, format!("/channels/{channel}"), None).await,
                ),
                (
                    "read_events",
                    json!({"channel": channel, "after": START}),
                    rest(Method::GET, format!("/channels/{channel}/events"), None).await,
                ),
                (
                    "wait_for_events",
                    json!({"channel": channel, "timeout_seconds": 0}),
                    rest(
                        Method::GET,
                        format!("/channels/{channel}/events?wait=0"),
                        None,
                    )
                    .await,
                ),
                (
                    "publish_events",
                    json!({"channel": channel, "events": [{"type": "t", "data": who}]}),
                    rest(
                        Method::POST,
                        format!("/channels/{channel}/events"),
                        Some(json!({"events": [{"type": "t", "data": who}]})),
                    )
                    .await,
                ),
            ];
            for (tool, arguments, status) in cases {
                let answer = mcp.tool(tool, arguments).await;
                match answer {
                    common::mcp::ToolAnswer::Ok(_) => assert!(
                        status.is_success(),
                        "{who} {tool} {channel}: MCP allowed, REST {status}"
                    ),
                    common::mcp::ToolAnswer::Refused(text) => {
                        assert!(
                            !status.is_success(),
                            "{who} {tool} {channel}: MCP refused ({text}), REST {status}"
                        );
                        assert!(
                            text.contains(&format!("({})", status.as_u16())),
                            "{who} {tool} {channel}: {text} vs {status}"
                        );
                    }
                }
            }
        }
        let listed = mcp.tool("list_channels", json!({})).await.ok();
        let (_, rest) = server
            .call(Method::GET, "/channels", token.as_deref(), None)
            .await;
        let ids = |v: &Value| {
            v["channels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&listed), ids(&rest), "{who}: list_channels");
    }
    // Each call is counted by tool and outcome.
    let ok = server
        .metric(r#"channelhub_mcp_tool_calls_total{tool="get_channel",outcome="ok"}"#)
        .await;
    let refused = server
        .metric(r#"channelhub_mcp_tool_calls_total{tool="get_channel",outcome="error"}"#)
        .await;
    assert!(ok >= 1.0 && refused >= 1.0, "ok {ok}, refused {refused}");
}

/// A loop of read_events over 40 events of ~5 KiB sees each once, in order,
/// in pages of at most 64 KiB; without a cursor it answers the newest.
async fn pages_continue_without_gaps_within_the_size_budget(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({"id": "big", "is_public": true}))
        .await;
    let mcp = Mcp::new(&server, Some(ADMIN));
    let mut published = Vec::new();
    for batch in 0..4 {
        let events: Vec<Value> = (0..10)
            .map(
                |i| json!({"type": "blob", "data": {"n": batch * 10 + i, "pad": "x".repeat(5000)}}),
            )
            .collect();
        let out = mcp
            .tool(
                "publish_events",
                json!({"channel": "big", "events": events}),
            )
            .await
            .ok();
        assert_eq!(out["replayed"], false);
        published.extend(
            out["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned()),
        );
    }
    let mut seen = Vec::new();
    let mut cursor = START.to_owned();
    let mut pages = 0;
    loop {
        let page = mcp
            .tool(
                "read_events",
                json!({"channel": "big", "after": cursor, "limit": 1000}),
            )
            .await
            .ok();
        let events = page["events"].as_array().unwrap();
        assert!(
            serde_json::to_string(events).unwrap().len() <= 64 * 1024 + 1024,
            "a page stays near its budget"
        );
        seen.extend(events.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        cursor = page["cursor"].as_str().unwrap().to_owned();
        pages += 1;
        if page["has_more"] == json!(false) {
            break;
        }
    }
    assert_eq!(seen, published, "every event once, in order");
    assert!(pages >= 4, "the budget splits 200 KiB into pages ({pages})");
    let newest = mcp
        .tool("read_events", json!({"channel": "big", "limit": 3}))
        .await
        .ok();
    let ids: Vec<&str> = newest["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        published[37..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert_eq!(newest["cursor"], json!(published[39]));
    // An empty channel still has a cursor: its start.
    server
        .create_channel(json!({"id": "empty", "is_public": true}))
        .await;
    let empty = mcp
        .tool("read_events", json!({"channel": "empty"}))
        .await
        .ok();
    assert_eq!(empty["cursor"], START);
}

/// A wait answers when an event commits, times out with the same cursor,
/// and without a cursor waits for what comes after the call began.
async fn waits_are_woken_time_out_and_start_from_now(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({"id": "wait-ch", "is_public": true}))
        .await;
    let old = server
        .publish("wait-ch", json!({"type": "a", "data": "old"}))
        .await;
    let old_id = old["id"].as_str().unwrap().to_owned();
    let mcp = Mcp::new(&server, None);

    let timed_out = mcp
        .tool(
            "wait_for_events",
            json!({"channel": "wait-ch", "after": old_id, "timeout_seconds": 1}),
        )
        .await
        .ok();
    assert_eq!(timed_out["events"], json!([]));
    assert_eq!(timed_out["timed_out"], true);
    assert_eq!(timed_out["cursor"], json!(old_id), "the same cursor");

    // From now: the old event is not answered, the next one is.
    let (woken, new) = wait_while_publishing(&server, &server, "new").await;
    assert_eq!(woken["timed_out"], false);
    assert_eq!(woken["events"].as_array().unwrap().len(), 1, "{woken}");
    assert_eq!(woken["events"][0]["id"], new["id"]);
    assert_eq!(woken["cursor"], new["id"]);

    // Events already there after the cursor answer at once.
    let at_once = mcp
        .tool(
            "wait_for_events",
            json!({"channel": "wait-ch", "after": old_id, "timeout_seconds": 60}),
        )
        .await
        .ok();
    assert_eq!(at_once["events"][0]["id"], new["id"]);

    // A wait asked for progress reports it while waiting (SSE) before its answer.
    let response = Mcp::new(&server, None)
        .post(
            &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
            "name": "wait_for_events", "_meta": {"progressToken": "p1"},
            "arguments": {"channel": "wait-ch", "after": new["id"], "timeout_seconds": 11}}}),
        )
        .await;
    let (message, notes) = answer(response).await;
    assert!(
        notes.iter().any(
            |n| n["method"] == "notifications/progress" && n["params"]["progressToken"] == "p1"
        ),
        "{notes:?}"
    );
    assert_eq!(tool_answer(&message).ok()["timed_out"], true);

    if backend == Backend::Postgres {
        // A wait on node B is woken by a publish on node A.
        let b = server.join();
        let (woken, across) = wait_while_publishing(&b, &server, "across").await;
        assert_eq!(woken["events"][0]["id"], across["id"], "{woken}");
    }
}

/// A `wait_for_events` from now on `waiter`, woken by a publish on
/// `publisher` half a second later: the wait's answer and the event.
async fn wait_while_publishing(
    waiter: &TestServer,
    publisher: &TestServer,
    data: &str,
) -> (Value, Value) {
    let mcp = Mcp::new(waiter, None);
    let waiting = mcp.tool(
        "wait_for_events",
        json!({"channel": "wait-ch", "timeout_seconds": 30}),
    );
    let publishing = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        publisher
            .publish("wait-ch", json!({"type": "a", "data": data}))
            .await
    };
    let (woken, event) = tokio::join!(waiting, publishing);
    (woken.ok(), event)
}

/// The same key answers the first result (`replayed`) and stores nothing
/// more; a reader behind removed events is told of the gap.
async fn publishing_is_idempotent_with_a_key_and_gaps_are_reported(backend: Backend) {
    let server = TestServer::start_with(backend, &["--retention-interval", "0.2"]).await;
    server
        .create_channel(json!({"id": "idem", "is_public": true, "retention": {"max_events": 2}}))
        .await;
    let mcp = Mcp::new(&server, Some(ADMIN));
    let args = json!({"channel": "idem", "events": [{"data": 1}], "idempotency_key": "k-1"});
    let first = mcp.tool("publish_events", args.clone()).await.ok();
    let again = mcp.tool("publish_events", args).await.ok();
    assert_eq!(again["replayed"], true);
    assert_eq!(again["events"], first["events"]);
    assert_eq!(server.all_events("idem").await.len(), 1);
    let first_id = first["cursor"].as_str().unwrap().to_owned();
    for n in 0..4 {
        mcp.tool(
            "publish_events",
            json!({"channel": "idem", "events": [{"data": n}]}),
        )
        .await
        .ok();
    }
    // Retention sweeps every 0.2 s here, keeping the newest two.
    let mut behind = Value::Null;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        behind = mcp
            .tool("read_events", json!({"channel": "idem", "after": first_id}))
            .await
            .ok();
        if behind["gap"]["removed_through"].is_string() {
            break;
        }
    }
    assert!(behind["gap"]["removed_through"].is_string(), "{behind}");
    assert_eq!(behind["events"].as_array().unwrap().len(), 2);
}

/// Publishing and waiting are limited as on REST, refused in the tool result
/// with the retry time; a wait's slot is free again once it ends.
async fn limits_refuse_inside_the_tool_result(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            LIMIT_LOOPBACK,
            "--publish-rate",
            "0.1",
            "--publish-burst",
            "1",
            "--max-connections-per-ip",
            "1",
        ],
    )
    .await;
    server
        .create_channel(json!({"id": "lim", "is_public": true}))
        .await;
    let (token, _) = server.create_token("lim", "publish", json!({})).await;
    let publisher = Mcp::new(&server, Some(&token));
    publisher
        .tool(
            "publish_events",
            json!({"channel": "lim", "events": [{"data": 1}]}),
        )
        .await
        .ok();
    let refused = publisher
        .tool(
            "publish_events",
            json!({"channel": "lim", "events": [{"data": 2}]}),
        )
        .await
        .refused();
    assert!(
        refused.contains("(429)") && refused.contains("retry"),
        "{refused}"
    );
    assert_eq!(server.all_events("lim").await.len(), 1, "nothing stored");

    // One slot per address: a second wait is refused while the first waits.
    let first = async {
        Mcp::new(&server, None)
            .tool(
                "wait_for_events",
                json!({"channel": "lim", "timeout_seconds": 3}),
            )
            .await
            .ok()
    };
    let second = async {
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        Mcp::new(&server, None)
            .tool(
                "wait_for_events",
                json!({"channel": "lim", "timeout_seconds": 1}),
            )
            .await
            .refused()
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first["timed_out"], true);
    assert!(second.contains("(429)"), "{second}");
    // A wait whose client went away frees its slot.
    let request = server
        .http
        .post(format!("http://{}/mcp", server.addr))
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", common::mcp::PROTOCOL)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "wait_for_events", "arguments": {"channel": "lim", "timeout_seconds": 60}}}));
    let gone = tokio::spawn(async move { request.send().await });
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    gone.abort();
    let mut freed = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let common::mcp::ToolAnswer::Ok(page) = Mcp::new(&server, None)
            .tool(
                "wait_for_events",
                json!({"channel": "lim", "timeout_seconds": 1}),
            )
            .await
        {
            assert_eq!(page["timed_out"], true);
            freed = true;
            break;
        }
    }
    assert!(freed, "the abandoned wait's slot was freed");
}

/// Malformed input gets a protocol or tool error in REST's words and
/// stores nothing.
async fn bad_input_is_refused_clearly_and_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({"id": "bad", "is_public": true}))
        .await;
    server
        .create_channel(json!({"id": "elsewhere", "is_public": true}))
        .await;
    let elsewhere = server.publish("elsewhere", json!({"data": 1})).await;
    let mcp = Mcp::new(&server, Some(ADMIN));

    let unknown = mcp
        .request(
            "tools/call",
            json!({"name": "drop_tables", "arguments": {}}),
        )
        .await;
    assert!(unknown["error"]["code"].is_i64(), "{unknown}");
    for arguments in [
        json!({"channel": "bad", "events": [{"data": 1}], "surprise": true}),
        json!({"channel": "bad", "events": "not a list"}),
        json!({"channel": "bad", "events": [{"data": 1, "colour": "red"}]}),
    ] {
        let message = mcp
            .request(
                "tools/call",
                json!({"name": "publish_events", "arguments": arguments}),
            )
            .await;
        let refused = message.get("error").is_some() || message["result"]["isError"] == json!(true);
        assert!(refused, "{message}");
    }
    let cases = [
        (
            "publish_events",
            json!({"channel": "bad", "events": []}),
            "(400)",
        ),
        (
            "publish_events",
            json!({"channel": "bad", "events": [{"type": "nul\u{0}", "data": 1}]}),
            "(400)",
        ),
        (
            "publish_events",
            json!({"channel": "bad", "events": (0..101).map(|i| json!({"data": i})).collect::<Vec<_>>()}),
            "(400)",
        ),
        (
            "publish_events",
            json!({"channel": "bad", "events": [{"data": "x".repeat(70_000)}]}),
            "(413)",
        ),
        (
            "publish_events",
            json!({"channel": "nope", "events": [{"data": 1}]}),
            "(404)",
        ),
        (
            "read_events",
            json!({"channel": "bad", "after": elsewhere["id"]}),
            "(404)",
        ),
        (
            "read_events",
            json!({"channel": "bad", "after": "not-a-cursor"}),
            "(400)",
        ),
        (
            "read_events",
            json!({"channel": "bad", "since": "yesterday"}),
            "(400)",
        ),
        (
            "wait_for_events",
            json!({"channel": "bad", "timeout_seconds": 61}),
            "(400)",
        ),
    ];
    for (tool, arguments, status) in cases {
        let text = mcp.tool(tool, arguments.clone()).await.refused();
        assert!(text.contains(status), "{tool} {arguments}: {text}");
        assert!(!text.contains("(5"), "never a 5xx: {text}");
    }
    assert_eq!(server.all_events("bad").await.len(), 0, "nothing stored");

    let oversize = Mcp::new(&server, Some(ADMIN))
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "publish_events",
            "arguments": {"channel": "bad", "events": [{"data": "y".repeat(2 * 1024 * 1024)}]}}}))
        .await;
    assert_eq!(oversize.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A new connection: the server closed the one it refused mid-body.
    let garbage = common::http_client()
        .post(format!("http://{}/mcp", server.addr))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(garbage.status().is_client_error(), "{}", garbage.status());
    // Read on a new connection too: the shared client's pool may still hold
    // the one the server closed after the 413 (CI once reused it and failed).
    let stored: Value = common::http_client()
        .get(format!(
            "http://{}/api/v1/channels/bad/events?limit=1000",
            server.addr
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["events"], json!([]), "nothing stored");
}

/// `?token=` is refused (400), an invalid token is a 401 at the door with
/// no OAuth metadata, and a browser's `Origin` is refused (403).
async fn the_door_refuses_urls_with_tokens_bad_tokens_and_browsers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let send = |url: String, token: Option<&'static str>, origin: Option<&'static str>| {
        let mut request = server
            .http
            .post(url)
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", common::mcp::PROTOCOL)
            .json(&list);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        request.send()
    };
    let url = format!("http://{}/mcp", server.addr);
    let in_url = send(format!("{url}?token={ADMIN}"), None, None)
        .await
        .unwrap();
    assert_eq!(in_url.status(), StatusCode::BAD_REQUEST);
    assert!(in_url.text().await.unwrap().contains("Authorization"));
    let bad = send(url.clone(), Some("chs_not_a_real_token"), None)
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let challenge = bad.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("invalid_token") && !challenge.contains("resource_metadata"),
        "{challenge}"
    );
    let browser = send(url.clone(), Some(ADMIN), Some("https://evil.example"))
        .await
        .unwrap();
    assert_eq!(browser.status(), StatusCode::FORBIDDEN);
    let fine = send(url, Some(ADMIN), None).await.unwrap();
    assert_eq!(fine.status(), StatusCode::OK);
}

/// `channelhub mcp` relays stdin lines to `/mcp` and answers to stdout; a
/// `notifications/cancelled` drops the call it names, so its wait frees its
/// slot; an unreachable server is a clear error and a non-zero exit.
async fn the_stdio_relay_carries_calls_and_cancellations(backend: Backend) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let server =
        TestServer::start_with(backend, &[LIMIT_LOOPBACK, "--max-connections-per-ip", "1"]).await;
    server
        .create_channel(json!({"id": "relayed", "is_public": true}))
        .await;
    let mut relay = tokio::process::Command::new(env!("CARGO_BIN_EXE_channelhub"))
        .args([
            "mcp",
            "--url",
            &format!("http://{}", server.addr),
            "--token",
            ADMIN,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = relay.stdin.take().unwrap();
    let mut stdout = BufReader::new(relay.stdout.take().unwrap()).lines();
    let mut send = async |message: Value| {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    };
    send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})).await;
    let line = stdout.next_line().await.unwrap().unwrap();
    let init: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(init["result"]["serverInfo"]["name"], "channelhub");
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "publish_events",
        "arguments": {"channel": "relayed", "events": [{"data": "via stdio"}]}}})).await;
    let published: Value =
        serde_json::from_str(&stdout.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(published["id"], 2);
    assert_eq!(
        tool_answer(&published).ok()["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A long wait, cancelled: its slot (one per address here) is free again.
    send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "wait_for_events",
        "arguments": {"channel": "relayed", "timeout_seconds": 60}}})).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}}),
    )
    .await;
    let mut answered = None;
    for attempt in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        send(json!({"jsonrpc": "2.0", "id": 100 + attempt, "method": "tools/call", "params": {"name": "wait_for_events",
            "arguments": {"channel": "relayed", "timeout_seconds": 1}}})).await;
        let message: Value =
            serde_json::from_str(&stdout.next_line().await.unwrap().unwrap()).unwrap();
        assert_ne!(message["id"], 3, "the cancelled call is not answered");
        if let common::mcp::ToolAnswer::Ok(page) = tool_answer(&message) {
            answered = Some(page);
            break;
        }
    }
    assert_eq!(
        answered.expect("a wait after the cancellation got the slot")["timed_out"],
        true
    );
    drop(stdin);
    assert!(
        relay.wait().await.unwrap().success(),
        "stdin closed: the relay ends"
    );

    let unreachable = tokio::process::Command::new(env!("CARGO_BIN_EXE_channelhub"))
        .args(["mcp", "--url", "http://127.0.0.1:1"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach the server"));
}

/// A raw `/mcp` request, owned (it may outlive the borrow of the server).
fn raw_call(server: &TestServer, message: Value) -> reqwest::RequestBuilder {
    server
        .http
        .post(format!("http://{}/mcp", server.addr))
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", common::mcp::PROTOCOL)
        .json(&message)
}

fn wait_call(id: u32, channel: &str, seconds: u32) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "wait_for_events", "arguments": {"channel": channel, "timeout_seconds": seconds}}})
}

/// Review finding: at shutdown, waits got an empty HTTP 500 from rmcp's
/// own shutdown; each now answers an empty page with its cursor.
async fn waits_answer_an_empty_page_at_shutdown(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({"id": "closing", "is_public": true}))
        .await;
    let waits: Vec<_> = (0..4)
        .map(|i| tokio::spawn(raw_call(&server, wait_call(i, "closing", 30)).send()))
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status();
    for wait in waits {
        let response = wait
            .await
            .unwrap()
            .expect("an answer, not a dropped connection");
        assert_eq!(response.status(), StatusCode::OK);
        let (message, _) = answer(response).await;
        let page = tool_answer(&message).ok();
        assert_eq!(page["events"], json!([]));
        assert_eq!(page["timed_out"], true);
    }
}

/// Review finding: stateless rmcp ignores `notifications/cancelled`, so a
/// cancelled wait held its slot until its timeout; it now ends the wait it
/// names (the caller's own calls only), and the slot is free at once.
async fn a_cancellation_ends_the_wait_it_names_and_frees_its_slot(backend: Backend) {
    let server =
        TestServer::start_with(backend, &[LIMIT_LOOPBACK, "--max-connections-per-ip", "2"]).await;
    server
        .create_channel(json!({"id": "cancel-me", "is_public": true}))
        .await;
    let first = tokio::spawn(raw_call(&server, wait_call(41, "cancel-me", 60)).send());
    let second = tokio::spawn(raw_call(&server, wait_call(42, "cancel-me", 60)).send());
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let full = Mcp::new(&server, None)
        .tool(
            "wait_for_events",
            json!({"channel": "cancel-me", "timeout_seconds": 1}),
        )
        .await
        .refused();
    assert!(full.contains("(429)"), "{full}");
    // Another caller's cancellation of id 41 does nothing.
    let other = Mcp::new(&server, Some(ADMIN))
        .post(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 41}}))
        .await;
    assert_eq!(other.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !first.is_finished(),
        "another caller cannot cancel the wait"
    );
    let cancelled = Mcp::new(&server, None)
        .post(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 41}}))
        .await;
    assert_eq!(cancelled.status(), StatusCode::ACCEPTED);
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), first)
        .await
        .expect("the cancelled wait answers at once")
        .unwrap()
        .unwrap();
    let (message, _) = answer(response).await;
    assert!(tool_answer(&message).refused().contains("Cancelled"));
    let freed = Mcp::new(&server, None)
        .tool(
            "wait_for_events",
            json!({"channel": "cancel-me", "timeout_seconds": 1}),
        )
        .await
        .ok();
    assert_eq!(freed["timed_out"], true, "its slot is free");
    second.abort();
}

/// Review finding: rmcp reads a body without a deadline, so a body
/// trickled in held a connection past `--body-timeout`; now 408, as REST.
async fn a_trickled_body_times_out(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = TestServer::start_with(backend, &["--body-timeout", "1"]).await;
    let mut socket = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    socket
        .write_all(
            b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{",
        )
        .await
        .unwrap();
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), socket.read(&mut answer))
        .await
        .expect("an answer before the client finished its body")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..read]);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
}

/// Review finding: a header that is not `Bearer <token>` (a common host
/// misconfiguration) was taken for no credential, and a repeated `?token=`
/// slipped past the refusal; both are refused now.
async fn credentials_that_are_not_bearer_or_sit_in_the_url_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    for header in [
        ADMIN.to_owned(),
        format!("Basic {ADMIN}"),
        "Bearer ".to_owned(),
    ] {
        let response = raw_call(&server, list.clone())
            .header("Authorization", header.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("invalid_request"), "{challenge}");
    }
    for query in [
        format!("token={ADMIN}&token={ADMIN}"),
        format!("x=1&token={ADMIN}"),
    ] {
        let response = server
            .http
            .post(format!("http://{}/mcp?{query}", server.addr))
            .header("Accept", "application/json, text/event-stream")
            .json(&list)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
    }
}

/// A plain wait parks before rmcp sees the request (`tools::prewait`); one
/// that rmcp will refuse for its headers or shape must not park first:
/// each of these 60 s waits on a quiet channel is refused at once (the
/// client gives up after 20 s).
async fn a_wait_rmcp_refuses_is_refused_before_any_wait(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .create_channel(json!({"id": "quiet", "is_public": true}))
        .await;
    let call = |headers: &[(&str, &str)]| {
        let mut request = server
            .http
            .post(format!("http://{}/mcp", server.addr))
            .json(&wait_call(7, "quiet", 60));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    };
    // The newest protocol: the version and capabilities in `_meta`, the
    // method and tool in headers.
    let call_new = |headers: &[(&str, &str)]| {
        let mut message = wait_call(8, "quiet", 60);
        message["params"]["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
        let mut request = server
            .http
            .post(format!("http://{}/mcp", server.addr))
            .json(&message);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    };
    let new = ("MCP-Protocol-Version", "2026-07-28");
    let method = ("Mcp-Method", "tools/call");
    let name = ("Mcp-Name", "wait_for_events");
    let accept = ("Accept", "application/json, text/event-stream");
    let version = ("MCP-Protocol-Version", common::mcp::PROTOCOL);
    let raw = |method: Method, content_type: &str, body: String| {
        server
            .http
            .request(method, format!("http://{}/mcp", server.addr))
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", common::mcp::PROTOCOL)
            .header("Content-Type", content_type)
            .body(body)
    };
    let wait = wait_call(7, "quiet", 60).to_string();
    let json_type = "application/json";
    let cases = [
        (
            "another HTTP method",
            raw(Method::PUT, json_type, wait.clone()),
        ),
        (
            "a duplicate key (rmcp refuses it; a Value keeps the last)",
            raw(
                Method::POST,
                json_type,
                wait.replacen("{", r#"{"method":"tools/list","#, 1),
            ),
        ),
        (
            "a content type that only mentions JSON",
            raw(Method::POST, "text/plain; x=application/json", wait.clone()),
        ),
        (
            "a body version without the header",
            server
                .http
                .post(format!("http://{}/mcp", server.addr))
                .header("Accept", "application/json, text/event-stream")
                .json(&{
                    let mut call = wait_call(7, "quiet", 60);
                    call["params"]["_meta"] =
                        json!({"io.modelcontextprotocol/protocolVersion": "2025-06-18"});
                    call
                }),
        ),
        (
            "_meta that is not an object",
            raw(
                Method::POST,
                json_type,
                wait.replacen(r#""name""#, r#""_meta":5,"name""#, 1),
            ),
        ),
        (
            "JSON refused in Accept (q=0)",
            call(&[
                ("Accept", "application/json;q=0, text/event-stream"),
                version,
            ]),
        ),
        (
            "an unknown protocol version",
            call(&[accept, ("MCP-Protocol-Version", "1999-01-01")]),
        ),
        (
            "a method header that differs from the body",
            call_new(&[accept, new, ("Mcp-Method", "tools/list"), name]),
        ),
        ("no tool name header", call_new(&[accept, new, method])),
        (
            "no text/event-stream in Accept",
            call(&[("Accept", "application/json"), version]),
        ),
        (
            "the 2026-07-28 header without the version in _meta",
            call(&[accept, ("MCP-Protocol-Version", "2026-07-28")]),
        ),
    ];
    for (case, request) in cases {
        let response = request
            .timeout(std::time::Duration::from_secs(20))
            .send()
            .await
            .unwrap_or_else(|err| panic!("{case}: no answer within 20 s ({err})"));
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(
            status.is_client_error() || body.contains("\"error\""),
            "{case}: refused, got {status} {body}"
        );
    }
    // The same call with every header right waits, and answers its page.
    let mut message = wait_call(9, "quiet", 1);
    message["params"]["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let response = server
        .http
        .post(format!("http://{}/mcp", server.addr))
        .header(accept.0, accept.1)
        .header(new.0, new.1)
        .header(method.0, method.1)
        .header(name.0, name.1)
        .json(&message)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    let (message, _) = answer(response).await;
    let page = tool_answer(&message).ok();
    assert_eq!(
        (page["events"].clone(), page["timed_out"].clone()),
        (json!([]), json!(true))
    );
}
