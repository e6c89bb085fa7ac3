//! Malformed and hostile requests: each gets its documented status (with the Error
//! body wherever the app answers) and the server keeps serving everyone else.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{PATH, TestApp, contract};
use proptest::prelude::*;

/// What came back over a raw connection.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Sends `request` as bytes, as no well-behaved client would, and reads the answer.
fn raw(app: &TestApp, request: &[u8]) -> Raw {
    let address = app.base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Raw {
        status,
        head,
        body: answer[split + 4..].to_vec(),
    }
}

fn get_with(headers: &str) -> Vec<u8> {
    format!("GET {PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n").into_bytes()
}

fn basic(userpass: &[u8]) -> String {
    format!("Basic {}", STANDARD.encode(userpass))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_hostile_requests_get_their_status_and_the_error_body() {
    let app = TestApp::spawn().await;
    app.user("alice", "pw").await;
    let token = app.token("alice").await;
    let other = app.token("alice").await;
    let long_login = "l".repeat(10_000);
    let long_password = format!("alice:{}", "p".repeat(10_000));
    let huge = "h".repeat(64 * 1024);

    // (what, headers, expected status, expected error code)
    type HeaderCase<'a> = (&'a str, Vec<(&'a str, String)>, u16, &'a str);
    let header_cases: Vec<HeaderCase> = vec![
        (
            "empty Authorization",
            vec![("Authorization", "".into())],
            400,
            "invalid_request",
        ),
        (
            "Basic without value",
            vec![("Authorization", "Basic".into())],
            400,
            "invalid_request",
        ),
        (
            "Basic with blanks",
            vec![("Authorization", "Basic    ".into())],
            400,
            "invalid_request",
        ),
        (
            "Basic not base64",
            vec![("Authorization", "Basic !!!***".into())],
            400,
            "invalid_request",
        ),
        (
            "Basic not UTF-8",
            vec![("Authorization", basic(b"\xff\xfe:\xfd"))],
            400,
            "invalid_request",
        ),
        (
            "Basic without colon",
            vec![("Authorization", basic(b"alice"))],
            400,
            "invalid_request",
        ),
        (
            "Basic empty login",
            vec![("Authorization", basic(b":pw"))],
            401,
            "invalid_credentials",
        ),
        (
            "Basic empty password",
            vec![("Authorization", basic(b"alice:"))],
            401,
            "invalid_credentials",
        ),
        (
            "Basic control bytes in login",
            vec![("Authorization", basic(b"al\x01ice:pw"))],
            401,
            "invalid_credentials",
        ),
        (
            "Basic NUL in password",
            vec![("Authorization", basic(b"alice:p\0w"))],
            401,
            "invalid_credentials",
        ),
        (
            "several schemes",
            vec![(
                "Authorization",
                format!("Basic {}, Bearer {token}", STANDARD.encode("alice:pw")),
            )],
            400,
            "invalid_request",
        ),
        (
            "Bearer without token",
            vec![("Authorization", "Bearer".into())],
            400,
            "invalid_request",
        ),
        (
            "Bearer with blanks",
            vec![("Authorization", "Bearer    ".into())],
            400,
            "invalid_request",
        ),
        (
            "unknown scheme",
            vec![("Authorization", "Digest username=\"alice\"".into())],
            401,
            "unauthorized",
        ),
        (
            "scheme only",
            vec![("Authorization", "Negotiate".into())],
            401,
            "unauthorized",
        ),
        (
            "empty macaroon",
            vec![("macaroon", "".into())],
            401,
            "unauthorized",
        ),
        (
            "blank X-Auth-Token",
            vec![("X-Auth-Token", "   ".into())],
            401,
            "unauthorized",
        ),
        (
            "macaroon repeated",
            vec![("macaroon", token.clone()), ("macaroon", token.clone())],
            400,
            "invalid_request",
        ),
        (
            "Authorization repeated",
            vec![
                ("Authorization", format!("Bearer {token}")),
                ("Authorization", format!("Bearer {token}")),
            ],
            400,
            "invalid_request",
        ),
        (
            "conflicting token headers",
            vec![("macaroon", token.clone()), ("X-Auth-Token", other.clone())],
            400,
            "invalid_request",
        ),
        (
            "conflicting Bearer and macaroon",
            vec![
                ("macaroon", token.clone()),
                ("Authorization", format!("Bearer {other}")),
            ],
            400,
            "invalid_request",
        ),
        (
            "Basic and a token",
            vec![
                ("Authorization", basic(b"alice:pw")),
                ("X-Auth-Token", token.clone()),
            ],
            400,
            "invalid_request",
        ),
        (
            "non-ASCII token",
            vec![("macaroon", "tok\u{e9}n".into())],
            400,
            "invalid_request",
        ),
        (
            "SQL in login",
            vec![("Authorization", basic(b"' OR '1'='1:pw"))],
            401,
            "invalid_credentials",
        ),
        (
            "SQL statement in login",
            vec![("Authorization", basic(b"alice'; DROP TABLE users; --:pw"))],
            401,
            "invalid_credentials",
        ),
        (
            "10,000-character login",
            vec![(
                "Authorization",
                basic(format!("{long_login}:pw").as_bytes()),
            )],
            401,
            "invalid_credentials",
        ),
        (
            "10,000-character password",
            vec![("Authorization", basic(long_password.as_bytes()))],
            401,
            "invalid_credentials",
        ),
        (
            "token one character short",
            vec![("macaroon", token[1..].to_owned())],
            401,
            "invalid_token",
        ),
        (
            "token one character long",
            vec![("macaroon", format!("{token}A"))],
            401,
            "invalid_token",
        ),
        (
            "token in standard base64",
            vec![("macaroon", format!("+{}", &token[1..]))],
            401,
            "invalid_token",
        ),
        (
            "token with padding",
            vec![("X-Auth-Token", format!("{}=", &token[1..]))],
            401,
            "invalid_token",
        ),
        (
            "token with a space inside",
            vec![(
                "Authorization",
                format!("Bearer {} {}", &token[..20], &token[20..]),
            )],
            401,
            "invalid_token",
        ),
        (
            "SQL as token",
            vec![("macaroon", "' OR 1=1 --".into())],
            401,
            "invalid_token",
        ),
        (
            "token of 4 KiB",
            vec![("macaroon", "t".repeat(4096))],
            401,
            "invalid_token",
        ),
        (
            "64 KiB token header",
            vec![("macaroon", huge.clone())],
            401,
            "invalid_token",
        ),
        (
            "64 KiB Basic, not UTF-8 inside",
            vec![("Authorization", format!("Basic {huge}"))],
            400,
            "invalid_request",
        ),
        (
            "64 KiB Basic password",
            vec![("Authorization", basic(format!("alice:{huge}").as_bytes()))],
            401,
            "invalid_credentials",
        ),
    ];
    for (what, headers, status, code) in &header_cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = app.get_spaces(&headers).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (*status, *code),
            "{what}"
        );
    }

    // Requests only a raw connection can send. The app answers these with the Error body.
    let app_cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unknown method", format!("FROB {PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes(), 405),
        ("POST", format!("POST {PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").into_bytes(), 405),
        ("DELETE", format!("DELETE {PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes(), 405),
        ("OPTIONS", format!("OPTIONS {PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes(), 405),
        ("dot segments", b"GET /api/v3/onezone/user/../user/spaces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 404),
        ("encoded traversal", b"GET /api/v3/onezone/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 404),
        ("encoded slash", b"GET /api/v3/onezone/user%2Fspaces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 404),
        ("trailing slash", format!("GET {PATH}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes(), 404),
        ("8 KiB path", format!("GET {PATH}/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(8192)).into_bytes(), 404),
        ("body on GET", [get_with("Content-Length: 11\r\n"), b"hello world".to_vec()].concat(), 401),
        ("chunked body on GET", [get_with("Transfer-Encoding: chunked\r\n"), b"5\r\nhello\r\n0\r\n\r\n".to_vec()].concat(), 401),
        ("query string", format!("GET {PATH}?spaces=all&default=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes(), 401),
    ];
    for (what, request, status) in &app_cases {
        let answer = raw(&app, request);
        assert_eq!(answer.status, *status, "{what}: {}", answer.head);
        let body: serde_json::Value =
            serde_json::from_slice(&answer.body).unwrap_or_else(|e| panic!("{what}: {e}"));
        let method = std::str::from_utf8(request)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        let path = std::str::from_utf8(request)
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .split('?')
            .next()
            .unwrap();
        contract::check(method, path, answer.status, Some("application/json"), &body);
    }

    // Requests refused by the HTTP parser before they reach the app: 400, and the
    // connection is closed. actix-http writes these itself, without a body.
    let parser_cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "64 KiB URL",
            format!("GET {PATH}?{huge} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(),
            400,
        ),
        (
            "control byte in a header",
            get_with("macaroon: a\x01b\r\n"),
            400,
        ),
        ("NUL in a header", get_with("macaroon: a\0b\r\n"), 400),
        (
            "garbage request line",
            b"\x16\x03\x01 hello\r\n\r\n".to_vec(),
            400,
        ),
    ];
    for (what, request, status) in &parser_cases {
        let answer = raw(&app, request);
        assert_eq!(answer.status, *status, "{what}: {}", answer.head);
    }

    let total = header_cases.len() + app_cases.len() + parser_cases.len();
    assert!(total >= 40, "{total} cases");
    println!("hostile input: {total} cases");
    // Nothing was lost: the store still answers the rightful user.
    assert_eq!(app.get_spaces_basic("alice", "pw").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_does_not_hold_up_others() {
    let app = TestApp::spawn().await;
    app.user("alice", "pw").await;
    let address = app.base_url.trim_start_matches("http://").to_owned();
    // Half a request, then silence.
    let mut slow = TcpStream::connect(&address).unwrap();
    slow.write_all(format!("GET {PATH} HTTP/1.1\r\nHost: x\r\nmacaroon: ").as_bytes())
        .unwrap();

    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(app.get_spaces_basic("alice", "pw").await.status, 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "others waited behind the slow client"
    );

    // The slow one is timed out and closed, not kept forever.
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let head = String::from_utf8_lossy(&answer);
    assert!(
        head.is_empty() || head.starts_with("HTTP/1.1 408"),
        "{head}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_authorization_parser_never_panics(value in ".*") {
        let _ = onezone_server::auth::parse_authorization(&value);
    }

    #[test]
    fn header_parsing_never_panics(
        authorization in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
        macaroon in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
        x_auth in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
    ) {
        use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
        let mut headers = HeaderMap::new();
        for (name, value) in [("authorization", authorization), ("macaroon", macaroon), ("x-auth-token", x_auth)] {
            if let Some(Ok(value)) = value.map(|v| HeaderValue::from_bytes(&v)) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        let _ = onezone_server::auth::credentials_from_headers(&headers);
    }

    #[test]
    fn any_basic_payload_parses_or_is_refused(payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let header = format!("Basic {}", STANDARD.encode(&payload));
        let _ = onezone_server::auth::parse_authorization(&header);
    }
}
