//! Listener rules: conditions evaluated in priority order, the default action last, and the
//! action that answers (forward, weighted forward, redirect, fixed response).
//!
//! - [`wildcard`]: ALB's `*` / `?` patterns.
//! - [`conditions`]: compiled conditions and what they look at in a request.
//! - [`redirect`]: `#{...}` templating of redirect locations.
//!
//! A [`Router`] is built once per listener; evaluating it only reads, so it is shared by every
//! connection without locks.

pub mod conditions;
pub mod redirect;
pub mod wildcard;

use std::collections::HashMap;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use super::AlbError;
use super::failover::Failure;
use super::headers;
use super::observe::Handled;
use super::proxy::{self, Proxy, ProxyBody, RequestContext};
use super::request_body::RequestBody;
use super::routing::weighted::{self, GroupChoice};
use super::target_group::TargetGroupHandle;
use crate::config::{Action, FixedResponse, Listener, Redirect};
use conditions::{Compiled, RequestView};

/// What a listener does with one request, resolved against the running target groups.
#[derive(Debug, Clone)]
pub enum RouteAction {
    /// Send to a target of this group.
    Forward(TargetGroupHandle),
    /// Pick a group by weight (sticky when configured), then a target of it.
    WeightedForward(weighted::WeightedGroups),
    /// Answer with a redirect built from the request.
    Redirect(Redirect),
    /// Answer with a fixed response.
    FixedResponse(FixedResponse),
}

/// One rule, compiled.
#[derive(Debug, Clone)]
struct Rule {
    /// Logged as `matched_rule_priority`.
    priority: u32,
    conditions: Vec<Compiled>,
    action: RouteAction,
}

/// A listener's rules in priority order, and its default action.
#[derive(Debug, Clone)]
pub struct Router {
    rules: Vec<Rule>,
    default: RouteAction,
}

impl Router {
    /// Compiles `listener`'s rules (already sorted by priority) and default action.
    /// `groups` must hold every target group they forward to.
    pub fn new(
        load_balancer: &str,
        listener: &Listener,
        groups: &HashMap<String, TargetGroupHandle>,
    ) -> Result<Router, AlbError> {
        let resolve = |action: &Action| resolve(load_balancer, action, groups);
        let mut rules = Vec::with_capacity(listener.rules.len());
        for rule in &listener.rules {
            rules.push(Rule {
                priority: rule.priority,
                conditions: rule.conditions.iter().map(Compiled::new).collect(),
                action: resolve(&rule.action)?,
            });
        }
        Ok(Router {
            rules,
            default: resolve(&listener.default_action)?,
        })
    }

    /// A router with no rules: every request gets `action`.
    pub fn single(action: RouteAction) -> Router {
        Router {
            rules: Vec::new(),
            default: action,
        }
    }

    /// The action of the first rule whose conditions all match, else the default action.
    pub fn action_for(&self, req: &RequestView) -> &RouteAction {
        self.matching(req).1
    }

    /// The priority of the first rule whose conditions all match (`None`: the default action)
    /// and its action.
    fn matching(&self, req: &RequestView) -> (Option<u32>, &RouteAction) {
        self.rules
            .iter()
            .find(|r| r.conditions.iter().all(|c| c.matches(req)))
            .map_or((None, &self.default), |r| (Some(r.priority), &r.action))
    }

    /// Evaluates the rules for `req` and carries out the action; says beside the response what
    /// was done ([`Handled`]: the rule that matched, unless it was the default action, and the
    /// forward's outcome).
    ///
    /// First, whatever the action: a request breaking ALB's head limits or RFC 9112's `Host`
    /// rules is answered 400 ([`headers::check_request`]), so redirect and fixed-response
    /// listeners apply the same limits as forwarding ones. Rules then see the host the request
    /// names ([`headers::request_host`]: an absolute-form authority wins over `Host`).
    pub async fn handle(
        &self,
        proxy: &Proxy,
        req: Request<RequestBody>,
        ctx: &RequestContext<'_>,
    ) -> (Response<ProxyBody>, Handled) {
        let checked = headers::check_request(req.version(), req.method(), req.uri(), req.headers());
        if let Err(bad) = checked {
            tracing::debug!(client = %ctx.client, "400 before routing: {bad:?}");
            let failure = Failure::from(bad);
            return (
                proxy::refused(&failure, req.version()),
                Handled::refused(failure),
            );
        }
        let host = headers::request_host(req.headers(), req.uri());
        let view = RequestView {
            host: host_without_port(host.as_ref()),
            path: req.uri().path(),
            query: req.uri().query(),
            method: req.method().as_str(),
            headers: req.headers(),
            source: ctx.client.ip(),
        };
        let (priority, action) = self.matching(&view);
        let (response, mut handled) = match action {
            RouteAction::Forward(group) => {
                let (response, outcome) = proxy.forward(group, req, ctx).await;
                (response, Handled::forwarded(outcome))
            }
            RouteAction::WeightedForward(groups) => {
                let choice = groups.choose(req.headers());
                let (mut response, outcome) = proxy.forward(choice.group(), req, ctx).await;
                add_group_cookies(&mut response, &choice, ctx);
                (response, Handled::forwarded(outcome))
            }
            RouteAction::Redirect(action) => {
                (redirect_response(action, &view, ctx), Handled::default())
            }
            RouteAction::FixedResponse(fixed) => (fixed_response(fixed), Handled::default()),
        };
        handled.rule = priority;
        (response, handled)
    }
}

fn resolve(
    load_balancer: &str,
    action: &Action,
    groups: &HashMap<String, TargetGroupHandle>,
) -> Result<RouteAction, AlbError> {
    let group = |name: &str| {
        groups
            .get(name)
            .cloned()
            .ok_or_else(|| AlbError::UnknownTargetGroup {
                load_balancer: load_balancer.to_string(),
                target_group: name.to_string(),
            })
    };
    Ok(match action {
        Action::Forward { target_group } => RouteAction::Forward(group(target_group)?),
        Action::WeightedForward(w) => {
            let mut resolved = Vec::with_capacity(w.target_groups.len());
            for tg in &w.target_groups {
                resolved.push((group(&tg.name)?, tg.weight));
            }
            RouteAction::WeightedForward(weighted::WeightedGroups::new(resolved, w.stickiness))
        }
        Action::Redirect(r) => RouteAction::Redirect(r.clone()),
        Action::FixedResponse(f) => RouteAction::FixedResponse(f.clone()),
    })
}

/// `example.test:8080` → `example.test`; `[::1]:8080` → `[::1]`.
fn host_without_port(host: Option<&HeaderValue>) -> Option<&str> {
    Some(super::host::without_port(host?.to_str().ok()?))
}

fn redirect_response(
    action: &Redirect,
    view: &RequestView,
    ctx: &RequestContext<'_>,
) -> Response<ProxyBody> {
    let fallback = ctx.listener.ip().to_string();
    let url = redirect::UrlParts {
        protocol: ctx.protocol,
        host: view.host.unwrap_or(&fallback),
        port: ctx.listener.port(),
        path: view.path,
        query: view.query.unwrap_or(""),
    };
    let location = redirect::location(action, &url);
    let status = StatusCode::from_u16(action.status.code()).unwrap_or(StatusCode::FOUND);
    let mut response = proxy::error_page(status);
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// The fixed-response action's answer: its status, content type (if any) and body.
pub fn fixed_response(fixed: &FixedResponse) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(fixed.body.clone()))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(fixed.status).unwrap_or(StatusCode::OK);
    if let Some(value) = fixed
        .content_type
        .as_deref()
        .and_then(|ct| HeaderValue::from_str(ct).ok())
    {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

fn add_group_cookies(
    response: &mut Response<ProxyBody>,
    choice: &GroupChoice,
    ctx: &RequestContext<'_>,
) {
    for cookie in choice.cookies(ctx.protocol, std::time::SystemTime::now()) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Condition, ListenerProtocol, ListenerRule};
    use http::HeaderMap;

    fn fixed(status: u16) -> Action {
        Action::FixedResponse(FixedResponse {
            status,
            content_type: None,
            body: String::new(),
        })
    }

    fn listener(rules: Vec<ListenerRule>) -> Listener {
        Listener {
            protocol: ListenerProtocol::Http,
            bind: "127.0.0.1:0".parse().unwrap(),
            certificate: None,
            additional_certificates: Vec::new(),
            ssl_policy: Default::default(),
            rules,
            default_action: fixed(404),
        }
    }

    fn status_of(router: &Router, view: &RequestView) -> u16 {
        match router.action_for(view) {
            RouteAction::FixedResponse(f) => f.status,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn first_matching_rule_by_priority_then_default() {
        let rule = |priority, path: &str, status| ListenerRule {
            priority,
            conditions: vec![Condition::PathPattern(vec![path.into()])],
            action: fixed(status),
        };
        // Validation sorts by priority; the router trusts that order.
        let l = listener(vec![rule(1, "/api/admin/*", 403), rule(5, "/api/*", 200)]);
        let router = Router::new("lb", &l, &HashMap::new()).unwrap();
        let headers = HeaderMap::new();
        let view = |path| RequestView {
            host: None,
            path,
            query: None,
            method: "GET",
            headers: &headers,
            source: "127.0.0.1".parse().unwrap(),
        };
        assert_eq!(status_of(&router, &view("/api/admin/x")), 403);
        assert_eq!(status_of(&router, &view("/api/x")), 200);
        assert_eq!(status_of(&router, &view("/other")), 404);
    }

    #[test]
    fn all_conditions_must_match() {
        let l = listener(vec![ListenerRule {
            priority: 1,
            conditions: vec![
                Condition::PathPattern(vec!["/x".into()]),
                Condition::HttpRequestMethod(vec!["POST".into()]),
            ],
            action: fixed(201),
        }]);
        let router = Router::new("lb", &l, &HashMap::new()).unwrap();
        let headers = HeaderMap::new();
        let mut view = RequestView {
            host: None,
            path: "/x",
            query: None,
            method: "GET",
            headers: &headers,
            source: "127.0.0.1".parse().unwrap(),
        };
        assert_eq!(status_of(&router, &view), 404);
        view.method = "POST";
        assert_eq!(status_of(&router, &view), 201);
    }

    #[test]
    fn unknown_target_group_is_an_error() {
        let mut l = listener(Vec::new());
        l.default_action = Action::Forward {
            target_group: "nope".into(),
        };
        let err = Router::new("lb", &l, &HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
    }

    #[test]
    fn fixed_response_sets_status_type_and_body() {
        let r = fixed_response(&FixedResponse {
            status: 418,
            content_type: Some("application/json".into()),
            body: "{\"ok\":false}".into(),
        });
        assert_eq!(r.status(), 418);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        let none = fixed_response(&FixedResponse {
            status: 204,
            content_type: None,
            body: String::new(),
        });
        assert!(none.headers().get(CONTENT_TYPE).is_none());
    }

    #[test]
    fn hosts_lose_their_port() {
        for (host, routed) in [
            ("a.test:8080", "a.test"),
            ("[::1]:8080", "[::1]"),
            ("A.test", "A.test"),
        ] {
            let value = HeaderValue::from_static(host);
            assert_eq!(host_without_port(Some(&value)), Some(routed));
        }
        assert_eq!(host_without_port(None), None);
    }
}
