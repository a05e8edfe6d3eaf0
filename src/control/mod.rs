//! The control endpoint of a running `tierlab up`: a small HTTP server on loopback that other
//! `tierlab` commands (status, down) talk to. Its address is written to the lab's control file.
//!
//! - `GET /status` → the lab's status as JSON ([`crate::lab::LabStatus`]).
//! - `GET /metrics` → every load balancer's CloudWatch-named metrics, Prometheus text format.
//! - `POST /shutdown` → asks `up` to stop the lab, as Ctrl-C would.
//! - `POST /chaos` with a JSON [`crate::lab::Chaos`] → applies it (`tierlab chaos ...`);
//!   answers `{"message": ...}`, or `{"error": ...}` with 400 (a wrong request) or 500.
//! - `/dashboard/...` → the dashboard ([`crate::dashboard`]), with its own credential: a
//!   cookie a browser gets for the token in the URL `tierlab dashboard` opens.
//! - `POST /apply` with a JSON [`ApplyRequest`] → applies a new version of the config file
//!   (`tierlab apply`); answers an [`crate::lab::apply::ApplyReport`], or `{"error": ...}`.
//!
//! Every call needs the lab's credential, and browsers' cross-origin requests are refused
//! ([`auth`]).

pub mod auth;
pub mod stale;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::dashboard::Dashboard;
use crate::lab::apply::{ApplyReport, ApplyRequest};
use crate::lab::{DashboardStatus, LabStatus, LabView};
use crate::state::{StateError, write_private_file};

/// Bound on a control request from the CLI.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on a chaos request (it may stop and start a replica's replication threads).
const CHAOS_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest request body the endpoint reads (a chaos request is a few dozen bytes, an apply
/// request a config file).
const BODY_LIMIT: usize = 1024 * 1024;
/// Bound on an apply request (it registers revisions and updates services; it does not wait
/// for deployments).
const APPLY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot bind the control endpoint on 127.0.0.1")]
    Bind(#[source] std::io::Error),
    #[error("cannot write the control file")]
    File(#[from] StateError),
    #[error("the control endpoint at {addr} did not answer: {message}")]
    Request { addr: SocketAddr, message: String },
    /// It answered, with an error status: something is listening there (a running lab).
    #[error("the control endpoint at {addr} answered HTTP {status}: {message}")]
    Answered {
        addr: SocketAddr,
        status: u16,
        message: String,
    },
    /// It answered with a body this `tierlab` cannot read (another version of it is running).
    #[error("the control endpoint at {addr} answered a status this tierlab cannot read")]
    Unreadable {
        addr: SocketAddr,
        #[source]
        source: serde_json::Error,
    },
}

/// What `up` writes (mode 0600) so other commands can find it and prove they may use it.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct ControlFile {
    pub pid: u32,
    /// The writing process's program name (`/proc/PID/comm`): `tierlab` for `tierlab up`, a
    /// test binary's or an app's for a lab served from the library. A pid that runs another
    /// program now was reused ([`stale`]).
    #[serde(default = "tierlab_program")]
    pub program: String,
    pub address: SocketAddr,
    pub config: String,
    pub started_at: String,
    /// The bearer token every call must carry ([`auth`]); never logged.
    pub token: String,
}

fn tierlab_program() -> String {
    "tierlab".to_string()
}

impl std::fmt::Debug for ControlFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlFile")
            .field("pid", &self.pid)
            .field("program", &self.program)
            .field("address", &self.address)
            .field("config", &self.config)
            .field("started_at", &self.started_at)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The running control server; the control file is removed when it is dropped.
pub struct ControlServer {
    pub address: SocketAddr,
    file: PathBuf,
    contents: ControlFile,
}

impl ControlServer {
    /// What the control file says: the address and the credential a client needs.
    pub fn control_file(&self) -> &ControlFile {
        &self.contents
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Starts the control server and writes `file`. `shutdown` is cancelled on `POST /shutdown`.
pub async fn serve(
    view: LabView,
    file: &Path,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) -> Result<ControlServer, ControlError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(ControlError::Bind)?;
    let address = listener.local_addr().map_err(ControlError::Bind)?;
    if let Some(dir) = file.parent() {
        crate::state::create_private_dir(dir)?;
    }
    let contents = ControlFile {
        pid: std::process::id(),
        program: stale::program_of(std::process::id()).unwrap_or_else(tierlab_program),
        address,
        config: view.config_source(),
        started_at: crate::ecs::now_rfc3339(),
        token: auth::new_token(),
    };
    let json = serde_json::to_vec_pretty(&contents).expect("control file serialises");
    write_private_file(file, &json)?;
    let view = Arc::new(view);
    let token: Arc<str> = contents.token.as_str().into();
    let dashboard = Dashboard::start(
        view.clone(),
        address.port(),
        token.clone(),
        tracker,
        cancel.clone(),
    );
    crate::loopback_http::serve(listener, tracker, cancel, move |req| {
        let (view, shutdown, dashboard) = (view.clone(), shutdown.clone(), dashboard.clone());
        let token = token.clone();
        async move {
            // The dashboard has its own credential (a cookie) and its own answers.
            if Dashboard::serves(req.uri().path()) {
                return dashboard.handle(req).await;
            }
            let refused = auth::authorize(req.headers(), address.port(), &token).err();
            handle(req, refused, view, shutdown, address)
                .await
                .map(http_body_util::BodyExt::boxed)
        }
    });
    Ok(ControlServer {
        address,
        file: file.to_path_buf(),
        contents,
    })
}

async fn handle(
    req: Request<Incoming>,
    refused: Option<auth::Refusal>,
    view: Arc<LabView>,
    shutdown: CancellationToken,
    address: SocketAddr,
) -> Response<Full<Bytes>> {
    const JSON: &str = "application/json";
    let mut content_type = JSON;
    if let Some(refusal) = refused {
        tracing::warn!(
            method = %req.method(),
            path = req.uri().path(),
            "control endpoint refused a request: {}",
            refusal.message()
        );
        let body = serde_json::json!({
            "__type": refusal.code(),
            "message": refusal.message(),
        });
        return Response::builder()
            .status(refusal.status())
            .header("content-type", JSON)
            .header("www-authenticate", "Bearer realm=\"tierlab\"")
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("static response parts are valid");
    }
    let route = (req.method().clone(), req.uri().path().to_string());
    let action = match (&route.0, route.1.as_str()) {
        (&Method::POST, "/chaos") => Some(chaos(req, &view).await),
        (&Method::POST, "/apply") => Some(apply(req, &view).await),
        _ => None,
    };
    let (method, path) = route;
    if let Some((status, body)) = action {
        return Response::builder()
            .status(status)
            .header("content-type", JSON)
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("static response parts are valid");
    }
    let (status, body) = match (&method, path.as_str()) {
        (&Method::GET, "/status") => {
            let mut status = view.status();
            status.dashboard = Some(DashboardStatus {
                url: crate::dashboard::url(address),
            });
            (
                StatusCode::OK,
                serde_json::to_vec(&status).unwrap_or_default(),
            )
        }
        (&Method::GET, "/metrics") => {
            content_type = crate::alb::metrics_endpoint::CONTENT_TYPE;
            (StatusCode::OK, view.metrics_text().into_bytes())
        }
        (&Method::POST, "/shutdown") => {
            shutdown.cancel();
            (StatusCode::ACCEPTED, br#"{"stopping":true}"#.to_vec())
        }
        _ => (StatusCode::NOT_FOUND, br#"{"error":"not found"}"#.to_vec()),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

/// The JSON body of `req` as a `T`, or the 400 answer saying why not.
async fn json_body<T: serde::de::DeserializeOwned>(
    req: Request<Incoming>,
    what: &str,
) -> Result<T, (StatusCode, serde_json::Value)> {
    use http_body_util::BodyExt;
    let bad = |error: String| {
        (
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": error }),
        )
    };
    let limited = http_body_util::Limited::new(req.into_body(), BODY_LIMIT);
    let bytes = match limited.collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return Err(bad(format!("cannot read the request body: {e}"))),
    };
    serde_json::from_slice(&bytes).map_err(|e| bad(format!("not {what}: {e}")))
}

/// 400 for the caller's mistakes, 500 for the lab's, with the error's whole chain.
fn failure(
    e: &(dyn std::error::Error + 'static),
    request_error: bool,
) -> (StatusCode, serde_json::Value) {
    let status = if request_error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let error = crate::error::chain(e).to_string();
    (status, serde_json::json!({ "error": error }))
}

/// `POST /chaos`: reads the [`crate::lab::Chaos`] in the body and applies it.
async fn chaos(req: Request<Incoming>, view: &LabView) -> (StatusCode, serde_json::Value) {
    let chaos: crate::lab::Chaos = match json_body(req, "a chaos request").await {
        Ok(chaos) => chaos,
        Err(answer) => return answer,
    };
    tracing::info!("chaos requested: {chaos:?}");
    match view.chaos(&chaos).await {
        Ok(message) => (StatusCode::OK, serde_json::json!({ "message": message })),
        Err(e) => failure(&e, e.is_request_error()),
    }
}

/// `POST /apply`: reads the [`ApplyRequest`] in the body and applies it.
async fn apply(req: Request<Incoming>, view: &LabView) -> (StatusCode, serde_json::Value) {
    let request: ApplyRequest = match json_body(req, "an apply request").await {
        Ok(request) => request,
        Err(answer) => return answer,
    };
    tracing::info!(
        "apply requested from {}{}",
        request.path.display(),
        if request.dry_run { " (dry run)" } else { "" }
    );
    match view.apply(&request).await {
        Ok(report) => (
            StatusCode::OK,
            serde_json::to_value(report).expect("a report serialises"),
        ),
        Err(e) => failure(&e, e.is_request_error()),
    }
}

/// Asks the running lab to apply the config in `request`; returns what it did.
pub async fn apply_request(
    file: &ControlFile,
    request: &ApplyRequest,
) -> Result<ApplyReport, ControlError> {
    let body = serde_json::to_vec(request).expect("an apply request serialises");
    let answer = send(
        file,
        Method::POST,
        "/apply",
        Bytes::from(body),
        APPLY_TIMEOUT,
    )
    .await?;
    serde_json::from_slice(&answer).map_err(|source| ControlError::Unreadable {
        addr: file.address,
        source,
    })
}

/// Asks the running lab to apply `chaos`; returns what it did.
pub async fn chaos_request(
    file: &ControlFile,
    chaos: &crate::lab::Chaos,
) -> Result<String, ControlError> {
    let body = serde_json::to_vec(chaos).expect("chaos serialises");
    let answer = send(
        file,
        Method::POST,
        "/chaos",
        Bytes::from(body),
        CHAOS_TIMEOUT,
    )
    .await?;
    let value: serde_json::Value =
        serde_json::from_slice(&answer).map_err(|source| ControlError::Unreadable {
            addr: file.address,
            source,
        })?;
    Ok(value["message"].as_str().unwrap_or_default().to_string())
}

/// The running lab's status (`GET /status`), typed.
pub async fn status(file: &ControlFile) -> Result<LabStatus, ControlError> {
    let body = request(file, Method::GET, "/status").await?;
    serde_json::from_slice(&body).map_err(|source| ControlError::Unreadable {
        addr: file.address,
        source,
    })
}

/// Reads the control file of `lab`, if a running `up` wrote one.
pub fn read_control_file(path: &Path) -> Option<ControlFile> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Sends one request, with the credential, to the control endpoint `file` names and returns the
/// response body.
pub async fn request(
    file: &ControlFile,
    method: Method,
    path: &str,
) -> Result<Bytes, ControlError> {
    send(file, method, path, Bytes::new(), CLIENT_TIMEOUT).await
}

async fn send(
    file: &ControlFile,
    method: Method,
    path: &str,
    body: Bytes,
    timeout: Duration,
) -> Result<Bytes, ControlError> {
    let addr = file.address;
    let failed = |message: String| ControlError::Request { addr, message };
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("authorization", format!("Bearer {}", file.token))
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("static request parts are valid");
    let (status, body) = crate::loopback_http::exchange(addr, req, timeout)
        .await
        .map_err(failed)?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(ControlError::Answered {
            addr,
            status: status.as_u16(),
            message: String::from_utf8_lossy(&body).trim().to_string(),
        })
    }
}
