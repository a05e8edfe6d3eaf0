//! Which service and operation a request is for, in the order that works for every client:
//!
//! 1. `X-Amz-Target: Prefix.Op` → a JSON 1.1 service (ECS, CloudWatch Logs, Application Auto
//!    Scaling, Secrets Manager, SSM); an unknown prefix or op is `UnknownOperationException`.
//! 2. `Action=Op` in the form body or the query string → a Query service, chosen by the SigV4
//!    credential scope's service (`elasticloadbalancing`, `rds`, `ec2`, `sts`), else by
//!    `Version`, else inferred from the action's name; an unknown action is `InvalidAction`.
//!
//! [`route`] is the pure decision; [`handle`] calls the service and renders the answer in its
//! protocol's shape (envelope, error document, request id).

use super::context::ApiContext;
use super::error::ApiError;
use super::json::{self, JsonService};
use super::query::Params;
use super::sigv4::Family;
use super::xml;

/// `Content-Type` of Query-protocol answers.
pub const XML_CONTENT_TYPE: &str = "text/xml";

/// The JSON 1.1 services tierlab knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonApi {
    Ecs,
    Logs,
    /// Application Auto Scaling (of the lab's ECS services).
    ApplicationAutoScaling,
    SecretsManager,
    /// Systems Manager: its Parameter Store.
    Ssm,
}

impl JsonApi {
    const ALL: [JsonApi; 5] = [
        JsonApi::Ecs,
        JsonApi::Logs,
        JsonApi::ApplicationAutoScaling,
        JsonApi::SecretsManager,
        JsonApi::Ssm,
    ];

    pub fn service(self) -> JsonService {
        match self {
            JsonApi::Ecs => JsonService {
                target_prefix: "AmazonEC2ContainerServiceV20141113",
                validation_code: "InvalidParameterException",
            },
            JsonApi::Logs => JsonService {
                target_prefix: "Logs_20140328",
                validation_code: "InvalidParameterException",
            },
            JsonApi::ApplicationAutoScaling => JsonService {
                target_prefix: "AnyScaleFrontendService",
                validation_code: "ValidationException",
            },
            JsonApi::SecretsManager => JsonService {
                target_prefix: "secretsmanager",
                validation_code: "ValidationException",
            },
            JsonApi::Ssm => JsonService {
                target_prefix: "AmazonSSM",
                validation_code: "ValidationException",
            },
        }
    }

    /// The SigV4 signing name (the credential scope's service).
    pub fn signing_name(self) -> &'static str {
        match self {
            JsonApi::Ecs => "ecs",
            JsonApi::Logs => "logs",
            JsonApi::ApplicationAutoScaling => "application-autoscaling",
            JsonApi::SecretsManager => "secretsmanager",
            JsonApi::Ssm => "ssm",
        }
    }
}

/// The Query-protocol services tierlab knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryApi {
    Elbv2,
    Rds,
    Ec2,
    Sts,
}

impl QueryApi {
    const ALL: [QueryApi; 4] = [QueryApi::Elbv2, QueryApi::Rds, QueryApi::Ec2, QueryApi::Sts];

    /// The SigV4 signing name (the credential scope's service).
    pub fn signing_name(self) -> &'static str {
        match self {
            QueryApi::Elbv2 => "elasticloadbalancing",
            QueryApi::Rds => "rds",
            QueryApi::Ec2 => "ec2",
            QueryApi::Sts => "sts",
        }
    }

    /// The API version the service model names (`Version=`).
    pub fn version(self) -> &'static str {
        match self {
            QueryApi::Elbv2 => "2015-12-01",
            QueryApi::Rds => "2014-10-31",
            QueryApi::Ec2 => "2016-11-15",
            QueryApi::Sts => "2011-06-15",
        }
    }

    /// The XML namespace of its answers.
    pub fn namespace(self) -> &'static str {
        match self {
            QueryApi::Elbv2 => "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
            QueryApi::Rds => "http://rds.amazonaws.com/doc/2014-10-31/",
            QueryApi::Ec2 => "http://ec2.amazonaws.com/doc/2016-11-15/",
            QueryApi::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
        }
    }

    /// Guesses the service of an unsigned request without `Version` from the action's name.
    fn infer(action: &str) -> Option<QueryApi> {
        const STS: [&str; 3] = ["GetCallerIdentity", "AssumeRole", "GetSessionToken"];
        const ELBV2: [&str; 6] = [
            "LoadBalancer",
            "Listener",
            "Rule",
            "TargetGroup",
            "Targets",
            "TargetHealth",
        ];
        const EC2: [&str; 5] = ["Vpc", "Subnet", "SecurityGroup", "RouteTable", "Instances"];
        if STS.contains(&action) {
            Some(QueryApi::Sts)
        } else if action.contains("DB") || action.ends_with("Events") {
            Some(QueryApi::Rds)
        } else if ELBV2.iter().any(|w| action.contains(w)) {
            Some(QueryApi::Elbv2)
        } else if EC2.iter().any(|w| action.contains(w)) {
            Some(QueryApi::Ec2)
        } else {
            None
        }
    }
}

/// What a request is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Json {
        api: JsonApi,
        op: String,
    },
    Query {
        api: QueryApi,
        action: String,
        params: Params,
    },
}

/// A request that cannot be routed, with the protocol to answer it in.
#[derive(Debug, Clone, PartialEq)]
pub enum Unrouted {
    Json(ApiError),
    Query(ApiError),
}

/// The parts of a request dispatch looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Incoming<'a> {
    /// `X-Amz-Target`.
    pub target: Option<&'a str>,
    /// The URL's query string.
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    /// The service of the SigV4 credential scope, when the request was signed.
    pub scope_service: Option<&'a str>,
}

/// Decides which service and operation `req` is for.
pub fn route(req: &Incoming<'_>) -> Result<Route, Unrouted> {
    if let Some(target) = req.target {
        return route_json(target);
    }
    let params = Params::from_request(req.query, req.body);
    let Some(action) = params.get("Action").map(str::to_string) else {
        return Err(Unrouted::Query(ApiError::new(
            "MissingAction",
            "The request must contain the parameter Action",
        )));
    };
    let api = match req.scope_service {
        Some(scope) => QueryApi::ALL
            .into_iter()
            .find(|api| api.signing_name() == scope)
            .ok_or_else(|| {
                Unrouted::Query(ApiError::new(
                    "InvalidAction",
                    format!(
                        "tierlab does not serve the `{scope}` Query API (it serves elasticloadbalancing, rds, ec2 and sts)."
                    ),
                ))
            })?,
        None => params
            .get("Version")
            .and_then(|v| QueryApi::ALL.into_iter().find(|api| api.version() == v))
            .or_else(|| QueryApi::infer(&action))
            .ok_or_else(|| Unrouted::Query(ApiError::invalid_action(&action)))?,
    };
    // `aws elb` (classic, 2012-06-01) signs as `elasticloadbalancing` too: its shapes differ.
    if let Some(version) = params.get("Version").filter(|v| *v != api.version()) {
        return Err(Unrouted::Query(ApiError::new(
            "NoSuchVersion",
            format!(
                "The requested version ({version}) of service {} does not exist.",
                api.signing_name()
            ),
        )));
    }
    Ok(Route::Query {
        api,
        action,
        params,
    })
}

fn route_json(target: &str) -> Result<Route, Unrouted> {
    let unknown = || Unrouted::Json(ApiError::unknown_operation(target));
    let (prefix, op) = target.split_once('.').ok_or_else(unknown)?;
    let api = JsonApi::ALL
        .into_iter()
        .find(|api| api.service().target_prefix == prefix)
        .ok_or_else(unknown)?;
    if op.is_empty() {
        return Err(unknown());
    }
    Ok(Route::Json {
        api,
        op: op.to_string(),
    })
}

/// An answer, ready for the HTTP layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub request_id: String,
    /// `ecs.DescribeServices`-style name for the log line (`?` when not routed).
    pub operation: String,
    /// The error code, when it is an error (for the log line).
    pub error_code: Option<String>,
}

/// Answers `req` with an error decided before the service is called (a refused signature, a
/// body too large), in the shape of the protocol the request was for: JSON when it has
/// `X-Amz-Target`, EC2's document for EC2, else the Query `ErrorResponse`.
pub fn refuse(req: &Incoming<'_>, error: impl Fn(Family) -> ApiError) -> Reply {
    let request_id = new_request_id();
    if req.target.is_some() {
        let api = match route(req) {
            Ok(Route::Json { api, .. }) => Some(api),
            _ => None,
        };
        return json_reply_error(api, error(Family::Json), request_id, "?".into());
    }
    let api = match route(req) {
        Ok(Route::Query { api, .. }) => Some(api),
        _ => None,
    };
    let (e, body) = match api {
        Some(QueryApi::Ec2) => {
            let e = error(Family::Ec2);
            let body = xml::ec2_error(&e, &request_id);
            (e, body)
        }
        api => {
            let e = error(Family::Query);
            let body = xml::query_error(&e, api.map(QueryApi::namespace), &request_id);
            (e, body)
        }
    };
    Reply {
        status: e.status,
        content_type: XML_CONTENT_TYPE,
        body,
        request_id,
        operation: "?".into(),
        error_code: Some(e.code),
    }
}

/// Routes `req`, calls the service and renders its answer or error.
pub async fn handle(ctx: &ApiContext, req: &Incoming<'_>) -> Reply {
    let request_id = new_request_id();
    match route(req) {
        Ok(Route::Json { api, op }) => {
            let operation = format!("{}.{op}", api.signing_name());
            let outcome = call_json(ctx, api, &op, req.body).await;
            json_reply(api, outcome, request_id, operation)
        }
        Ok(Route::Query {
            api,
            action,
            params,
        }) => {
            let operation = format!("{}.{action}", api.signing_name());
            let outcome = call_query(ctx, api, &action, &params).await;
            query_reply(api, &action, outcome, request_id, operation)
        }
        Err(Unrouted::Json(e)) => json_reply_error(None, e, request_id, "?".into()),
        Err(Unrouted::Query(e)) => Reply {
            status: e.status,
            content_type: XML_CONTENT_TYPE,
            body: xml::query_error(&e, None, &request_id),
            request_id,
            operation: "?".into(),
            error_code: Some(e.code),
        },
    }
}

async fn call_json(
    ctx: &ApiContext,
    api: JsonApi,
    op: &str,
    body: &[u8],
) -> Result<serde_json::Value, ApiError> {
    match api {
        JsonApi::Ecs => super::ecs::call(ctx, op, body).await,
        JsonApi::Logs => super::logs::call(ctx, op, body).await,
        JsonApi::SecretsManager => super::secretsmanager::call(ctx, op, body).await,
        JsonApi::Ssm => super::ssm::call(ctx, op, body).await,
        JsonApi::ApplicationAutoScaling => super::autoscaling::call(ctx, op, body).await,
    }
}

async fn call_query(
    ctx: &ApiContext,
    api: QueryApi,
    action: &str,
    params: &Params,
) -> Result<xml::Xml, ApiError> {
    match api {
        QueryApi::Elbv2 => super::elbv2::call(ctx, action, params).await,
        QueryApi::Rds => super::rds::call(ctx, action, params).await,
        QueryApi::Ec2 => super::ec2::call(ctx, action, params).await,
        QueryApi::Sts => super::sts::call(ctx, action, params).await,
    }
}

fn json_reply(
    api: JsonApi,
    outcome: Result<serde_json::Value, ApiError>,
    request_id: String,
    operation: String,
) -> Reply {
    match outcome {
        Ok(value) => Reply {
            status: 200,
            content_type: json::CONTENT_TYPE,
            body: value.to_string(),
            request_id,
            operation,
            error_code: None,
        },
        Err(e) => json_reply_error(Some(api), e, request_id, operation),
    }
}

fn json_reply_error(
    api: Option<JsonApi>,
    e: ApiError,
    request_id: String,
    operation: String,
) -> Reply {
    let service = api.map(JsonApi::service);
    let body = json::error_body(&e, service.as_ref());
    Reply {
        status: e.status,
        content_type: json::CONTENT_TYPE,
        body: body.to_string(),
        request_id,
        operation,
        error_code: body["__type"].as_str().map(str::to_string),
    }
}

fn query_reply(
    api: QueryApi,
    action: &str,
    outcome: Result<xml::Xml, ApiError>,
    request_id: String,
    operation: String,
) -> Reply {
    let (status, body, error_code) = match (&outcome, api) {
        (Ok(result), QueryApi::Ec2) => (
            200,
            xml::ec2_response(action, api.namespace(), result, &request_id),
            None,
        ),
        (Ok(result), _) => (
            200,
            xml::query_response(action, api.namespace(), result, &request_id),
            None,
        ),
        (Err(e), QueryApi::Ec2) => (
            e.status,
            xml::ec2_error(e, &request_id),
            Some(e.code.clone()),
        ),
        (Err(e), _) => (
            e.status,
            xml::query_error(e, Some(api.namespace()), &request_id),
            Some(e.code.clone()),
        ),
    };
    Reply {
        status,
        content_type: XML_CONTENT_TYPE,
        body,
        request_id,
        operation,
        error_code,
    }
}

/// A request id in AWS's shape (a random UUID v4).
pub fn new_request_id() -> String {
    crate::ecs::lifecycle::new_uuid_v4()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str, scope: Option<&'static str>) -> Result<Route, Unrouted> {
        route(&Incoming {
            body: body.as_bytes(),
            scope_service: scope,
            ..Incoming::default()
        })
    }

    #[test]
    fn x_amz_target_routes_to_the_json_service() {
        let r = route(&Incoming {
            target: Some("AmazonEC2ContainerServiceV20141113.DescribeServices"),
            body: b"{}",
            ..Incoming::default()
        });
        assert_eq!(
            r,
            Ok(Route::Json {
                api: JsonApi::Ecs,
                op: "DescribeServices".into()
            })
        );
        let r = route(&Incoming {
            target: Some("Logs_20140328.GetLogEvents"),
            ..Incoming::default()
        });
        assert!(matches!(
            r,
            Ok(Route::Json {
                api: JsonApi::Logs,
                ..
            })
        ));
    }

    #[test]
    fn secrets_manager_and_ssm_targets_route_to_their_services() {
        for (target, want) in [
            ("secretsmanager.GetSecretValue", JsonApi::SecretsManager),
            ("AmazonSSM.GetParametersByPath", JsonApi::Ssm),
        ] {
            match route(&Incoming {
                target: Some(target),
                ..Incoming::default()
            }) {
                Ok(Route::Json { api, .. }) => assert_eq!(api, want, "{target}"),
                other => panic!("{target}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_unknown_target_is_unknown_operation() {
        for target in ["kms.Decrypt", "NoDot", "Logs_20140328."] {
            let r = route(&Incoming {
                target: Some(target),
                ..Incoming::default()
            });
            match r {
                Err(Unrouted::Json(e)) => assert_eq!(e.code, "UnknownOperationException"),
                other => panic!("{target}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_credential_scope_chooses_the_query_service() {
        let r = form(
            "Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=x",
            Some("elasticloadbalancing"),
        )
        .unwrap();
        let Route::Query {
            api,
            action,
            params,
        } = r
        else {
            panic!("{r:?}")
        };
        assert_eq!(
            (api, action.as_str()),
            (QueryApi::Elbv2, "DescribeTargetHealth")
        );
        assert_eq!(params.get("TargetGroupArn"), Some("x"));
        // DescribeEvents would be inferred as RDS; the scope says EC2... and wins.
        let r = form("Action=DescribeEvents&Version=2016-11-15", Some("ec2")).unwrap();
        assert!(matches!(
            r,
            Route::Query {
                api: QueryApi::Ec2,
                ..
            }
        ));
    }

    #[test]
    fn unsigned_requests_are_routed_by_version_then_action_name() {
        let r = form("Action=DescribeTags&Version=2015-12-01", None).unwrap();
        assert!(matches!(
            r,
            Route::Query {
                api: QueryApi::Elbv2,
                ..
            }
        ));
        let cases = [
            ("GetCallerIdentity", QueryApi::Sts),
            ("DescribeDBInstances", QueryApi::Rds),
            ("RebootDBInstance", QueryApi::Rds),
            ("DescribeEvents", QueryApi::Rds),
            ("DescribeTargetHealth", QueryApi::Elbv2),
            ("RegisterTargets", QueryApi::Elbv2),
            ("DescribeSubnets", QueryApi::Ec2),
            ("DescribeSecurityGroups", QueryApi::Ec2),
        ];
        for (action, want) in cases {
            match form(&format!("Action={action}"), None) {
                Ok(Route::Query { api, .. }) => assert_eq!(api, want, "{action}"),
                other => panic!("{action}: {other:?}"),
            }
        }
        assert!(matches!(
            form("Action=Frobnicate", None),
            Err(Unrouted::Query(e)) if e.message == "The action Frobnicate is not valid for this web service."
        ));
    }

    #[test]
    fn the_query_string_carries_the_action_too() {
        let r = route(&Incoming {
            query: Some("Action=GetCallerIdentity&Version=2011-06-15"),
            scope_service: Some("sts"),
            ..Incoming::default()
        });
        assert!(matches!(
            r,
            Ok(Route::Query {
                api: QueryApi::Sts,
                ..
            })
        ));
    }

    #[test]
    fn unroutable_query_requests_say_why() {
        let code = |r: Result<Route, Unrouted>| match r {
            Err(Unrouted::Query(e)) => e.code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(form("Version=2015-12-01", None)), "MissingAction");
        assert_eq!(
            code(form("Action=SendMessage", Some("sqs"))),
            "InvalidAction"
        );
        // Classic ELB signs as elasticloadbalancing with its own version.
        assert_eq!(
            code(form(
                "Action=DescribeLoadBalancers&Version=2012-06-01",
                Some("elasticloadbalancing")
            )),
            "NoSuchVersion"
        );
    }

    #[test]
    fn query_errors_and_answers_use_their_services_shape() {
        let e = ApiError::invalid_action("Nope");
        let r = query_reply(
            QueryApi::Elbv2,
            "Nope",
            Err(e.clone()),
            "r".into(),
            "x".into(),
        );
        assert_eq!(r.status, 400);
        assert!(r.body.contains(
            "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">"
        ));
        assert_eq!(r.error_code.as_deref(), Some("InvalidAction"));
        let r = query_reply(QueryApi::Ec2, "Nope", Err(e), "r".into(), "x".into());
        assert!(
            r.body
                .contains("<Response><Errors><Error><Code>InvalidAction</Code>")
        );
        let r = query_reply(
            QueryApi::Sts,
            "GetCallerIdentity",
            Ok(xml::Xml::new()),
            "r".into(),
            "x".into(),
        );
        assert!(
            r.body
                .contains("<GetCallerIdentityResult></GetCallerIdentityResult>")
        );
        assert_eq!(r.content_type, "text/xml");
    }

    #[test]
    fn json_errors_use_the_services_validation_name() {
        let r = json_reply(
            JsonApi::Ecs,
            Err(ApiError::missing_parameter("cluster")),
            "r".into(),
            "x".into(),
        );
        assert_eq!(r.error_code.as_deref(), Some("InvalidParameterException"));
        assert_eq!(r.content_type, "application/x-amz-json-1.1");
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            body["message"],
            "The request must contain the parameter cluster"
        );
    }

    #[test]
    fn refusals_take_the_shape_of_the_requests_protocol() {
        let failure = crate::api::sigv4::AuthFailure::UnknownKey;
        let json = refuse(
            &Incoming {
                target: Some("AmazonEC2ContainerServiceV20141113.UpdateService"),
                ..Incoming::default()
            },
            |f| failure.error(f),
        );
        assert_eq!(
            json.error_code.as_deref(),
            Some("UnrecognizedClientException")
        );
        assert_eq!(json.content_type, json::CONTENT_TYPE);
        let sts = refuse(
            &Incoming {
                body: b"Action=GetCallerIdentity&Version=2011-06-15",
                scope_service: Some("sts"),
                ..Incoming::default()
            },
            |f| failure.error(f),
        );
        assert_eq!(
            (sts.status, sts.error_code.as_deref()),
            (403, Some("InvalidClientTokenId"))
        );
        assert!(
            sts.body
                .contains("xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"")
        );
        let ec2 = refuse(
            &Incoming {
                body: b"Action=DescribeVpcs&Version=2016-11-15",
                scope_service: Some("ec2"),
                ..Incoming::default()
            },
            |f| failure.error(f),
        );
        assert!(
            ec2.body
                .contains("<Response><Errors><Error><Code>AuthFailure</Code>")
        );
    }

    #[test]
    fn request_ids_look_like_uuid_v4() {
        let id = new_request_id();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
        assert_ne!(id, new_request_id());
    }
}
