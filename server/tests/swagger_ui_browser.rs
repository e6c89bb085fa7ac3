//! Swagger UI in a real browser: headless Chromium, driven over WebDriver, opens
//! `/swagger-ui/`, authorizes, runs "Try it out" on `GET /user/spaces` and must see
//! status 200 and the user's space ids. Screenshots go to `target/swagger-ui-*.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver`; `cargo xtask ci` installs them and
//! runs this with `--ignored`.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TestApp;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use onezone_server::admin;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(20);

/// A chromedriver process on a free port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "the browser test needs Debian's chromium and chromium-driver: \
             apt-get install chromium chromium-driver (cargo xtask ci does this)"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn session(&self, profile: &std::path::Path) -> Client {
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    "--window-size=1280,1600", format!("--user-data-dir={}", profile.display()),
                ],
            }
        });
        let capabilities = capabilities.as_object().unwrap().clone();
        let deadline = Instant::now() + WAIT;
        loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&self.url)
                .await
            {
                Ok(client) => return client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no WebDriver session from chromedriver: {e}"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    std::fs::create_dir_all(&target).unwrap();
    target.join(format!("swagger-ui-{name}.png"))
}

/// Fills the "Authorize" dialog's section for `scheme` with `values` and submits it.
async fn authorize(browser: &Client, scheme: &str, values: &[&str]) {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("button.authorize"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let section = format!(
        "//div[contains(@class,'auth-container')][.//h4[contains(normalize-space(.), '{scheme}')]]"
    );
    let inputs = browser
        .find_all(Locator::XPath(&format!("{section}//input")))
        .await
        .unwrap();
    assert_eq!(
        inputs.len(),
        values.len(),
        "inputs in the {scheme} section of Authorize"
    );
    for (input, value) in inputs.iter().zip(values) {
        input.send_keys(value).await.unwrap();
    }
    browser
        .find(Locator::XPath(&format!(
            "{section}//button[@type='submit']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .find(Locator::Css("button.btn-done"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Runs "Try it out" on GET /user/spaces and returns (status, response body) as shown.
async fn try_it_out(browser: &Client) -> (String, String) {
    browser
        .find(Locator::Css(
            "#operations-User-get_user_spaces .opblock-summary",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // tryItOutEnabled opens the operation in "try it out" mode; click it only if not.
    if let Ok(button) = browser
        .find(Locator::XPath(
            "//button[contains(@class,'try-out__btn') and normalize-space(.)='Try it out']",
        ))
        .await
    {
        button.click().await.unwrap();
    }
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("button.execute"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let status_cell = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            ".live-responses-table .response .response-col_status",
        ))
        .await
        .unwrap();
    let status = status_cell.text().await.unwrap();
    let body = browser
        .find(Locator::Css(
            ".live-responses-table .response .response-col_description pre",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (status.trim().to_owned(), body)
}

/// Every resource the page loaded, to prove none came from another host.
async fn loaded_resources(browser: &Client) -> Vec<String> {
    let value = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver; `cargo xtask ci` installs them and runs it"]
async fn try_it_out_in_a_real_browser_with_a_token_and_with_basic() {
    let started = Instant::now();
    let app = TestApp::spawn().await;
    let store = app.store.as_ref();
    app.user("alice", "wonderland").await;
    let first = app.space("first", "alice").await;
    let second = app.space("second", "alice").await;
    admin::set_default_space(store, "alice", &second)
        .await
        .unwrap();
    let token = app.token("alice").await;
    let driver = Driver::start();

    type Authorize<'a> = (&'a str, &'a str, Vec<&'a str>);
    let runs: [Authorize; 2] = [
        ("token", "api_key", vec![token.as_str()]),
        ("basic", "basic", vec!["alice", "wonderland"]),
    ];
    for (name, scheme, values) in runs {
        let profile = tempfile::tempdir().unwrap();
        let browser = driver.session(profile.path()).await;
        browser
            .goto(&format!("{}/swagger-ui/", app.base_url))
            .await
            .unwrap();
        authorize(&browser, scheme, &values).await;
        let (status, body) = try_it_out(&browser).await;
        std::fs::write(screenshot_path(name), browser.screenshot().await.unwrap()).unwrap();

        assert_eq!(
            status, "200",
            "{name}: the page shows {status}, body {body}"
        );
        let shown: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        let mut spaces = vec![first.clone(), second.clone()];
        spaces.sort();
        assert_eq!(
            shown,
            serde_json::json!({"spaces": spaces, "default": second}),
            "{name}"
        );

        for resource in loaded_resources(&browser).await {
            assert!(
                resource.starts_with(&app.base_url),
                "{name}: the page loaded {resource} from another host"
            );
        }
        browser.close().await.unwrap();
    }
    println!(
        "browser test: {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        screenshot_path("*").display()
    );
}
