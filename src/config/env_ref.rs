//! `${...}` placeholders in task environment values, e.g. `"${rds.flask-crud-db.url}"` or
//! `"${secret.flask-app-secret-key}"`. Pure: parsing here, values come from the caller's lookup.
//!
//! Grammar: `${rds.IDENTIFIER.ATTRIBUTE}`, `${secret.NAME}`, and `$$` for a literal `$`. Any other
//! `$` is refused, so that a shell-style `$HOME` is caught instead of passed through verbatim.

use std::fmt;

/// One piece of an environment value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text copied as is (`$$` already unescaped).
    Literal(String),
    /// An attribute of a database instance (`${rds.IDENTIFIER.ATTRIBUTE}`).
    Rds {
        identifier: String,
        attribute: RdsAttr,
    },
    /// A generated secret (`${secret.NAME}`), created on first use and kept in the state dir.
    Secret(String),
}

/// What `${rds.ID.ATTRIBUTE}` may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdsAttr {
    /// `mysql+pymysql://USER:PASSWORD@HOST:PORT/DBNAME` (SQLAlchemy's form, as the Flask app uses).
    Url,
    Host,
    Port,
    Username,
    Password,
    DbName,
}

impl RdsAttr {
    /// Every attribute, in the order messages list them.
    pub const ALL: [RdsAttr; 6] = [
        RdsAttr::Url,
        RdsAttr::Host,
        RdsAttr::Port,
        RdsAttr::Username,
        RdsAttr::Password,
        RdsAttr::DbName,
    ];

    /// The attribute's name as written in a placeholder.
    pub fn as_str(self) -> &'static str {
        match self {
            RdsAttr::Url => "url",
            RdsAttr::Host => "host",
            RdsAttr::Port => "port",
            RdsAttr::Username => "username",
            RdsAttr::Password => "password",
            RdsAttr::DbName => "db-name",
        }
    }

    fn from_name(name: &str) -> Option<RdsAttr> {
        RdsAttr::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Segment {
    /// The segment as written in the file (literals re-escaped).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Literal(text) => write!(f, "{}", text.replace('$', "$$")),
            Segment::Rds {
                identifier,
                attribute,
            } => {
                write!(f, "${{rds.{identifier}.{}}}", attribute.as_str())
            }
            Segment::Secret(name) => write!(f, "${{secret.{name}}}"),
        }
    }
}

/// Splits an environment value into literals and placeholders.
pub fn parse(value: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            literal.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("`${{{body}` has no closing `}}`"))?;
            if !literal.is_empty() {
                segments.push(Segment::Literal(std::mem::take(&mut literal)));
            }
            segments.push(placeholder(&body[..end])?);
            rest = &body[end + 1..];
        } else {
            return Err(
                "`$` must start a `${...}` placeholder; write `$$` for a literal `$`".into(),
            );
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

/// Parses what is between `${` and `}`.
fn placeholder(body: &str) -> Result<Segment, String> {
    const FORMS: &str = "expected `${rds.IDENTIFIER.ATTRIBUTE}` or `${secret.NAME}`";
    match body.split_once('.') {
        Some(("rds", rest)) => {
            let (identifier, attr) = rest
                .split_once('.')
                .filter(|(id, _)| !id.is_empty())
                .ok_or_else(|| format!("`${{{body}}}`: {FORMS}"))?;
            let attribute = RdsAttr::from_name(attr).ok_or_else(|| {
                let names: Vec<&str> = RdsAttr::ALL.iter().map(|a| a.as_str()).collect();
                format!(
                    "`${{{body}}}`: unknown database attribute `{attr}`; {}",
                    super::suggest::hint(attr, "attributes", names)
                )
            })?;
            Ok(Segment::Rds {
                identifier: identifier.to_string(),
                attribute,
            })
        }
        Some(("secret", name)) if is_secret_name(name) => Ok(Segment::Secret(name.to_string())),
        Some(("secret", _)) => Err(format!(
            "`${{{body}}}`: a secret name is letters, digits and `-_/+=.@`"
        )),
        _ => Err(format!("`${{{body}}}`: {FORMS}")),
    }
}

/// AWS Secrets Manager's name alphabet.
fn is_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_/+=.@".contains(c))
}

/// Joins the segments, asking `lookup` for each placeholder's value. `${rds.ID.url}` is built from
/// the instance's username, password, host, port and db-name, so `lookup` never sees `Url`; the
/// user name and password are percent-encoded inside the URL.
pub fn render(
    segments: &[Segment],
    lookup: impl Fn(&Segment) -> Option<String>,
) -> Result<String, String> {
    let get = |seg: &Segment| lookup(seg).ok_or_else(|| format!("no value for `{seg}`"));
    let mut out = String::new();
    for seg in segments {
        match seg {
            Segment::Literal(text) => out.push_str(text),
            Segment::Rds {
                identifier,
                attribute: RdsAttr::Url,
            } => {
                let part = |attribute| {
                    get(&Segment::Rds {
                        identifier: identifier.clone(),
                        attribute,
                    })
                };
                out.push_str(&format!(
                    "mysql+pymysql://{}:{}@{}:{}/{}",
                    percent_encode(&part(RdsAttr::Username)?),
                    percent_encode(&part(RdsAttr::Password)?),
                    part(RdsAttr::Host)?,
                    part(RdsAttr::Port)?,
                    part(RdsAttr::DbName)?,
                ));
            }
            other => out.push_str(&get(other)?),
        }
    }
    Ok(out)
}

/// Encodes everything but RFC 3986's unreserved characters (for URL user info).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rds(id: &str, attribute: RdsAttr) -> Segment {
        Segment::Rds {
            identifier: id.into(),
            attribute,
        }
    }

    #[test]
    fn parses_placeholders_and_literals() {
        assert_eq!(
            parse("${rds.db.url}").unwrap(),
            vec![rds("db", RdsAttr::Url)]
        );
        assert_eq!(
            parse("host=${rds.db.host}:${rds.db.port} key=${secret.k}").unwrap(),
            vec![
                Segment::Literal("host=".into()),
                rds("db", RdsAttr::Host),
                Segment::Literal(":".into()),
                rds("db", RdsAttr::Port),
                Segment::Literal(" key=".into()),
                Segment::Secret("k".into()),
            ]
        );
        assert_eq!(
            parse("plain").unwrap(),
            vec![Segment::Literal("plain".into())]
        );
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn double_dollar_escapes() {
        assert_eq!(
            parse("a$$b$$").unwrap(),
            vec![Segment::Literal("a$b$".into())]
        );
        assert_eq!(parse("a$$b").unwrap()[0].to_string(), "a$$b");
    }

    #[test]
    fn refuses_malformed() {
        assert!(parse("$HOME").unwrap_err().contains("write `$$`"));
        assert!(parse("${rds.db.url").unwrap_err().contains("no closing"));
        assert!(parse("${rds.db}").unwrap_err().contains("expected `${rds"));
        assert!(parse("${vault.x}").unwrap_err().contains("expected `${rds"));
        assert!(parse("${secret.}").unwrap_err().contains("secret name"));
        let err = parse("${rds.db.dbname}").unwrap_err();
        assert!(err.contains("unknown database attribute `dbname`"), "{err}");
        assert!(err.contains("did you mean `db-name`?"), "{err}");
    }

    #[test]
    fn renders_url_from_parts() {
        let segs = parse("${rds.db.url}?x=${secret.s}").unwrap();
        let out = render(&segs, |seg| match seg {
            Segment::Rds {
                attribute: RdsAttr::Username,
                ..
            } => Some("admin".into()),
            Segment::Rds {
                attribute: RdsAttr::Password,
                ..
            } => Some("p@ss/w".into()),
            Segment::Rds {
                attribute: RdsAttr::Host,
                ..
            } => Some("db-host".into()),
            Segment::Rds {
                attribute: RdsAttr::Port,
                ..
            } => Some("3306".into()),
            Segment::Rds {
                attribute: RdsAttr::DbName,
                ..
            } => Some("flaskcrud".into()),
            Segment::Secret(_) => Some("s3cret".into()),
            _ => None,
        });
        assert_eq!(
            out.unwrap(),
            "mysql+pymysql://admin:p%40ss%2Fw@db-host:3306/flaskcrud?x=s3cret"
        );
    }

    #[test]
    fn render_names_missing_value() {
        let segs = parse("${secret.s}").unwrap();
        assert_eq!(
            render(&segs, |_| None).unwrap_err(),
            "no value for `${secret.s}`"
        );
    }
}
