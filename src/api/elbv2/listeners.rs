//! `DescribeListeners` and `DescribeRules`: the configured listeners with the loopback ports
//! tierlab binds, their certificates and security policies, and their rules' conditions and
//! actions.

use crate::alb::tls::certificate_arn;
use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};
use crate::config::{
    Action, Condition, Listener, ListenerProtocol, ListenerRule, LoadBalancer, RedirectStatus,
};
use crate::registry::Registry;

use super::{lookup, strings};

/// `LoadBalancerArn` or `ListenerArns.member.N` (one of them).
pub fn describe_listeners(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let (config, registry) = (ctx.lab.config().as_ref(), ctx.registry.as_ref());
    let arns = params.list("ListenerArns");
    let chosen: Vec<(&LoadBalancer, &Listener)> = match params.get("LoadBalancerArn") {
        Some(_) if !arns.is_empty() => {
            return Err(ApiError::validation(
                "Listener ARNs and a load balancer ARN cannot be specified at the same time",
            ));
        }
        Some(arn) => {
            let lb = lookup::load_balancer(config, registry, arn)?;
            lb.listeners.iter().map(|l| (lb, l)).collect()
        }
        None if arns.is_empty() => {
            return Err(ApiError::validation(
                "You must specify either listener ARNs or a load balancer ARN",
            ));
        }
        None => arns
            .iter()
            .map(|arn| lookup::listener(config, registry, arn))
            .collect::<Result<_, _>>()?,
    };
    let mut xml = Xml::new();
    xml.list("Listeners", "member", chosen, |x, (lb, l)| {
        listener(x, registry, lb, l)
    });
    Ok(xml)
}

/// One `Listener` member.
pub fn listener(x: &mut Xml, registry: &Registry, lb: &LoadBalancer, l: &Listener) {
    x.leaf("ListenerArn", registry.listener_arn(&lb.name, l.port()))
        .leaf("LoadBalancerArn", registry.load_balancer_arn(&lb.name))
        .leaf("Port", l.port())
        .leaf("Protocol", protocol(l.protocol));
    if l.protocol == ListenerProtocol::Https {
        let certificates = l.certificate.iter().chain(&l.additional_certificates);
        x.list("Certificates", "member", certificates.take(1), |x, c| {
            x.leaf("CertificateArn", certificate_arn(c));
        });
        x.leaf("SslPolicy", l.ssl_policy.name());
    }
    x.list("DefaultActions", "member", [&l.default_action], |x, a| {
        action(x, registry, a)
    });
}

fn protocol(p: ListenerProtocol) -> &'static str {
    match p {
        ListenerProtocol::Http => "HTTP",
        ListenerProtocol::Https => "HTTPS",
    }
}

/// One `Action` member (the only action of its rule, so `Order` 1).
pub fn action(x: &mut Xml, registry: &Registry, a: &Action) {
    match a {
        Action::Forward { target_group } => {
            let arn = registry.target_group_arn(target_group);
            x.leaf("Type", "forward")
                .leaf("TargetGroupArn", &arn)
                .leaf("Order", 1)
                .open("ForwardConfig")
                .list("TargetGroups", "member", [&arn], |x, arn| {
                    x.leaf("TargetGroupArn", arn).leaf("Weight", 1);
                })
                .open("TargetGroupStickinessConfig")
                .leaf("Enabled", false)
                .close("TargetGroupStickinessConfig")
                .close("ForwardConfig");
        }
        Action::WeightedForward(w) => {
            x.leaf("Type", "forward")
                .leaf("Order", 1)
                .open("ForwardConfig")
                .list("TargetGroups", "member", &w.target_groups, |x, t| {
                    x.leaf("TargetGroupArn", registry.target_group_arn(&t.name))
                        .leaf("Weight", t.weight);
                })
                .open("TargetGroupStickinessConfig")
                .leaf("Enabled", w.stickiness.is_some())
                .opt("DurationSeconds", w.stickiness.map(|d| d.as_secs()))
                .close("TargetGroupStickinessConfig")
                .close("ForwardConfig");
        }
        Action::Redirect(r) => {
            let status = match r.status {
                RedirectStatus::Permanent301 => "HTTP_301",
                RedirectStatus::Found302 => "HTTP_302",
            };
            x.leaf("Type", "redirect")
                .leaf("Order", 1)
                .open("RedirectConfig")
                .leaf("Protocol", r.protocol.map_or("#{protocol}", protocol))
                .leaf(
                    "Port",
                    r.port
                        .map_or_else(|| "#{port}".to_string(), |p| p.to_string()),
                )
                .leaf("Host", r.host.as_deref().unwrap_or("#{host}"))
                .leaf("Path", r.path.as_deref().unwrap_or("/#{path}"))
                .leaf("Query", r.query.as_deref().unwrap_or("#{query}"))
                .leaf("StatusCode", status)
                .close("RedirectConfig");
        }
        Action::FixedResponse(f) => {
            x.leaf("Type", "fixed-response")
                .leaf("Order", 1)
                .open("FixedResponseConfig")
                .leaf("MessageBody", &f.body)
                .leaf("StatusCode", f.status)
                .opt("ContentType", f.content_type.as_deref())
                .close("FixedResponseConfig");
        }
    }
}

/// `ListenerArn` or `RuleArns.member.N`.
pub fn describe_rules(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let (config, registry) = (ctx.lab.config().as_ref(), ctx.registry.as_ref());
    let wanted = params.list("RuleArns");
    let rules = match params.get("ListenerArn") {
        Some(arn) => {
            let (lb, l) = lookup::listener(config, registry, arn)?;
            rules_of(registry, lb, l)
        }
        None if wanted.is_empty() => {
            return Err(ApiError::validation(
                "You must specify either listener ARN or rule ARNs",
            ));
        }
        None => {
            let all: Vec<RuleRef> = lookup::listeners(config)
                .flat_map(|(lb, l)| rules_of(registry, lb, l))
                .collect();
            wanted
                .iter()
                .map(|arn| {
                    all.iter()
                        .find(|r| &r.arn == arn)
                        .cloned()
                        .ok_or_else(|| ApiError::new("RuleNotFound", "One or more rules not found"))
                })
                .collect::<Result<_, _>>()?
        }
    };
    let mut xml = Xml::new();
    xml.list("Rules", "member", rules, |x, r| rule(x, registry, &r));
    Ok(xml)
}

/// A rule of a listener: a configured one, or the default rule (`rule: None`).
#[derive(Clone)]
pub struct RuleRef<'a> {
    pub arn: String,
    pub rule: Option<&'a ListenerRule>,
    pub default_action: &'a Action,
}

/// A listener's rules by ascending priority, the default rule last (as ELBv2 lists them).
pub fn rules_of<'a>(registry: &Registry, lb: &LoadBalancer, l: &'a Listener) -> Vec<RuleRef<'a>> {
    let port = l.port();
    let mut rules: Vec<RuleRef> = l
        .rules
        .iter()
        .map(|r| RuleRef {
            arn: registry.rule_arn(&lb.name, port, Some(r.priority)),
            rule: Some(r),
            default_action: &l.default_action,
        })
        .collect();
    rules.push(RuleRef {
        arn: registry.rule_arn(&lb.name, port, None),
        rule: None,
        default_action: &l.default_action,
    });
    rules
}

/// One `Rule` member.
pub fn rule(x: &mut Xml, registry: &Registry, r: &RuleRef) {
    x.leaf("RuleArn", &r.arn);
    match r.rule {
        Some(rule) => {
            x.leaf("Priority", rule.priority)
                .list("Conditions", "member", &rule.conditions, condition)
                .list("Actions", "member", [&rule.action], |x, a| {
                    action(x, registry, a)
                })
                .leaf("IsDefault", false);
        }
        None => {
            x.leaf("Priority", "default")
                .open("Conditions")
                .close("Conditions")
                .list("Actions", "member", [r.default_action], |x, a| {
                    action(x, registry, a)
                })
                .leaf("IsDefault", true);
        }
    }
}

/// One `RuleCondition` member: `Field`, the legacy `Values` where ELBv2 has them, and the
/// field's own config.
pub fn condition(x: &mut Xml, c: &Condition) {
    match c {
        Condition::HostHeader(values) => {
            x.leaf("Field", "host-header");
            strings(x, "Values", values);
            x.open("HostHeaderConfig");
            strings(x, "Values", values);
            x.close("HostHeaderConfig");
        }
        Condition::PathPattern(values) => {
            x.leaf("Field", "path-pattern");
            strings(x, "Values", values);
            x.open("PathPatternConfig");
            strings(x, "Values", values);
            x.close("PathPatternConfig");
        }
        Condition::HttpHeader { name, values } => {
            x.leaf("Field", "http-header")
                .open("HttpHeaderConfig")
                .leaf("HttpHeaderName", name);
            strings(x, "Values", values);
            x.close("HttpHeaderConfig");
        }
        Condition::HttpRequestMethod(values) => {
            x.leaf("Field", "http-request-method")
                .open("HttpRequestMethodConfig");
            strings(x, "Values", values);
            x.close("HttpRequestMethodConfig");
        }
        Condition::QueryString(pairs) => {
            x.leaf("Field", "query-string")
                .open("QueryStringConfig")
                .list("Values", "member", pairs, |x, p| {
                    x.opt("Key", p.key.as_deref()).leaf("Value", &p.value);
                })
                .close("QueryStringConfig");
        }
        Condition::SourceIp(nets) => {
            let cidrs: Vec<String> = nets
                .iter()
                .map(|n| format!("{}/{}", n.addr, n.prefix))
                .collect();
            x.leaf("Field", "source-ip").open("SourceIpConfig");
            strings(x, "Values", &cidrs);
            x.close("SourceIpConfig");
        }
    }
}
