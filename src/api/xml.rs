//! XML answers of the Query protocol: a tiny escaping writer ([`Xml`]) for the inside of a
//! result, the envelopes the dispatcher wraps it in, and the error documents.
//!
//! ```text
//! ELBv2, RDS, STS: <OpResponse xmlns=NS><OpResult>…</OpResult>
//!                  <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></OpResponse>
//! EC2:             <OpResponse xmlns=NS><requestId>…</requestId>…</OpResponse>
//! errors:          <ErrorResponse xmlns=NS><Error><Type>Sender</Type><Code>…</Code>
//!                  <Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>
//! EC2 errors:      <Response><Errors><Error><Code>…</Code><Message>…</Message></Error>
//!                  </Errors><RequestID>…</RequestID></Response>
//! ```

use std::fmt::{Display, Write};
use std::time::SystemTime;

use super::error::ApiError;

/// The XML declaration AWS starts its documents with.
const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// A fragment of XML under construction. Element names are the caller's constants; every
/// value written with [`Xml::leaf`] is escaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Xml(String);

impl Xml {
    pub fn new() -> Xml {
        Xml(String::new())
    }

    /// `<name>value</name>`, the value escaped.
    pub fn leaf(&mut self, name: &str, value: impl Display) -> &mut Self {
        self.open(name);
        escape_into(&mut self.0, &value.to_string());
        self.close(name)
    }

    /// Like [`Xml::leaf`] for `Some`; nothing at all for `None` (AWS omits absent members).
    pub fn opt(&mut self, name: &str, value: Option<impl Display>) -> &mut Self {
        if let Some(value) = value {
            self.leaf(name, value);
        }
        self
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.0, "<{name}>");
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.0, "</{name}>");
        self
    }

    /// `<name><member>…</member>…</name>`: each item written by `each` inside its own `member`
    /// element (`member` for ELBv2, `item` for EC2, the type's name for RDS). An empty list is
    /// written as `<name></name>`, which the SDKs read as an empty list.
    pub fn list<T>(
        &mut self,
        name: &str,
        member: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Xml, T),
    ) -> &mut Self {
        self.open(name);
        for item in items {
            self.open(member);
            each(self, item);
            self.close(member);
        }
        self.close(name)
    }

    /// Appends another fragment as it is (already escaped).
    pub fn append(&mut self, other: &Xml) -> &mut Self {
        self.0.push_str(&other.0);
        self
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0, even escaped: keep them visible.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// A timestamp as the Query protocol writes it: ISO 8601 UTC with milliseconds
/// (`2026-12-02T02:26:46.123Z`).
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// The whole answer of a Query-protocol service (ELBv2, RDS, STS).
pub fn query_response(action: &str, namespace: &str, result: &Xml, request_id: &str) -> String {
    let mut doc = Xml::new();
    doc.0.push_str(DECLARATION);
    doc.0.push('\n');
    let _ = write!(doc.0, r#"<{action}Response xmlns="{}">"#, escape(namespace));
    doc.open(&format!("{action}Result"))
        .append(result)
        .close(&format!("{action}Result"))
        .open("ResponseMetadata")
        .leaf("RequestId", request_id)
        .close("ResponseMetadata")
        .close(&format!("{action}Response"));
    doc.into_string()
}

/// The whole answer of EC2: no `Result` wrapper, a lower-case `requestId` first.
pub fn ec2_response(action: &str, namespace: &str, result: &Xml, request_id: &str) -> String {
    let mut doc = Xml::new();
    doc.0.push_str(DECLARATION);
    doc.0.push('\n');
    let _ = write!(doc.0, r#"<{action}Response xmlns="{}">"#, escape(namespace));
    doc.leaf("requestId", request_id)
        .append(result)
        .close(&format!("{action}Response"));
    doc.into_string()
}

/// An error of a Query-protocol service. `namespace` is `None` when the service is not known
/// (no `Action`, an unknown credential scope).
pub fn query_error(error: &ApiError, namespace: Option<&str>, request_id: &str) -> String {
    let mut doc = Xml::new();
    doc.0.push_str(DECLARATION);
    doc.0.push('\n');
    match namespace {
        Some(ns) => {
            let _ = write!(doc.0, r#"<ErrorResponse xmlns="{}">"#, escape(ns));
        }
        None => {
            doc.open("ErrorResponse");
        }
    }
    let fault = if error.sender_fault {
        "Sender"
    } else {
        "Receiver"
    };
    doc.open("Error")
        .leaf("Type", fault)
        .leaf("Code", &error.code)
        .leaf("Message", &error.message)
        .close("Error")
        .leaf("RequestId", request_id)
        .close("ErrorResponse");
    doc.into_string()
}

/// An error of EC2, in EC2's own shape.
pub fn ec2_error(error: &ApiError, request_id: &str) -> String {
    let mut doc = Xml::new();
    doc.0.push_str(DECLARATION);
    doc.0.push('\n');
    doc.open("Response")
        .open("Errors")
        .open("Error")
        .leaf("Code", &error.code)
        .leaf("Message", &error.message)
        .close("Error")
        .close("Errors")
        .leaf("RequestID", request_id)
        .close("Response");
    doc.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ELB_NS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

    #[test]
    fn values_are_escaped_and_none_is_omitted() {
        let mut x = Xml::new();
        x.leaf("Description", r#"<a href="x">Tom & 'Jerry'</a>"#)
            .opt("Reason", None::<&str>)
            .opt("Port", Some(80));
        assert_eq!(
            x.as_str(),
            "<Description>&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;</Description><Port>80</Port>"
        );
        assert_eq!(escape("a\u{1}b"), "a\\u{1}b");
    }

    #[test]
    fn lists_wrap_each_item_in_its_member_element() {
        let mut x = Xml::new();
        x.list("Names", "member", ["a", "b"], |x, n| {
            x.leaf("Name", n);
        })
        .list("Empty", "member", Vec::<u8>::new(), |_, _| {});
        assert_eq!(
            x.as_str(),
            "<Names><member><Name>a</Name></member><member><Name>b</Name></member></Names><Empty></Empty>"
        );
    }

    #[test]
    fn query_envelope_matches_aws_shape() {
        let mut result = Xml::new();
        result.list("TargetHealthDescriptions", "member", [1], |x, _| {
            x.leaf("HealthCheckPort", 8000);
        });
        let doc = query_response("DescribeTargetHealth", ELB_NS, &result, "req-1");
        assert_eq!(
            doc,
            format!(
                "{DECLARATION}\n<DescribeTargetHealthResponse xmlns=\"{ELB_NS}\"><DescribeTargetHealthResult>\
<TargetHealthDescriptions><member><HealthCheckPort>8000</HealthCheckPort></member></TargetHealthDescriptions>\
</DescribeTargetHealthResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>\
</DescribeTargetHealthResponse>"
            )
        );
    }

    #[test]
    fn ec2_envelope_has_no_result_wrapper() {
        let mut result = Xml::new();
        result.list("vpcSet", "item", ["vpc-1"], |x, id| {
            x.leaf("vpcId", id);
        });
        let doc = ec2_response(
            "DescribeVpcs",
            "http://ec2.amazonaws.com/doc/2016-11-15/",
            &result,
            "r",
        );
        assert!(doc.ends_with(
            "<DescribeVpcsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><vpcSet><item><vpcId>vpc-1</vpcId></item></vpcSet></DescribeVpcsResponse>"
        ), "{doc}");
    }

    #[test]
    fn error_documents_match_aws_shapes() {
        let e = ApiError::new("TargetGroupNotFound", "One or more target groups not found");
        assert_eq!(
            query_error(&e, Some(ELB_NS), "r"),
            format!(
                "{DECLARATION}\n<ErrorResponse xmlns=\"{ELB_NS}\"><Error><Type>Sender</Type>\
<Code>TargetGroupNotFound</Code><Message>One or more target groups not found</Message></Error>\
<RequestId>r</RequestId></ErrorResponse>"
            )
        );
        let e = ApiError::internal("boom");
        assert!(query_error(&e, None, "r").contains("<ErrorResponse><Error><Type>Receiver</Type>"));
        let e = ApiError::new("InvalidVpcID.NotFound", "The vpc ID 'vpc-x' does not exist");
        assert_eq!(
            ec2_error(&e, "r"),
            format!(
                "{DECLARATION}\n<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code>\
<Message>The vpc ID &apos;vpc-x&apos; does not exist</Message></Error></Errors>\
<RequestID>r</RequestID></Response>"
            )
        );
    }

    #[test]
    fn timestamps_are_iso8601_utc_with_millis() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_440_938_160_123);
        assert_eq!(timestamp(t), "2015-08-30T12:36:00.123Z");
    }
}
