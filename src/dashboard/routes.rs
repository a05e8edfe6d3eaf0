//! The dashboard's routes under `/dashboard/`:
//!
//! - `GET /dashboard/?token=T` → 303 to `/dashboard/` with the session cookie set.
//! - `GET /dashboard/`, `app.js`, `style.css` → the front end.
//! - `GET /dashboard/api/events` → `text/event-stream`: a `frame` event a second.
//! - `POST /dashboard/api/action` with a JSON [`Action`] → `{"message"}` or `{"error"}`.
//!
//! Anything without the cookie (or the token) gets 401 and no data.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};

use super::actions::{Action, ActionError};
use super::session::{self, Access};
use super::{Dashboard, PATH, assets};
use crate::loopback_http::{StreamBody, whole};

/// The largest action request read (an action is a few dozen bytes).
const ACTION_BODY_LIMIT: usize = 16 * 1024;

impl Dashboard {
    /// Answers a request for a path under `/dashboard`.
    pub async fn handle(&self, req: Request<Incoming>) -> Response<StreamBody> {
        let access = session::authorize(req.headers(), req.uri().query(), self.port, &self.token);
        let access = match access {
            Ok(access) => access,
            Err(refusal) => {
                tracing::warn!(
                    path = req.uri().path(),
                    "dashboard refused a request: {}",
                    refusal.message()
                );
                return refused(refusal.status());
            }
        };
        let path = req.uri().path().to_string();
        if access == Access::Exchange || path == "/dashboard" {
            return signed_in(access == Access::Exchange, self.port, &self.token);
        }
        let rest = &path[PATH.len()..];
        match (req.method(), rest) {
            (&Method::GET, "api/events") => self.events(),
            (&Method::POST, "api/action") => self.action(req).await,
            (&Method::GET, _) => match assets::asset(rest) {
                Some((body, content_type)) => page(StatusCode::OK, content_type, body),
                None => json(
                    StatusCode::NOT_FOUND,
                    serde_json::json!({"error": "not found"}),
                ),
            },
            _ => json(
                StatusCode::METHOD_NOT_ALLOWED,
                serde_json::json!({"error": "method not allowed"}),
            ),
        }
    }

    /// The live stream: every frame of the feed as a server-sent event, the newest at once.
    fn events(&self) -> Response<StreamBody> {
        let rx = self.feed.subscribe();
        let frames = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.changed().await.ok()?;
            let frame = rx.borrow_and_update().clone();
            Some((Ok::<_, Infallible>(Frame::data(sse_event(&frame))), rx))
        });
        Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-store")
            .body(http_body_util::StreamBody::new(frames).boxed())
            .expect("static response parts are valid")
    }

    /// Performs the action in the body; it and its outcome land in the event stream.
    async fn action(&self, req: Request<Incoming>) -> Response<StreamBody> {
        let limited = http_body_util::Limited::new(req.into_body(), ACTION_BODY_LIMIT);
        let action: Action = match limited.collect().await {
            Ok(body) => match serde_json::from_slice(&body.to_bytes()) {
                Ok(action) => action,
                Err(e) => {
                    let error = format!("not a dashboard action: {e}");
                    return json(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({ "error": error }),
                    );
                }
            },
            Err(e) => {
                let error = format!("cannot read the request body: {e}");
                return json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "error": error }),
                );
            }
        };
        let what = action.describe();
        tracing::info!("dashboard action: {what}");
        match action.perform(&self.view).await {
            Ok(message) => {
                self.feed.record(format!("{what}: {message}"));
                json(StatusCode::OK, serde_json::json!({ "message": message }))
            }
            Err(e) => {
                self.feed.record(format!("{what} failed: {e}"));
                let status = match e {
                    ActionError::Request(_) => StatusCode::BAD_REQUEST,
                    ActionError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
                };
                json(status, serde_json::json!({ "error": e.to_string() }))
            }
        }
    }
}

/// One server-sent event carrying `frame` (compact JSON: one line).
fn sse_event(frame: &Bytes) -> Bytes {
    let mut event = Vec::with_capacity(frame.len() + 24);
    event.extend_from_slice(b"event: frame\ndata: ");
    event.extend_from_slice(frame);
    event.extend_from_slice(b"\n\n");
    Bytes::from(event)
}

/// Sends the browser to the dashboard, setting the session cookie when it brought the token
/// (the token leaves the address bar and the history with this redirect).
fn signed_in(exchange: bool, port: u16, token: &str) -> Response<StreamBody> {
    let mut answer = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, PATH)
        .header(header::CACHE_CONTROL, "no-store")
        .header("referrer-policy", "no-referrer");
    if exchange {
        answer = answer.header(header::SET_COOKIE, session::set_cookie(port, token));
    }
    answer
        .body(whole(Bytes::new()))
        .expect("static response parts are valid")
}

/// 401 (or 403) and no data: the page says how to get in.
fn refused(status: StatusCode) -> Response<StreamBody> {
    page(
        status,
        "text/plain; charset=utf-8",
        "The tierlab dashboard needs the lab's token: open it with `tierlab dashboard`.\n",
    )
}

fn page(status: StatusCode, content_type: &str, body: &'static str) -> Response<StreamBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .header("content-security-policy", assets::CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .body(whole(body))
        .expect("static response parts are valid")
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<StreamBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(whole(body.to_string()))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_one_server_sent_event() {
        let event = sse_event(&Bytes::from_static(br#"{"a":1}"#));
        assert_eq!(&event[..], b"event: frame\ndata: {\"a\":1}\n\n");
    }
}
