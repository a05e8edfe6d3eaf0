//! Headless Firefox for the dashboard tests: Debian's `firefox-esr` on a fresh profile
//! (process.rs, user.js), driven over its own Marionette protocol (marionette.rs), so no
//! geckodriver is needed. The calls are the Chromium [`super::Browser`]'s.
//!
//! `scripts/browser.sh` installs `firefox-esr`; a test fails (never skips) when it is missing.

mod marionette;
mod process;

use std::time::Duration;

use serde_json::{Value, json};

use super::{CALL_TIMEOUT, Element, Page};
use marionette::Marionette;
use process::Process;

/// A Firefox and its Marionette session; Firefox ends when this is dropped.
pub struct Firefox {
    marionette: tokio::sync::Mutex<Marionette>,
    /// Dropped after the connection: ends Firefox and removes its profile.
    process: Process,
}

impl Firefox {
    /// Starts a headless Firefox with a `width`×`height` window and opens a session.
    pub async fn start(width: u32, height: u32) -> Firefox {
        // Owned from here on, so a failing start still ends Firefox.
        let mut process = Process::start();
        let port = process.marionette_port().await;
        let marionette = Marionette::connect(port).await.unwrap_or_else(|e| {
            panic!(
                "Firefox's Marionette on port {port}: {e}\n{}",
                process.log_tail()
            )
        });
        let firefox = Firefox {
            marionette: tokio::sync::Mutex::new(marionette),
            process,
        };
        firefox.call("WebDriver:NewSession", json!({})).await;
        let size = json!({ "width": width, "height": height });
        firefox.call("WebDriver:SetWindowRect", size).await;
        firefox
    }

    async fn call(&self, command: &str, params: Value) -> Value {
        let mut marionette = self.marionette.lock().await;
        let answer = tokio::time::timeout(CALL_TIMEOUT, marionette.call(command, params))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "Marionette {command}: no answer within {CALL_TIMEOUT:?}\n{}",
                    self.process.log_tail()
                )
            });
        answer.unwrap_or_else(|e| panic!("Marionette {command}: {}: {}", e["error"], e["message"]))
    }

    /// The errors the pages' scripts threw so far, as Firefox's console printed them (the
    /// profile sends the pages' console to Firefox's output; Firefox's own scripts, from
    /// resource: and chrome: URLs, are left out).
    pub fn page_errors(&self) -> Vec<String> {
        let log = self.process.log();
        let errors = log
            .lines()
            .filter(|l| l.starts_with("JavaScript error: http"));
        errors.map(str::to_string).collect()
    }

    pub async fn goto(&self, url: &str) {
        self.call("WebDriver:Navigate", json!({ "url": url })).await;
    }

    pub async fn current_url(&self) -> String {
        let v = self.call("WebDriver:GetCurrentURL", json!({})).await;
        v["value"].as_str().unwrap().to_string()
    }

    /// Runs `script` (a function body: `return ...`) in the page; returns its value. Firefox
    /// runs it in a sandbox whose global is the page's window, so `window.x` is the page's.
    pub async fn eval(&self, script: &str) -> Value {
        let params = json!({ "script": script, "args": [] });
        self.call("WebDriver:ExecuteScript", params).await["value"].take()
    }

    pub async fn find(&self, css: &str) -> Element {
        let params = json!({ "using": "css selector", "value": css });
        let v = self.call("WebDriver:FindElement", params).await;
        let id = v["value"]
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element id for {css}: {v}"));
        Element(id.to_string())
    }

    /// A real click (pointer events through the browser), as a user's.
    pub async fn click(&self, element: &Element) {
        let params = json!({ "id": element.0 });
        self.call("WebDriver:ElementClick", params).await;
    }

    /// The viewport as PNG.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self
            .call("WebDriver:TakeScreenshot", json!({ "full": false }))
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(v["value"].as_str().unwrap())
            .unwrap()
    }

    /// Evaluates `script` every 100 ms until it returns true; returns how long it took.
    pub async fn wait_for(&self, what: &str, within: Duration, script: &str) -> Duration {
        super::wait_until(self, what, within, script).await
    }
}

impl Page for Firefox {
    async fn eval(&self, script: &str) -> Value {
        Firefox::eval(self, script).await
    }
}
