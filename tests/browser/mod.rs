//! Headless browsers for the dashboard tests. Chromium (here): Debian's `chromedriver` started
//! on a free loopback port, spoken to in W3C WebDriver JSON over HTTP (reqwest). Firefox
//! ([`firefox`]): `firefox-esr` over its Marionette protocol. Shared by both: waiting on the
//! page ([`wait_until`]) and the check that a screenshot shows something ([`png`]).
//!
//! `scripts/browser.sh` installs `chromium`, `chromium-driver` and `firefox-esr`; a test fails
//! (never skips) when they are missing.

#![allow(dead_code)]

pub mod firefox;
pub mod png;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Bound on one WebDriver call (a navigation waits for the page's load event).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A plain HTTP client (reqwest needs the process's rustls provider chosen, even for http://).
pub fn http_client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

/// A chromedriver process and one browser session; both end when dropped.
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
}

/// An element reference of the session.
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`×`height`.
    pub async fn start(width: u32, height: u32) -> Browser {
        let port = super::lab_support::free_port();
        let http = http_client(CALL_TIMEOUT);
        // Owned by the `Browser` from here on, so a failing test still ends it: a chromedriver
        // left running would keep the test's inherited descriptors (the Docker lock's among
        // them) open.
        let mut browser = Browser {
            driver: Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot run chromedriver ({e}): install it with `scripts/browser.sh`")
                }),
            http,
            base: String::new(),
        };
        let http = browser.http.clone();
        let root = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while http.get(format!("{root}/status")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer on {root} within 20s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                ],
            },
        }}});
        let answer: Value = http
            .post(format!("{root}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver did not start a session: {answer}"))
            .to_string();
        browser.base = format!("{root}/session/{session}");
        browser
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if let Some(error) = answer["value"]["error"].as_str() {
            panic!("WebDriver {path}: {error}: {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/url", None).await;
        v.as_str().unwrap().to_string()
    }

    /// Runs `script` (a function body: `return ...`) in the page; returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        let body = json!({ "script": script, "args": [] });
        self.call(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    pub async fn find(&self, css: &str) -> Element {
        let body = json!({ "using": "css selector", "value": css });
        let v = self
            .call(reqwest::Method::POST, "/element", Some(body))
            .await;
        let id = v
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element id for {css}: {v}"));
        Element(id.to_string())
    }

    /// A real click (pointer events through the browser), as a user's.
    pub async fn click(&self, element: &Element) {
        let path = format!("/element/{}/click", element.0);
        self.call(reqwest::Method::POST, &path, Some(json!({})))
            .await;
    }

    /// The viewport as PNG.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    }

    /// Evaluates `script` every 100 ms until it returns true; returns how long it took.
    pub async fn wait_for(&self, what: &str, within: Duration, script: &str) -> Duration {
        wait_until(self, what, within, script).await
    }
}

impl Page for Browser {
    async fn eval(&self, script: &str) -> Value {
        Browser::eval(self, script).await
    }
}

/// What waiting on a page needs of a browser, whichever it is.
pub trait Page {
    /// Runs `script` (a function body: `return ...`) in the page; returns its value.
    async fn eval(&self, script: &str) -> Value;
}

/// Evaluates `script` in `page` every 100 ms until it returns true; returns how long it took.
/// Past `within`, fails with what the page shows.
pub async fn wait_until(page: &impl Page, what: &str, within: Duration, script: &str) -> Duration {
    let started = Instant::now();
    loop {
        if page.eval(script).await == Value::Bool(true) {
            return started.elapsed();
        }
        if started.elapsed() > within {
            let text = page.eval("return document.body.innerText").await;
            panic!("the dashboard did not show {what} within {within:?}; it showed:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Drop for Browser {
    /// Ends the session first (Chromium does not die with chromedriver), then chromedriver,
    /// also when the test panicked: left running, they would keep the test's inherited
    /// descriptors (the Docker lock's among them) open. Blocking std I/O: `Drop` cannot await.
    fn drop(&mut self) {
        if let Some(path) = self.base.strip_prefix("http://") {
            if let Some((authority, path)) = path.split_once('/') {
                let _ = delete_session(authority, &format!("/{path}"));
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `DELETE /session/ID` to chromedriver at `authority`, waiting for its answer (Chromium gone).
fn delete_session(authority: &str, path: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "DELETE {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )?;
    // chromedriver may keep the connection open: read until the JSON answer is complete.
    let (mut answer, mut buf) = (Vec::new(), [0u8; 1024]);
    loop {
        let n = stream.read(&mut buf)?;
        answer.extend_from_slice(&buf[..n]);
        let body = answer.windows(4).position(|w| w == b"\r\n\r\n");
        if n == 0 || body.is_some_and(|at| answer[at..].ends_with(b"}")) {
            return Ok(());
        }
    }
}
