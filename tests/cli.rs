//! The command-line client (SPEC §8), run as a user would: the built binary
//! against a real server, on SQLite and PostgreSQL.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Output, Stdio},
    sync::mpsc,
    time::Duration,
};

use common::{ADMIN, Backend, TestServer};
use serde_json::{Value, json};

/// SPEC §7: every setting is a `serve` flag with an environment fallback, and
/// `channelhub --help` lists them all.
#[test]
fn help_lists_every_setting() {
    for args in [&["--help"][..], &["serve", "--help"][..]] {
        let output = Command::new(env!("CARGO_BIN_EXE_channelhub"))
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success());
        let help = String::from_utf8(output.stdout).unwrap();
        for (flag, env) in [
            ("--listen", "CHANNELHUB_LISTEN"),
            ("--database-url", "DATABASE_URL"),
            ("--admin-token", "CHANNELHUB_ADMIN_TOKEN"),
            ("--ping-interval", "CHANNELHUB_PING_INTERVAL"),
            (
                "--allow-private-webhooks",
                "CHANNELHUB_ALLOW_PRIVATE_WEBHOOKS",
            ),
            ("--max-connections", "CHANNELHUB_MAX_CONNECTIONS"),
        ] {
            assert!(
                help.contains(flag) && help.contains(env),
                "{args:?} lacks {flag} / {env}:\n{help}"
            );
        }
    }
}

on_both_backends!(
    manages_channels_tokens_and_webhooks,
    publishes_single_events_and_stdin_batches,
    tail_follows_across_a_server_restart,
);

fn cli(server: &TestServer, token: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_channelhub"))
        .args(args)
        .env("CHANNELHUB_URL", format!("http://{}", server.addr))
        .env("CHANNELHUB_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the client");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("client output")
}

fn ok_json_lines(output: &Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON document per line"))
        .collect()
}

async fn manages_channels_tokens_and_webhooks(backend: Backend) {
    let server = TestServer::start_with(backend, &["--allow-private-webhooks"]).await;
    let created = ok_json_lines(&cli(
        &server,
        ADMIN,
        &[
            "--json",
            "channel",
            "create",
            "ops",
            "--private",
            "--tag",
            "infra",
        ],
        None,
    ));
    assert_eq!(created[0]["id"], "ops");
    assert_eq!(created[0]["is_public"], false);
    assert_eq!(created[0]["tags"], json!(["infra"]));
    let readable = cli(&server, ADMIN, &["channel", "list"], None);
    assert!(String::from_utf8_lossy(&readable.stdout).contains("ops  ops  private"));
    assert_eq!(
        ok_json_lines(&cli(
            &server,
            ADMIN,
            &["--json", "channel", "get", "ops"],
            None
        ))[0]["id"],
        "ops"
    );

    let token = &ok_json_lines(&cli(
        &server,
        ADMIN,
        &[
            "--json", "token", "create", "ops", "--kind", "publish", "--name", "bot",
        ],
        None,
    ))[0];
    assert!(token["token"].as_str().unwrap().starts_with("chs_"));
    let listed = ok_json_lines(&cli(
        &server,
        ADMIN,
        &["--json", "token", "list", "ops"],
        None,
    ));
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("token").is_none(), "no secret in listings");
    // The publish token works through the client too.
    let secret = token["token"].as_str().unwrap();
    let event = &ok_json_lines(&cli(
        &server,
        secret,
        &["--json", "publish", "ops", "{\"up\":true}"],
        None,
    ))[0];
    assert_eq!(event["publisher_name"], "bot");
    let revoke = cli(
        &server,
        ADMIN,
        &["token", "revoke", "ops", token["id"].as_str().unwrap()],
        None,
    );
    assert!(revoke.status.success());
    let refused = cli(&server, secret, &["publish", "ops", "1"], None);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Unauthorized"),
        "{refused:?}"
    );

    let hook = &ok_json_lines(&cli(
        &server,
        ADMIN,
        &[
            "--json",
            "webhook",
            "add",
            "ops",
            "http://127.0.0.1:9/hook",
            "--types",
            "a,b",
        ],
        None,
    ))[0];
    assert_eq!(hook["event_types"], json!(["a", "b"]));
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        ok_json_lines(&cli(
            &server,
            ADMIN,
            &["--json", "webhook", "list", "ops"],
            None
        ))
        .len(),
        1
    );
    assert!(
        cli(
            &server,
            ADMIN,
            &["webhook", "rm", "ops", hook["id"].as_str().unwrap()],
            None
        )
        .status
        .success()
    );

    assert!(
        cli(&server, ADMIN, &["channel", "delete", "ops"], None)
            .status
            .success()
    );
    let missing = cli(&server, ADMIN, &["channel", "get", "ops"], None);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("Not Found") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

async fn publishes_single_events_and_stdin_batches(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "bulk"})).await;
    let single = ok_json_lines(&cli(
        &server,
        ADMIN,
        &["--json", "publish", "bulk", "--type", "first", "{\"n\":-1}"],
        None,
    ));
    assert_eq!(single[0]["type"], "first");
    let input: String = (0..250).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    let output = cli(
        &server,
        ADMIN,
        &["publish", "bulk", "--type", "line", "-"],
        Some(&input),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("published 250 events"));
    let stored = server.all_events("bulk").await;
    assert_eq!(stored.len(), 251);
    let numbers: Vec<i64> = stored[1..]
        .iter()
        .map(|e| e["data"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        (0..250).collect::<Vec<_>>(),
        "stdin order is publish order"
    );
    let bad = cli(
        &server,
        ADMIN,
        &["publish", "bulk", "-"],
        Some("{\"ok\":1}\nnot json\n"),
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("line 2"));
}

async fn tail_follows_across_a_server_restart(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "tailed"})).await;
    let mut published = Vec::new();
    for i in 0..3 {
        published.push(
            server.publish("tailed", json!({"data": i})).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut tail = Command::new(env!("CARGO_BIN_EXE_channelhub"))
        .args(["--json", "tail", "-f", "tailed", "-n", "2"])
        .env("CHANNELHUB_URL", format!("http://{}", server.addr))
        .env("CHANNELHUB_TOKEN", ADMIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, printed) = mpsc::channel::<String>();
    let stdout = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let next_id = || {
        let line = printed
            .recv_timeout(Duration::from_secs(20))
            .expect("tail printed an event");
        serde_json::from_str::<Value>(&line).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // The last two stored events first.
    assert_eq!(
        [next_id(), next_id()],
        [published[1].clone(), published[2].clone()]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 3..5 {
        published.push(
            server.publish("tailed", json!({"data": i})).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        [next_id(), next_id()],
        [published[3].clone(), published[4].clone()]
    );

    // Force a disconnect: stop the server, start it again on the same address,
    // and publish before the client is back. It resumes with `after`.
    assert!(server.stop().success());
    server.restart_in_place();
    for i in 5..8 {
        published.push(
            server.publish("tailed", json!({"data": i})).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let resumed: Vec<String> = (0..3).map(|_| next_id()).collect();
    assert_eq!(resumed, published[5..8], "nothing missed, nothing repeated");
    assert!(
        printed.recv_timeout(Duration::from_millis(500)).is_err(),
        "no duplicate afterwards"
    );
    let _ = tail.kill();
    let _ = tail.wait();
}
