//! The front end, compiled into the binary: one page, one script, one style sheet. Vanilla JS
//! and SVG: nothing to build, nothing fetched from elsewhere (the page's Content Security
//! Policy allows only its own origin).

/// `GET /dashboard/`.
pub const INDEX_HTML: &str = include_str!("assets/index.html");
/// `GET /dashboard/app.js`.
pub const APP_JS: &str = include_str!("assets/app.js");
/// `GET /dashboard/style.css`.
pub const STYLE_CSS: &str = include_str!("assets/style.css");

/// The asset at `path` (under `/dashboard/`) and its content type.
pub fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "" | "index.html" => Some((INDEX_HTML, "text/html; charset=utf-8")),
        "app.js" => Some((APP_JS, "text/javascript; charset=utf-8")),
        "style.css" => Some((STYLE_CSS, "text/css; charset=utf-8")),
        _ => None,
    }
}

/// What the page may load and where it may connect: its own origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_its_own_script_and_style_only() {
        assert!(INDEX_HTML.contains("src=\"app.js\""));
        assert!(INDEX_HTML.contains("href=\"style.css\""));
        assert!(!INDEX_HTML.contains("http://") && !INDEX_HTML.contains("https://"));
        assert!(
            !APP_JS.contains("https://"),
            "nothing fetched from elsewhere"
        );
        assert_eq!(asset("app.js").unwrap().1, "text/javascript; charset=utf-8");
        assert!(asset("../secret").is_none());
    }
}
