//! The command-line client (SPEC §8), run as a user would: the built binary
//! against a real server, on SQLite and PostgreSQL.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Output, Stdio},
    sync::mpsc,
    time::Duration,
};

use common::{ADMIN, Backend, TestServer, eventually};
use serde_json::{Value, json};

/// The settings of `channelhub serve`, read from `src/config.rs` (the clap
/// struct): each field's flag and its `env` fallback.
fn settings_in_source() -> Vec<(String, String)> {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/config.rs"))
        .expect("read src/config.rs");
    let start = source
        .find("pub struct ServeConfig {")
        .expect("ServeConfig in src/config.rs");
    let body = &source[start..];
    let body = &body[..body.find("\n}").expect("the end of ServeConfig")];
    let mut settings = Vec::new();
    let mut env = None;
    for line in body.lines().skip(1) {
        let line = line.trim();
        if let Some(rest) = line.split("env = \"").nth(1) {
            env = Some(rest[..rest.find('"').unwrap()].to_owned());
        }
        if let Some(field) = line.strip_prefix("pub ") {
            let name = &field[..field.find(':').expect("a field")];
            let env = env
                .take()
                .unwrap_or_else(|| panic!("{name} has no env fallback in src/config.rs"));
            settings.push((format!("--{}", name.replace('_', "-")), env));
        }
    }
    settings
}

/// SPEC §7: every setting is a `serve` flag with an environment fallback, and
/// `channelhub --help` lists them all (each with its own variable).
#[test]
fn help_lists_every_setting() {
    let settings = settings_in_source();
    assert!(
        settings.len() >= 16,
        "the README documents 16 settings; src/config.rs gave {settings:?}"
    );
    for args in [&["--help"][..], &["serve", "--help"][..]] {
        let output = Command::new(env!("CARGO_BIN_EXE_channelhub"))
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success());
        let help = String::from_utf8(output.stdout).unwrap();
        for (flag, env) in &settings {
            // The option's block: its `--flag` line and the description after it.
            let lines: Vec<&str> = help.lines().collect();
            let at = lines
                .iter()
                .position(|l| {
                    let l = l.trim_start();
                    l == flag || l.starts_with(&format!("{flag} "))
                })
                .unwrap_or_else(|| panic!("{args:?} lacks {flag}:\n{help}"));
            let block: String = lines[at..]
                .iter()
                .take_while(|l| l.trim_start().starts_with("--") == (*l == &lines[at]))
                .copied()
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                block.contains(&format!("[env: {env}="))
                    || block.contains(&format!("[env: {env}]")),
                "{args:?}: {flag} does not name {env}:\n{block}"
            );
        }
    }
}

on_both_backends!(
    manages_channels_tokens_and_webhooks,
    publishes_single_events_and_stdin_batches,
    tail_follows_across_a_server_restart,
    tail_filters_by_types,
    tail_warns_when_events_were_removed_while_it_was_away,
    makes_keys_mints_and_checks_jwts,
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
    // At most 60 s: a client that hangs fails the test (and is killed).
    let pid = child.id();
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output().expect("client output"));
    });
    match output.recv_timeout(common::scaled(Duration::from_secs(60))) {
        Ok(output) => output,
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("`channelhub {}` did not finish within 60 s", args.join(" "));
        }
    }
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
    let tail = Tail::start(&server, &["--json", "tail", "-f", "tailed", "-n", "2"]);
    let next_id = || {
        let line = tail
            .lines
            .recv_timeout(common::scaled(Duration::from_secs(20)))
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
    // No duplicate afterwards: the next line printed is the next event published.
    let last = server.publish("tailed", json!({"data": 8})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(next_id(), last, "no duplicate after resuming");
}

/// A `tail` process whose stdout lines arrive on a channel; killed when dropped.
async fn tail_warns_when_events_were_removed_while_it_was_away(backend: Backend) {
    let mut server = TestServer::start_with(backend, &["--retention-interval", "0.2"]).await;
    server
        .create_channel(json!({"id": "trimmed", "retention": {"max_events": 5}}))
        .await;
    server.publish("trimmed", json!({"data": -1})).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_channelhub"))
        .args(["--json", "tail", "-f", "trimmed", "-n", "1"])
        .env("CHANNELHUB_URL", format!("http://{}", server.addr))
        .env("CHANNELHUB_TOKEN", ADMIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let collect = |pipe: Box<dyn std::io::Read + Send>| {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let keep = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { return };
                keep.lock().unwrap().push(line);
            }
        });
        lines
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    eventually("tail prints the stored event and follows", || async {
        stdout.lock().unwrap().len() == 1 && server.subscribers("trimmed").await == 1
    })
    .await;

    // While the tail's server is away, another process on the same database
    // publishes 20 events and retention keeps 5: 15 are gone for good.
    let (addr, base) = (server.addr.clone(), server.base.clone());
    assert!(server.stop().success());
    server.restart();
    for n in 0..20 {
        server.publish("trimmed", json!({"data": n})).await;
    }
    eventually("retention keeps the newest 5", || async {
        server.all_events("trimmed").await.len() == 5
    })
    .await;
    assert!(server.stop().success());
    (server.addr, server.base) = (addr, base);
    server.restart_in_place();

    eventually("tail warns that events were removed", || async {
        stderr
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains("warning") && line.contains("removed"))
    })
    .await;
    eventually("tail goes on with the events still held", || async {
        let printed = stdout.lock().unwrap();
        printed.len() == 6
            && printed
                .last()
                .is_some_and(|line| line.contains("\"data\":19"))
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
}

struct Tail {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Tail {
    fn start(server: &TestServer, args: &[&str]) -> Tail {
        let mut child = Command::new(env!("CARGO_BIN_EXE_channelhub"))
            .args(args)
            .env("CHANNELHUB_URL", format!("http://{}", server.addr))
            .env("CHANNELHUB_TOKEN", ADMIN)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (sender, lines) = mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Tail { child, lines }
    }

    /// The next printed event's `(type, data)`, within 20 s.
    fn next(&self) -> (Value, Value) {
        let line = self
            .lines
            .recv_timeout(common::scaled(Duration::from_secs(20)))
            .expect("tail printed an event within 20 s");
        let event: Value = serde_json::from_str(&line).unwrap();
        (event["type"].clone(), event["data"].clone())
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `channelhub tail [-f] <channel> --types a,b` (README, SPEC §8): only those
/// types, from the store and live.
async fn tail_filters_by_types(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_channel(json!({"id": "typed-tail"})).await;
    for (n, event_type) in [json!("a"), json!("b"), Value::Null, json!("c"), json!("a")]
        .into_iter()
        .enumerate()
    {
        server
            .publish("typed-tail", json!({"type": event_type, "data": n}))
            .await;
    }
    // Without -f: the newest matching events, oldest first, then exit.
    let output = cli(
        &server,
        ADMIN,
        &["--json", "tail", "typed-tail", "--types", "a,c", "-n", "10"],
        None,
    );
    let printed: Vec<(Value, Value)> = ok_json_lines(&output)
        .iter()
        .map(|e| (e["type"].clone(), e["data"].clone()))
        .collect();
    assert_eq!(
        printed,
        [
            (json!("a"), json!(0)),
            (json!("c"), json!(3)),
            (json!("a"), json!(4))
        ]
    );

    let tail = Tail::start(
        &server,
        &[
            "--json",
            "tail",
            "-f",
            "typed-tail",
            "--types",
            "b",
            "-n",
            "5",
        ],
    );
    assert_eq!(tail.next(), (json!("b"), json!(1)));
    // Live: only type b comes through; each b is the next line printed.
    eventually("tail is connected", || async {
        server
            .call(reqwest::Method::GET, "/channels/typed-tail", None, None)
            .await
            .1["subscribers"]
            == 1
    })
    .await;
    for (n, event_type) in [json!("a"), json!("b"), Value::Null, json!("c"), json!("b")]
        .into_iter()
        .enumerate()
    {
        server
            .publish("typed-tail", json!({"type": event_type, "data": 10 + n}))
            .await;
    }
    assert_eq!(tail.next(), (json!("b"), json!(11)));
    assert_eq!(tail.next(), (json!("b"), json!(14)));
}

/// `channelhub jwt keygen | mint | check`: a key pair whose public half the
/// admin trusts, tokens minted with it and with the HS256 secret, and the
/// server's answer about each (or its reason to refuse one).
async fn makes_keys_mints_and_checks_jwts(backend: Backend) {
    const SECRET: &str = "cli-jwt-secret-0123456789abcdef0123";
    let server = TestServer::start_with(backend, &["--jwt-secret", SECRET]).await;
    let stdout = |output: &Output| {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout.clone()).unwrap()
    };
    let pair: Value = serde_json::from_str(&stdout(&cli(
        &server,
        "",
        &["jwt", "keygen", "--kid", "cli-key"],
        None,
    )))
    .unwrap();
    let (status, key) = server
        .call(
            reqwest::Method::POST,
            "/keys",
            Some(ADMIN),
            Some(pair["register"].clone()),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{key}");
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.json");
    std::fs::write(&key_file, pair.to_string()).unwrap();
    let minted = stdout(&cli(
        &server,
        "",
        &[
            "jwt",
            "mint",
            "--key",
            key_file.to_str().unwrap(),
            "--scope",
            "sub:cli-*",
            "--sub",
            "dev",
            "--ttl",
            "60",
        ],
        None,
    ));
    let token = minted.trim();
    let who: Value =
        serde_json::from_str(&stdout(&cli(&server, "", &["jwt", "check", token], None))).unwrap();
    assert_eq!(who["kind"], "jwt");
    assert_eq!(who["kid"], "cli-key");
    assert_eq!(who["subject"], "dev");
    assert_eq!(who["scopes"], json!(["sub:cli-*"]));

    // An admin token from the secret drives the rest of the client.
    let admin_jwt = stdout(&cli(
        &server,
        "",
        &[
            "jwt", "mint", "--secret", SECRET, "--scope", "admin", "--sub", "ops",
        ],
        None,
    ));
    let created = ok_json_lines(&cli(
        &server,
        admin_jwt.trim(),
        &["--json", "channel", "create", "cli-made"],
        None,
    ));
    assert_eq!(created[0]["id"], "cli-made");

    // A token the server refuses: the reason, not the token.
    let wrong = stdout(&cli(
        &server,
        "",
        &[
            "jwt",
            "mint",
            "--secret",
            &format!("{SECRET}-not-it"),
            "--scope",
            "admin",
        ],
        None,
    ));
    let refused = cli(&server, "", &["jwt", "check", wrong.trim()], None);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("unknown key or bad signature"), "{stderr}");
    assert!(!stderr.contains(wrong.trim()), "{stderr}");
}
