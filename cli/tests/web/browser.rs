//! Headless Chromium driven over WebDriver (a chromedriver of its own on a free port,
//! stopped when dropped) for the web interface's tests, with helpers that wait for what
//! a page shows instead of sleeping.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long a page may take to show what a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(45);

pub struct Chromedriver {
    child: Child,
    port: u16,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn program(var: &str, what: &str) -> PathBuf {
    PathBuf::from(crate::common::service_var(var, what))
}

impl Chromedriver {
    pub fn start() -> Chromedriver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(program("AQUEDUCTS_TEST_CHROMEDRIVER", "chromedriver (scripts/browser.sh)"))
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Chromedriver { child, port }
    }

    /// A new headless browser window of `width` × `height`.
    pub async fn browser(&self, base: &str, width: u32, height: u32) -> Browser {
        let chromium = program("AQUEDUCTS_TEST_CHROMIUM", "chromium (scripts/browser.sh)");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--hide-scrollbars", format!("--window-size={width},{height}"), "--lang=en-US",
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("open a Chromium session");
        Browser { client, base: base.trim_end_matches('/').to_string() }
    }
}

pub struct Browser {
    pub client: Client,
    pub base: String,
}

impl Browser {
    /// Opens `route` of the page (`"#/runs"`, or `""` for the start).
    pub async fn open(&self, route: &str) {
        self.client.goto(&format!("{}/{route}", self.base)).await.unwrap();
    }

    /// Moves to `route` within the page, without loading it again.
    pub async fn go(&self, route: &str) {
        self.js(&format!("location.hash = {}; return true;", json!(route))).await;
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs an async script: its last argument is the callback for the result.
    pub async fn js_async(&self, script: &str) -> Value {
        self.client.execute_async(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `expression` (JavaScript) is truthy; its value.
    pub async fn until(&self, expression: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self.js(&format!("try {{ return ({expression}); }} catch (e) {{ return null; }}")).await;
            if !(value.is_null() || value == json!(false) || value == json!("") || value == json!(0)) {
                return value;
            }
            if started.elapsed() > PATIENCE {
                let text = self.js("return document.body.innerText").await;
                panic!("the page never showed `{expression}`; it shows:\n{}", text.as_str().unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for an element matching `css`.
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.until(&format!("document.querySelector({})", json!(css))).await;
        self.client.find(Locator::Css(css)).await.unwrap()
    }

    pub async fn click(&self, css: &str) {
        self.element(css).await.click().await.unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.unwrap()
    }

    /// Whether an element matches `css` now.
    pub async fn has(&self, css: &str) -> bool {
        self.js(&format!("return document.querySelector({}) !== null", json!(css))).await == json!(true)
    }

    /// The page is no wider than the window (no horizontal scrolling).
    pub async fn fits_width(&self) -> (i64, i64) {
        let sizes = self.js("return [document.documentElement.scrollWidth, window.innerWidth]").await;
        (sizes[0].as_i64().unwrap(), sizes[1].as_i64().unwrap())
    }

    /// Saves a screenshot as `docs/images/NAME.png` (the docs show the latest).
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        let dir = crate::common::repo().join("docs/images");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Calls the API from the page (with its cookie); `[status, body]`. `csrf` adds the
    /// page's CSRF token.
    pub async fn fetch(&self, method: &str, path: &str, csrf: Option<&str>) -> (u16, Value) {
        let headers = match csrf {
            Some(token) => json!({ "X-CSRF-Token": token }),
            None => json!({}),
        };
        let script = format!(
            "const done = arguments[arguments.length - 1];
             fetch({path}, {{ method: {method}, headers: {headers}, credentials: 'same-origin' }})
               .then(async (r) => done([r.status, await r.text()]))
               .catch((e) => done([0, String(e)]));",
            path = json!(path),
            method = json!(method),
        );
        let answer = self.js_async(&script).await;
        let body = answer[1].as_str().unwrap_or_default();
        (answer[0].as_u64().unwrap() as u16, serde_json::from_str(body).unwrap_or(Value::String(body.into())))
    }

    pub async fn sign_in(&self, key: &str) {
        self.open("").await;
        let input = self.element("#key").await;
        input.send_keys(key).await.unwrap();
        self.click("#sign-in-button").await;
        self.element("#sign-out").await;
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
