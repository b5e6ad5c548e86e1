//! The console at `/`, in headless Chromium driven over WebDriver
//! (chromedriver), as an operator uses it: sign in, create and edit a
//! channel with strict types, mint and revoke tokens, register a webhook and
//! read why its deliveries failed, delete with a confirmation; follow
//! several channels live on one socket with a type filter, pause and resume
//! without losing events, inspect an event, check and publish from the page,
//! see a revoked token end its live view; the server's cards. Bad input
//! gets a readable message and nothing is sent that the server would refuse
//! where the page can know it; event data is shown as text only. On SQLite
//! and PostgreSQL. `.ci/run` installs Debian's chromium and chromium-driver;
//! without them the tests fail under CI and say `SKIPPED` elsewhere.
//! Screenshots are left in `test-artifacts/` (ignored by git).

mod common;

use std::{
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{
    ADMIN, Backend, TestServer,
    receiver::{Behaviour, Receiver},
    within,
};
use fantoccini::{Client, ClientBuilder, Locator, elements::Element, error::CmdError};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    console_manages_channels_tokens_and_webhooks,
    console_follows_channels_live_and_publishes,
);

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(15);

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A browser on the console page, or `None` (skipped) without Chromium.
struct Page {
    browser: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Page {
    async fn open(test: &str, server: &TestServer) -> Option<Page> {
        if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(CHROMEDRIVER).exists()
        {
            common::skip_or_fail(
                test,
                "chromium and chromium-driver are not installed (/usr/bin/chromium, /usr/bin/chromedriver)",
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Driver(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                     format!("--user-data-dir={}", profile.path().display())]
        }});
        let browser = within(
            Duration::from_secs(60),
            "a WebDriver session from chromedriver",
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.as_object().unwrap().clone())
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .expect("a WebDriver session");
        browser
            .goto(&format!("http://{}/", server.addr))
            .await
            .unwrap();
        Some(Page {
            browser,
            _driver: driver,
            _profile: profile,
        })
    }

    async fn find(&self, css: &str) -> Result<Element, CmdError> {
        let found = self
            .browser
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await;
        if found.is_err() {
            eprintln!("not found within {WAIT:?}: {css}");
            self.screenshot("console-failure").await;
        }
        found
    }

    async fn click(&self, css: &str) -> Result<(), CmdError> {
        self.find(css).await?.click().await
    }

    /// Replaces a field's text, as a person selects it and types.
    async fn fill(&self, id: &str, text: &str) -> Result<(), CmdError> {
        let field = self.find(&format!("#{id}")).await?;
        field.clear().await?;
        field.send_keys(text).await
    }

    /// Waits until the element shows `text`; answers what it shows.
    async fn shows(&self, css: &str, text: &str) -> Result<String, CmdError> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let shown = match self.browser.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if shown.contains(text) || tokio::time::Instant::now() > deadline {
                if !shown.contains(text) {
                    self.screenshot("console-failure").await;
                }
                assert!(shown.contains(text), "{css} shows {shown:?}, not {text:?}");
                return Ok(shown);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn sign_in(&self, token: &str) -> Result<(), CmdError> {
        self.fill("token", token).await?;
        self.click("#sign-in-btn").await
    }

    async fn screenshot(&self, name: &str) {
        let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/test-artifacts");
        std::fs::create_dir_all(directory).unwrap();
        if let Ok(png) = self.browser.screenshot().await {
            std::fs::write(format!("{directory}/{name}.png"), png).unwrap();
        }
    }

    async fn close(self) {
        let _ = within(
            Duration::from_secs(20),
            "the browser to close",
            self.browser.close(),
        )
        .await;
    }
}

async fn api(server: &TestServer, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, body) = server.call(method, path, Some(ADMIN), body).await;
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

async fn console_manages_channels_tokens_and_webhooks(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            "--allow-private-webhooks",
            "--webhook-retry-base",
            "0.05",
            "--webhook-retry-max",
            "0.2",
        ],
    )
    .await;
    // More channels than one page (100): the rest come with "More channels".
    for n in 0..101 {
        server
            .create_channel(json!({"id": format!("page-{n:03}")}))
            .await;
    }
    let Some(page) = Page::open("console_manages_channels_tokens_and_webhooks", &server).await
    else {
        return;
    };
    let receiver = Receiver::start(Behaviour {
        fail_first: 2,
        ..Behaviour::default()
    })
    .await;
    let result = within(Duration::from_secs(180), "the operator's scenario", async {
        // A wrong token is said to be wrong; the admin token signs in.
        page.sign_in("chs_not_a_real_token").await?;
        page.shows("#notice", "401").await?;
        page.sign_in(ADMIN).await?;
        page.shows("#identity", "admin").await?;
        page.find(r#"#channel-list tr[data-channel="page-099"]"#)
            .await?;
        assert!(
            page.browser
                .find(Locator::Css(r#"#channel-list tr[data-channel="page-100"]"#))
                .await
                .is_err()
        );
        page.click("#more-channels").await?;
        page.find(r#"#channel-list tr[data-channel="page-100"]"#)
            .await?;

        // A new private channel with a strict type; bad schemas are refused in words.
        page.click("#new-channel-box summary").await?;
        page.fill("new-channel-id", "orders").await?;
        page.fill("new-channel-name", "Orders").await?;
        page.fill("new-channel-tags", "shop, eu").await?;
        page.click("#new-channel-private").await?;
        page.click("#new-channel-strict").await?;
        page.fill("new-channel-types", "{not json").await?;
        page.click("#new-channel-save").await?;
        page.shows("#new-channel-result", "Types are not JSON")
            .await?;
        page.fill("new-channel-types", r#"{"order.created": {"type": 5}}"#)
            .await?;
        page.click("#new-channel-save").await?;
        page.shows("#new-channel-result", "(400)").await?;
        page.fill(
            "new-channel-types",
            r#"{"order.created": {"type": "object", "required": ["id"]}}"#,
        )
        .await?;
        page.click("#new-channel-save").await?;
        page.shows("#notice", "Created orders").await?;
        page.shows(r#"#channel-list tr[data-channel="orders"]"#, "private")
            .await?;

        // Search, then edit the description.
        page.fill("channel-search", "eu").await?;
        page.shows("#channel-list", "orders").await?;
        page.fill("edit-channel-description", "what customers order")
            .await?;
        page.click("#edit-channel-save").await?;
        page.shows("#edit-channel-result", "Saved").await?;

        // A token, its secret shown once, then revoked.
        page.click("#token-kind option[value=publish]").await?;
        page.fill("token-name", "checkout").await?;
        page.click("#mint-token").await?;
        let secret = page.shows("#secret-value", "chs_").await?;
        page.shows("#token-list", "checkout").await?;
        let tokens = api(&server, Method::GET, "/channels/orders/tokens", None).await;
        let token_id = tokens[0]["id"].as_str().unwrap().to_owned();
        page.click(&format!(r#"button[data-revoke="{token_id}"]"#))
            .await?;
        page.shows("#notice", &format!("Revoked {token_id}"))
            .await?;
        let (status, _) = server
            .call(
                Method::POST,
                "/channels/orders/events",
                Some(&secret),
                Some(json!({"type": "order.created", "data": {"id": 1}})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "the revoked token is refused"
        );

        // A webhook whose receiver fails twice, then recovers: the log says why.
        page.fill("webhook-url", &receiver.url).await?;
        page.click("#add-webhook").await?;
        page.shows("#secret-value", "whsec_").await?;
        api(
            &server,
            Method::POST,
            "/channels/orders/events",
            Some(json!({"type": "order.created", "data": {"id": 7}})),
        )
        .await;
        common::eventually("the receiver has the event", || async {
            !receiver.delivered().is_empty()
        })
        .await;
        page.click("#webhook-list button[data-deliveries]").await?;
        let log = page.shows("#deliveries", "success").await?;
        assert!(log.contains("http_error") && log.contains("500"), "{log}");
        page.screenshot("console-channel").await;
        // A webhook is deleted from its row.
        page.click("#webhook-list button[data-delete-webhook]")
            .await?;
        page.shows("#notice", "Webhook deleted").await?;
        assert_eq!(
            api(&server, Method::GET, "/channels/orders/webhooks", None).await,
            json!([])
        );

        // Deleting asks for the id first.
        page.click("#delete-channel").await?;
        page.fill("delete-typed", "order").await?;
        page.click("#confirm-delete").await?;
        page.shows("#notice", "exactly").await?;
        page.fill("delete-typed", "orders").await?;
        page.click("#confirm-delete").await?;
        page.shows("#notice", "Deleted orders").await?;
        Ok::<(), CmdError>(())
    })
    .await;
    page.close().await;
    result.expect("the console works in the browser");
    let (status, _) = server
        .call(Method::GET, "/channels/orders", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The stream's item for an event.
fn item(event: &Value) -> String {
    format!(r#"#stream li[data-id="{}"]"#, event["id"].as_str().unwrap())
}

async fn console_follows_channels_live_and_publishes(backend: Backend) {
    let mut server = TestServer::start_with(backend, &["--retention-interval", "0.2"]).await;
    server
        .create_channel(json!({"id": "short", "is_public": true, "retention": {"max_events": 2}}))
        .await;
    for channel in ["alpha", "beta"] {
        server
            .create_channel(json!({"id": channel, "is_public": true}))
            .await;
    }
    server
        .create_channel(
            json!({"id": "strict", "is_public": true, "config": {"strict_types": true,
            "types": {"reading": {"type": "object", "required": ["celsius"]}}}}),
        )
        .await;
    server
        .create_channel(json!({"id": "vault", "is_public": false}))
        .await;
    let (reader, reader_info) = server.create_token("vault", "subscribe", json!({})).await;
    let Some(page) = Page::open("console_follows_channels_live_and_publishes", &server).await
    else {
        return;
    };
    let result = within(Duration::from_secs(180), "the live scenario", async {
        page.sign_in(ADMIN).await?;
        page.shows("#identity", "admin").await?;
        page.click("#tab-live").await?;
        // Two channels on one socket, one with a type filter.
        page.fill("follow-channel", "alpha").await?;
        page.click("#follow-btn").await?;
        page.fill("follow-channel", "beta").await?;
        page.fill("follow-types", "keep").await?;
        page.click("#follow-btn").await?;
        page.shows("#live-state", "live").await?;
        common::eventually("both subscriptions on one socket", || async {
            server.metric("channelhub_ws_subscriptions").await == 2.0
                && server.metric("channelhub_websocket_connections").await == 1.0
        })
        .await;
        let a1 = server.publish("alpha", json!({"data": {"n": 1}})).await;
        server
            .publish("beta", json!({"type": "drop", "data": "dropped"}))
            .await;
        let b1 = server
            .publish("beta", json!({"type": "keep", "data": "kept"}))
            .await;
        page.find(&format!(
            r#"#stream li[data-id="{}"]"#,
            b1["id"].as_str().unwrap()
        ))
        .await?;
        page.find(&format!(
            r#"#stream li[data-id="{}"]"#,
            a1["id"].as_str().unwrap()
        ))
        .await?;
        assert!(
            !page
                .find("#stream")
                .await?
                .text()
                .await?
                .contains("dropped"),
            "the type filter holds"
        );

        // Paused: the socket closes; resumed: every event once, after the last id.
        page.click("#pause").await?;
        page.shows("#live-state", "paused").await?;
        common::eventually("the socket closes while paused", || async {
            server.metric("channelhub_websocket_connections").await == 0.0
        })
        .await;
        let mut missed = Vec::new();
        for n in 2..5 {
            missed.push(server.publish("alpha", json!({"data": {"n": n}})).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            page.browser
                .find(Locator::Css(&item(&missed[0])))
                .await
                .is_err()
        );
        page.click("#pause").await?;
        for event in &missed {
            page.find(&item(event)).await?;
        }
        page.shows("#live-state", "live").await?;
        // A server restart: the page reconnects by itself and loses nothing.
        server.stop();
        server.restart_in_place();
        let after_restart = server
            .publish("alpha", json!({"data": "after restart"}))
            .await;
        page.find(&item(&after_restart)).await?;
        for event in missed.iter().chain([&a1, &after_restart]) {
            let copies = page.browser.find_all(Locator::Css(&item(event))).await?;
            assert_eq!(copies.len(), 1, "each event once: {event}");
        }

        // Following again with another filter replaces the subscription.
        page.click(r#"#followed li[data-channel="beta"] button"#)
            .await?;
        page.fill("follow-channel", "beta").await?;
        page.fill("follow-types", "drop").await?;
        page.click("#follow-btn").await?;
        page.shows("#followed", "beta (drop)").await?;
        common::eventually("beta is followed again", || async {
            server.metric("channelhub_ws_subscriptions").await == 2.0
        })
        .await;
        server
            .publish("beta", json!({"type": "keep", "data": "kept again"}))
            .await;
        let dropped = server
            .publish("beta", json!({"type": "drop", "data": "now shown"}))
            .await;
        page.find(&item(&dropped)).await?;
        assert!(
            !page
                .find("#stream")
                .await?
                .text()
                .await?
                .contains("kept again")
        );

        // Events removed by retention while paused: a gap notice, then the rest.
        page.fill("follow-channel", "short").await?;
        page.fill("follow-types", "").await?;
        page.click("#follow-btn").await?;
        let first = server.publish("short", json!({"data": 0})).await;
        page.find(&item(&first)).await?;
        page.click("#pause").await?;
        page.shows("#live-state", "paused").await?;
        let mut trimmed = Vec::new();
        for n in 1..6 {
            trimmed.push(server.publish("short", json!({"data": n})).await);
        }
        common::eventually("retention keeps the newest two", || async {
            server.all_events("short").await.len() == 2
        })
        .await;
        page.click("#pause").await?;
        page.shows("#stream", "short: events after").await?;
        page.find(&item(&trimmed[4])).await?;

        // Inspecting an event shows its JSON; event data is text, never HTML.
        let hostile = server
            .publish("alpha", json!({"data": "<img src=x onerror=alert(1)>"}))
            .await;
        let item = page
            .find(&format!(
                r#"#stream li[data-id="{}"]"#,
                hostile["id"].as_str().unwrap()
            ))
            .await?;
        assert!(item.text().await?.contains("<img src=x"));
        assert!(
            page.browser
                .find(Locator::Css("#stream img"))
                .await
                .is_err()
        );
        item.click().await?;
        page.shows("#inspect", hostile["id"].as_str().unwrap())
            .await?;

        // Publishing from the page: JSON checked here, types checked by the server.
        page.fill("pub-channel", "strict").await?;
        page.fill("pub-type", "reading").await?;
        page.fill("pub-data", "{oops").await?;
        page.click("#pub-send").await?;
        page.shows("#pub-result", "Data is not JSON").await?;
        // Pasted (typing 70 000 keys over WebDriver takes minutes).
        page.browser
            .execute(
                "document.getElementById('pub-data').value = arguments[0]",
                vec![json!(format!(r#""{}""#, "x".repeat(70_000)))],
            )
            .await?;
        page.click("#pub-send").await?;
        page.shows("#pub-result", "at most 65 536").await?;
        page.fill("pub-data", r#"{"fahrenheit": 70}"#).await?;
        page.click("#pub-check").await?;
        page.shows("#pub-result", "(400)").await?;
        page.fill("pub-data", r#"{"celsius": 21}"#).await?;
        page.click("#pub-check").await?;
        page.shows("#pub-result", "Valid").await?;
        assert!(
            server.all_events("strict").await.is_empty(),
            "a check stores nothing"
        );
        page.click("#pub-send").await?;
        page.shows("#pub-result", "Published").await?;
        assert_eq!(server.all_events("strict").await.len(), 1);
        page.screenshot("console-live").await;

        // The server's cards.
        page.click("#tab-server").await?;
        page.shows("#card-database", "ready").await?;
        page.shows("#cards", "WebSocket connections").await?;
        page.shows("#nodes", "(this node)").await?;
        page.screenshot("console-server").await;

        // A subscribe token's live view ends in words when it is revoked.
        page.sign_in(&reader).await?;
        page.shows("#identity", "channel_token · vault").await?;
        page.click("#tab-live").await?;
        page.fill("follow-channel", "vault").await?;
        page.click("#follow-btn").await?;
        common::eventually("vault is followed", || async {
            api(&server, Method::GET, "/channels/vault", None).await["subscribers"] == 1
        })
        .await;
        let token_id = reader_info["id"].as_str().unwrap();
        api(
            &server,
            Method::DELETE,
            &format!("/channels/vault/tokens/{token_id}"),
            None,
        )
        .await;
        page.shows("#stream", "vault: token revoked").await?;

        // At phone width, from the keyboard: type a channel and press Enter.
        page.browser.set_window_size(390, 844).await?;
        page.find("#follow-channel")
            .await?
            .send_keys("strict\u{E007}")
            .await?;
        page.shows("#followed", "strict").await?;
        let width = page
            .browser
            .execute("return document.documentElement.scrollWidth", vec![])
            .await?;
        assert!(
            width.as_f64().unwrap() <= 390.0,
            "nothing wider than the screen: {width}"
        );
        let stream = page.find("#stream").await?.rectangle().await?;
        let publish = page.find("#publish-form").await?.rectangle().await?;
        assert!(publish.1 > stream.1, "the panes stack at phone width");
        page.screenshot("console-phone").await;
        Ok::<(), CmdError>(())
    })
    .await;
    page.close().await;
    result.expect("the live console works in the browser");
}
