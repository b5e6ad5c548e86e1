//! The live console page at `/`, in headless Chromium driven over WebDriver
//! (chromedriver): it lists channels, shows events published through the API
//! as they arrive, and publishes through its own form. `.ci/run` installs
//! Debian's chromium and chromium-driver; without them the test fails under
//! CI and says `SKIPPED` elsewhere. A screenshot is left in `test-artifacts/` (ignored by git).

mod common;

use std::{
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{Backend, TestServer, within};
use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn installed(path: &str) -> bool {
    std::path::Path::new(path).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_shows_live_events_and_publishes() {
    const CHROMIUM: &str = "/usr/bin/chromium";
    const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
    if !installed(CHROMIUM) || !installed(CHROMEDRIVER) {
        // A failure under CI (which installs both), a `SKIPPED` line elsewhere.
        common::skip_or_fail(
            "console_shows_live_events_and_publishes",
            "chromium and chromium-driver are not installed (/usr/bin/chromium, /usr/bin/chromedriver)",
        );
        return;
    }
    let server = TestServer::start(Backend::Sqlite).await;
    server
        .create_channel(json!({"id": "console-demo", "name": "Console demo"}))
        .await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _driver = Driver(
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
                 "--disable-component-update", "--disable-sync", "--window-size=1200,800",
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

    let result = within(
        Duration::from_secs(120),
        "the console scenario in the browser",
        async {
            browser.goto(&format!("http://{}/", server.addr)).await?;
            let channel = browser
                .wait()
                .at_most(Duration::from_secs(15))
                .for_element(Locator::Css(r#"li[data-channel="console-demo"]"#))
                .await?;
            assert!(channel.text().await?.contains("Console demo"));
            channel.click().await?;
            browser
                .wait()
                .at_most(Duration::from_secs(15))
                .for_element(Locator::XPath(
                    r#"//span[@id="status" and contains(., "live on console-demo")]"#,
                ))
                .await?;

            // An event published through the API appears on the page.
            let event = server
                .publish(
                    "console-demo",
                    json!({"type": "greeting", "data": {"hello": "browser"}}),
                )
                .await;
            let shown = browser
                .wait()
                .at_most(Duration::from_secs(15))
                .for_element(Locator::Css(&format!(
                    r#"#events li[data-id="{}"]"#,
                    event["id"].as_str().unwrap()
                )))
                .await?;
            let text = shown.text().await?;
            assert!(
                text.contains("greeting") && text.contains(r#"{"hello":"browser"}"#),
                "{text}"
            );

            // The page's own form publishes (with the admin token) and the event comes back live.
            browser
                .find(Locator::Id("token"))
                .await?
                .send_keys(common::ADMIN)
                .await?;
            browser
                .find(Locator::Id("publish-type"))
                .await?
                .send_keys("from-page")
                .await?;
            browser
                .find(Locator::Id("publish-data"))
                .await?
                .send_keys(r#"{"clicked": true}"#)
                .await?;
            browser
                .find(Locator::Id("publish-btn"))
                .await?
                .click()
                .await?;
            browser
                .wait()
                .at_most(Duration::from_secs(15))
                .for_element(Locator::XPath(
                    r#"//ul[@id="events"]/li[contains(., "from-page")]"#,
                ))
                .await?;

            std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/test-artifacts"))
                .unwrap();
            let png = browser.screenshot().await?;
            std::fs::write(
                concat!(env!("CARGO_MANIFEST_DIR"), "/test-artifacts/console.png"),
                png,
            )
            .unwrap();
            Ok::<(), fantoccini::error::CmdError>(())
        },
    )
    .await;
    let _ = within(
        Duration::from_secs(20),
        "the browser to close",
        browser.close(),
    )
    .await;
    result.expect("the console works in the browser");
    let stored = server.all_events("console-demo").await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1]["type"], "from-page");
    assert_eq!(stored[1]["data"], json!({"clicked": true}));
}
