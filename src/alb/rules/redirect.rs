//! Redirect actions: ALB's `#{protocol}`, `#{host}`, `#{port}`, `#{path}`, `#{query}`
//! templating, as a pure function of the request's URL parts.

use crate::config::{ListenerProtocol, Redirect};

/// The parts of the request URL a redirect may reuse.
#[derive(Debug, Clone, Copy)]
pub struct UrlParts<'a> {
    /// The listener's protocol.
    pub protocol: ListenerProtocol,
    /// The request's host without port (or the listener's address when it named none).
    pub host: &'a str,
    /// The listener's port.
    pub port: u16,
    /// The path, with its leading `/`.
    pub path: &'a str,
    /// The query without `?`, empty when there was none.
    pub query: &'a str,
}

/// The `Location` of `action` for a request with `url`.
///
/// Unset fields are ALB's defaults: `#{protocol}`, `#{host}`, `#{port}`, `/#{path}`,
/// `#{query}`. As on ALB, `#{path}` is the path without its leading `/`. The port is left out
/// when it is the scheme's default; an empty query leaves out the `?`.
pub fn location(action: &Redirect, url: &UrlParts) -> String {
    let protocol = action.protocol.unwrap_or(url.protocol);
    let scheme = protocol.scheme();
    let port = action.port.unwrap_or(url.port);
    let host = fill(action.host.as_deref().unwrap_or("#{host}"), url);
    let path = fill(action.path.as_deref().unwrap_or("/#{path}"), url);
    let query = fill(action.query.as_deref().unwrap_or("#{query}"), url);
    let default_port = if protocol == ListenerProtocol::Https {
        443
    } else {
        80
    };
    let mut out = format!("{scheme}://{host}");
    if port != default_port {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(if path.is_empty() { "/" } else { &path });
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    out
}

/// Replaces every placeholder in `template` with the request's value.
fn fill(template: &str, url: &UrlParts) -> String {
    if !template.contains("#{") {
        return template.to_string();
    }
    let port = url.port.to_string();
    let path = url.path.strip_prefix('/').unwrap_or(url.path);
    template
        .replace("#{protocol}", url.protocol.scheme())
        .replace("#{host}", url.host)
        .replace("#{port}", &port)
        .replace("#{path}", path)
        .replace("#{query}", url.query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RedirectStatus;

    fn url() -> UrlParts<'static> {
        UrlParts {
            protocol: ListenerProtocol::Http,
            host: "app.test",
            port: 8080,
            path: "/items/7",
            query: "sort=asc",
        }
    }

    fn redirect() -> Redirect {
        Redirect {
            protocol: None,
            host: None,
            port: None,
            path: None,
            query: None,
            status: RedirectStatus::Found302,
        }
    }

    #[test]
    fn defaults_keep_everything() {
        assert_eq!(
            location(&redirect(), &url()),
            "http://app.test:8080/items/7?sort=asc"
        );
    }

    #[test]
    fn protocol_and_port_change_default_port_omitted() {
        let mut r = redirect();
        r.protocol = Some(ListenerProtocol::Https);
        r.port = Some(443);
        assert_eq!(location(&r, &url()), "https://app.test/items/7?sort=asc");
        r.port = Some(8443);
        assert_eq!(
            location(&r, &url()),
            "https://app.test:8443/items/7?sort=asc"
        );
    }

    #[test]
    fn templates_combine_placeholders() {
        let mut r = redirect();
        r.host = Some("www.#{host}".into());
        r.path = Some("/new/#{path}/#{port}".into());
        r.query = Some("#{query}&from=#{protocol}".into());
        assert_eq!(
            location(&r, &url()),
            "http://www.app.test:8080/new/items/7/8080?sort=asc&from=http"
        );
    }

    #[test]
    fn empty_query_drops_the_question_mark_and_literal_path_replaces() {
        let mut u = url();
        u.query = "";
        let mut r = redirect();
        r.path = Some("/login".into());
        assert_eq!(location(&r, &u), "http://app.test:8080/login");
        r.query = Some("next=/#{path}".into());
        u.path = "/a";
        r.path = None;
        assert_eq!(location(&r, &u), "http://app.test:8080/a?next=/a");
    }

    /// The cases of the first cut's `headers::redirect_location` (replaced by [`location`]),
    /// with the host as the router passes it: without its port, or the listener's address.
    #[test]
    fn first_cut_cases_still_hold() {
        let to_https = |port| Redirect {
            protocol: Some(ListenerProtocol::Https),
            port: Some(port),
            status: RedirectStatus::Permanent301,
            ..redirect()
        };
        let at = |host, port, path, query| UrlParts {
            protocol: ListenerProtocol::Http,
            host,
            port,
            path,
            query,
        };
        let u = at("localhost", 8080, "/items/7", "sort=asc&x=1");
        assert_eq!(
            location(&to_https(8443), &u),
            "https://localhost:8443/items/7?sort=asc&x=1"
        );
        let u = at("example.test", 80, "/", "");
        assert_eq!(location(&to_https(443), &u), "https://example.test/");
        let u = at("127.0.0.1", 8080, "/a", "b");
        assert_eq!(location(&redirect(), &u), "http://127.0.0.1:8080/a?b");
        let u = at("[::1]", 8080, "/", "");
        assert_eq!(location(&to_https(8443), &u), "https://[::1]:8443/");
        let mut action = to_https(8443);
        action.host = Some("app.example".into());
        let u = at("h", 8080, "/p", "");
        assert_eq!(location(&action, &u), "https://app.example:8443/p");
    }
}
