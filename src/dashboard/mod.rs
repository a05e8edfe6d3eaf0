//! The dashboard: the running lab drawn as the reference architecture draws it, live, with
//! buttons that act on it. Served by the control endpoint under `/dashboard/` on 127.0.0.1
//! (`tierlab dashboard` opens it signed in; `tierlab status --json` gives `.dashboard.url`).
//!
//! - [`session`]: the token in the URL exchanged for an HttpOnly, SameSite=Strict cookie.
//! - [`routes`]: the page, its script and style, the event stream, the actions.
//! - [`feed`]: one frame a second (status, chart point, events) while a browser is connected,
//!   sent as server-sent events.
//! - [`charts`]: request rate by status class, response time p50/p99, healthy hosts, counts.
//! - [`actions`]: stop or kill a task, fail the database over, scale, redeploy, any chaos.
//! - [`assets`]: the front end (vanilla JS, SVG), compiled into the binary: no build step.

pub mod actions;
pub mod assets;
pub mod charts;
pub mod feed;
pub mod routes;
pub mod session;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::lab::LabView;

/// The path the dashboard is served under.
pub const PATH: &str = "/dashboard/";

/// The dashboard of one running lab; cheap to clone.
#[derive(Clone)]
pub struct Dashboard {
    view: Arc<LabView>,
    feed: Arc<feed::Feed>,
    /// The control endpoint's port (the cookie's name and the Host check use it).
    port: u16,
    /// The lab's control token (never logged, never sent to the browser after the exchange).
    token: Arc<str>,
}

impl Dashboard {
    /// The dashboard of `view`, served on the endpoint at `port` whose token is `token`; its
    /// feed runs on `tracker` until `cancel`.
    pub fn start(
        view: Arc<LabView>,
        port: u16,
        token: Arc<str>,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> Dashboard {
        let feed = Arc::new(feed::Feed::new());
        let (loop_feed, loop_view) = (feed.clone(), view.clone());
        tracker.spawn(async move { loop_feed.run(&loop_view, cancel).await });
        Dashboard {
            view,
            feed,
            port,
            token,
        }
    }

    /// Whether `path` is the dashboard's.
    pub fn serves(path: &str) -> bool {
        path == "/dashboard" || path.starts_with(PATH)
    }
}

/// `http://127.0.0.1:PORT/dashboard/`.
pub fn url(address: std::net::SocketAddr) -> String {
    format!("http://{address}{PATH}")
}

/// The URL that signs a browser in: [`url`] with the lab's token.
pub fn sign_in_url(address: std::net::SocketAddr, token: &str) -> String {
    format!("{}?token={token}", url(address))
}
