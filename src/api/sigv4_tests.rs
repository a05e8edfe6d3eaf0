//! SigV4 against AWS's published test suite (credential scope
//! `AKIDEXAMPLE/20150830/us-east-1/service/aws4_request`, signed at 2015-08-30T12:36:00Z), and
//! the verifier's refusals.

use super::*;
use http::{HeaderName, HeaderValue};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20150830T123600Z";
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn suite_credentials() -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: SECRET.into(),
    }
}

fn suite_time() -> SystemTime {
    parse_amz_date(DATE).unwrap()
}

/// One test of the suite: a request and the signature AWS publishes for it.
struct Vector {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    query: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    signature: &'static str,
}

impl Vector {
    fn header_map(&self, authorization: Option<String>) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in self.headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_static(v),
            );
        }
        if let Some(auth) = authorization {
            map.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        }
        map
    }

    fn signed_headers(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn authorization(&self) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature={}",
            self.signed_headers().join(";"),
            self.signature
        )
    }
}

const HOST: (&str, &str) = ("host", "example.amazonaws.com");
const XDATE: (&str, &str) = ("x-amz-date", DATE);

/// Header-signed tests of the suite (`header-signature.txt` of each).
const VECTORS: &[Vector] = &[
    Vector {
        name: "get-vanilla",
        method: "GET",
        path: "/",
        query: None,
        headers: &[HOST, XDATE],
        body: b"",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-vanilla-query-order-key-case",
        method: "GET",
        path: "/",
        query: Some("Param2=value2&Param1=value1"),
        headers: &[HOST, XDATE],
        body: b"",
        signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    Vector {
        name: "get-vanilla-query-unreserved",
        method: "GET",
        path: "/",
        query: Some(
            "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        ),
        headers: &[HOST, XDATE],
        body: b"",
        signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    },
    Vector {
        name: "get-vanilla-utf8-query",
        method: "GET",
        path: "/",
        query: Some("\u{1234}=bar"),
        headers: &[HOST, XDATE],
        body: b"",
        signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    Vector {
        name: "get-vanilla-query-order-encoded",
        method: "GET",
        path: "/",
        query: Some("Param-3=Value3&Param=Value2&%E1%88%B4=Value1"),
        headers: &[HOST, XDATE],
        body: b"",
        signature: "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
    },
    Vector {
        name: "post-vanilla-query",
        method: "POST",
        path: "/",
        query: Some("Param1=value1"),
        headers: &[HOST, XDATE],
        body: b"",
        signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    },
    Vector {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        path: "/",
        query: None,
        headers: &[
            ("content-type", "application/x-www-form-urlencoded"),
            HOST,
            ("content-length", "13"),
            XDATE,
            (
                "x-amz-content-sha256",
                "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            ),
        ],
        body: b"Param1=value1",
        signature: "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
    },
    Vector {
        name: "post-x-www-form-urlencoded-parameters",
        method: "POST",
        path: "/",
        query: None,
        headers: &[
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            HOST,
            ("content-length", "13"),
            XDATE,
            (
                "x-amz-content-sha256",
                "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            ),
        ],
        body: b"Param1=value1",
        signature: "328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422",
    },
    Vector {
        name: "get-header-value-trim",
        method: "GET",
        path: "/",
        query: None,
        headers: &[
            HOST,
            ("my-header1", " value1"),
            ("my-header2", "\"a   b   c\""),
            XDATE,
        ],
        body: b"",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    Vector {
        name: "get-header-key-duplicate",
        method: "GET",
        path: "/",
        query: None,
        headers: &[
            HOST,
            ("my-header1", "value2"),
            ("my-header1", "value2"),
            ("my-header1", "value1"),
            XDATE,
        ],
        body: b"",
        signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    Vector {
        name: "get-slashes-normalized",
        method: "GET",
        path: "//example//",
        query: None,
        headers: &[HOST, XDATE],
        body: b"",
        signature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
    },
    Vector {
        name: "get-relative-relative-normalized",
        method: "GET",
        path: "/example1/example2/../..",
        query: None,
        headers: &[HOST, XDATE],
        body: b"",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-utf8",
        method: "GET",
        path: "/\u{1234}",
        query: None,
        headers: &[HOST, XDATE],
        body: b"",
        signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    },
];

fn request<'a>(v: &'a Vector, headers: &'a HeaderMap) -> Request<'a> {
    Request {
        method: v.method,
        path: v.path,
        query: v.query,
        headers,
        body: v.body,
    }
}

#[test]
fn canonical_request_and_string_to_sign_of_get_vanilla() {
    let v = &VECTORS[0];
    let headers = v.header_map(None);
    let creq = canonical_request(&request(v, &headers), &v.signed_headers(), false);
    assert_eq!(
        creq,
        format!(
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:{DATE}\n\nhost;x-amz-date\n{EMPTY_HASH}"
        )
    );
    assert_eq!(
        string_to_sign(DATE, "20150830/us-east-1/service/aws4_request", &creq),
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    );
}

#[test]
fn canonical_query_and_headers_follow_the_suite() {
    let by_name = |name| VECTORS.iter().find(|v| v.name == name).unwrap();
    let creq = |v: &Vector| {
        canonical_request(&request(v, &v.header_map(None)), &v.signed_headers(), false)
    };
    assert!(
        creq(by_name("get-vanilla-query-order-key-case"))
            .contains("\nParam1=value1&Param2=value2\n")
    );
    assert!(
        creq(by_name("get-vanilla-query-order-encoded"))
            .contains("\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n")
    );
    assert!(
        creq(by_name("get-header-value-trim"))
            .contains("\nmy-header1:value1\nmy-header2:\"a b c\"\n")
    );
    assert!(
        creq(by_name("get-header-key-duplicate")).contains("\nmy-header1:value2,value2,value1\n")
    );
    assert!(creq(by_name("get-slashes-normalized")).starts_with("GET\n/example/\n"));
    assert!(creq(by_name("get-utf8")).starts_with("GET\n/%E1%88%B4\n"));
}

#[test]
fn every_suite_signature_verifies() {
    for v in VECTORS {
        let headers = v.header_map(Some(v.authorization()));
        let result = verify(
            &request(v, &headers),
            &suite_credentials(),
            "us-east-1",
            suite_time(),
        );
        assert_eq!(
            result.as_ref().map(|s| s.service.as_str()),
            Ok("service"),
            "{}",
            v.name
        );
    }
}

#[test]
fn signing_reproduces_the_suite_signatures() {
    for v in VECTORS {
        let headers = v.header_map(None);
        let names: Vec<&str> = v.headers.iter().map(|(k, _)| *k).collect();
        let mut names = names;
        names.dedup();
        let auth = authorization(
            &request(v, &headers),
            &suite_credentials(),
            ("20150830", "us-east-1", "service"),
            DATE,
            &names,
        );
        assert!(
            auth.ends_with(&format!("Signature={}", v.signature)),
            "{}: {auth}",
            v.name
        );
    }
}

#[test]
fn presigned_suite_urls_verify() {
    let cases = [
        (
            "GET",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d",
            vec![HOST],
            &b""[..],
        ),
        (
            "POST",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&X-Amz-Expires=3600&X-Amz-Signature=89a40deed0f26f9461242825a082d2222717248abc7ab41f552ad84a94ad46e9",
            vec![
                ("content-type", "application/x-www-form-urlencoded"),
                HOST,
                ("content-length", "13"),
            ],
            &b"Param1=value1"[..],
        ),
    ];
    for (method, query, header_list, body) in cases {
        let mut headers = HeaderMap::new();
        for (k, v) in header_list {
            headers.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let req = Request {
            method,
            path: "/",
            query: Some(query),
            headers: &headers,
            body,
        };
        let creds = suite_credentials();
        assert!(
            verify(&req, &creds, "us-east-1", suite_time()).is_ok(),
            "{method}"
        );
        // Valid for X-Amz-Expires (3600 s), not after.
        let later = suite_time() + Duration::from_secs(3599);
        assert!(verify(&req, &creds, "us-east-1", later).is_ok());
        let expired = suite_time() + Duration::from_secs(3601);
        assert_eq!(
            verify(&req, &creds, "us-east-1", expired),
            Err(AuthFailure::Expired)
        );
    }
}

fn vanilla_with(auth: &str) -> HeaderMap {
    VECTORS[0].header_map(Some(auth.to_string()))
}

fn verify_vanilla(
    headers: &HeaderMap,
    creds: &AwsCredentials,
    region: &str,
    now: SystemTime,
) -> Result<Scope, AuthFailure> {
    verify(&request(&VECTORS[0], headers), creds, region, now)
}

#[test]
fn a_wrong_secret_or_an_altered_request_does_not_match() {
    let headers = vanilla_with(&VECTORS[0].authorization());
    let mut wrong = suite_credentials();
    wrong.secret_access_key = "x".repeat(40);
    let e = verify_vanilla(&headers, &wrong, "us-east-1", suite_time()).unwrap_err();
    assert_eq!(e, AuthFailure::Mismatch(MISMATCH_MESSAGE.into()));
    let altered = Request {
        body: b"Action=DeleteEverything",
        ..request(&VECTORS[0], &headers)
    };
    assert!(matches!(
        verify(&altered, &suite_credentials(), "us-east-1", suite_time()),
        Err(AuthFailure::Mismatch(_))
    ));
}

#[test]
fn another_key_id_is_unknown() {
    let headers = vanilla_with(
        &VECTORS[0]
            .authorization()
            .replace("AKIDEXAMPLE", "AKIAOTHER"),
    );
    assert_eq!(
        verify_vanilla(&headers, &suite_credentials(), "us-east-1", suite_time()),
        Err(AuthFailure::UnknownKey)
    );
}

#[test]
fn clock_skew_beyond_five_minutes_is_refused_with_aws_wording() {
    let headers = vanilla_with(&VECTORS[0].authorization());
    let creds = suite_credentials();
    let ok = suite_time() + Duration::from_secs(299);
    assert!(verify_vanilla(&headers, &creds, "us-east-1", ok).is_ok());
    let late = suite_time() + Duration::from_secs(360);
    assert_eq!(
        verify_vanilla(&headers, &creds, "us-east-1", late),
        Err(AuthFailure::Skewed(
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T124200Z - 5 min.)".into()
        ))
    );
    let early = suite_time() - Duration::from_secs(360);
    assert!(matches!(
        verify_vanilla(&headers, &creds, "us-east-1", early),
        Err(AuthFailure::Skewed(m)) if m.starts_with("Signature not yet current: 20150830T123600Z is still later than")
    ));
}

#[test]
fn a_scope_for_another_region_is_refused() {
    let headers = vanilla_with(&VECTORS[0].authorization());
    assert!(matches!(
        verify_vanilla(&headers, &suite_credentials(), "eu-west-1", suite_time()),
        Err(AuthFailure::Mismatch(m)) if m.contains("'us-east-1'") && m.contains("'eu-west-1'")
    ));
}

#[test]
fn incomplete_or_missing_signatures_say_what_is_missing() {
    let creds = suite_credentials();
    let e = verify_vanilla(
        &vanilla_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
        ),
        &creds,
        "us-east-1",
        suite_time(),
    )
    .unwrap_err();
    let AuthFailure::Incomplete(m) = e else {
        panic!("{e:?}")
    };
    assert!(
        m.contains("requires 'Signature' parameter")
            && m.contains("requires 'SignedHeaders' parameter"),
        "{m}"
    );
    let e = verify_vanilla(&vanilla_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service, SignedHeaders=host, Signature=00"), &creds, "us-east-1", suite_time()).unwrap_err();
    assert!(matches!(e, AuthFailure::Incomplete(m) if m.contains("5 slash-separated parts")));
    let e = verify_vanilla(
        &vanilla_with("AWS AKIDEXAMPLE:abc"),
        &creds,
        "us-east-1",
        suite_time(),
    )
    .unwrap_err();
    assert!(
        matches!(e, AuthFailure::Incomplete(m) if m.contains("Unsupported AWS 'algorithm': 'AWS'"))
    );
    let unsigned = VECTORS[0].header_map(None);
    assert_eq!(
        verify_vanilla(&unsigned, &creds, "us-east-1", suite_time()),
        Err(AuthFailure::Missing)
    );
}

#[test]
fn scope_is_read_without_verifying() {
    let headers = vanilla_with(&VECTORS[0].authorization().replace("AKIDEXAMPLE", "test"));
    let scope = scope(&request(&VECTORS[0], &headers)).unwrap();
    assert_eq!(
        (scope.access_key_id.as_str(), scope.service.as_str()),
        ("test", "service")
    );
}

#[test]
fn each_protocol_names_failures_as_aws_does() {
    let code = |f: AuthFailure, fam| {
        let e = f.error(fam);
        (e.code, e.status)
    };
    assert_eq!(
        code(AuthFailure::UnknownKey, Family::Query),
        ("InvalidClientTokenId".into(), 403)
    );
    assert_eq!(
        code(AuthFailure::UnknownKey, Family::Json),
        ("UnrecognizedClientException".into(), 400)
    );
    assert_eq!(
        code(AuthFailure::UnknownKey, Family::Ec2),
        ("AuthFailure".into(), 401)
    );
    let m = AuthFailure::Mismatch(MISMATCH_MESSAGE.into());
    assert_eq!(
        code(m.clone(), Family::Query),
        ("SignatureDoesNotMatch".into(), 403)
    );
    assert_eq!(
        code(m, Family::Json),
        ("InvalidSignatureException".into(), 400)
    );
    assert_eq!(
        code(AuthFailure::Expired, Family::Query),
        ("RequestExpired".into(), 400)
    );
    assert_eq!(
        code(AuthFailure::Skewed("x".into()), Family::Ec2),
        ("RequestExpired".into(), 400)
    );
    assert_eq!(
        code(AuthFailure::Incomplete("x".into()), Family::Query),
        ("IncompleteSignature".into(), 400)
    );
    assert_eq!(
        code(AuthFailure::Missing, Family::Query),
        ("MissingAuthenticationToken".into(), 403)
    );
    assert_eq!(
        AuthFailure::UnknownKey.error(Family::Query).message,
        "The security token included in the request is invalid."
    );
}

#[test]
fn amz_dates_round_trip() {
    assert_eq!(format_amz_date(suite_time()), DATE);
    for bad in [
        "2015-08-30T12:36:00Z",
        "20150830T123600",
        "20151330T123600Z",
        "2015083OT123600Z",
    ] {
        assert_eq!(parse_amz_date(bad), None, "{bad}");
    }
    assert_eq!(
        signing_key(SECRET, "20150830", "us-east-1", "iam").algorithm(),
        hmac::HMAC_SHA256
    );
}
