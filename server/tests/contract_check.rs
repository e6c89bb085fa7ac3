//! The response checker every test relies on must itself catch what breaks the spec.

mod common;

use common::contract::check;
use serde_json::{Value, json};

const OP: &str = "/api/v3/onezone/user/spaces";

fn refused(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: Value,
) -> String {
    let outcome = std::panic::catch_unwind(|| check(method, path, status, content_type, &body));
    let panic = outcome.expect_err("the checker accepted a response the spec does not allow");
    panic.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn conforming_responses_pass() {
    let json = Some("application/json");
    check(
        "GET",
        OP,
        200,
        json,
        &json!({"spaces": ["a"], "default": "undefined"}),
    );
    check(
        "GET",
        OP,
        401,
        json,
        &json!({"error": "invalid_token", "error_description": "x"}),
    );
    check(
        "POST",
        OP,
        405,
        json,
        &json!({"error": "method_not_allowed", "error_description": "x"}),
    );
}

#[test]
fn responses_that_break_the_spec_are_refused() {
    let json = Some("application/json");
    let why = refused(
        "GET",
        OP,
        200,
        json,
        json!({"spaces": "a", "default": "undefined"}),
    );
    assert!(
        why.contains("breaks the spec") && why.contains("/spaces"),
        "{why}"
    );
    let why = refused("GET", OP, 200, json, json!({"spaces": [1], "default": "x"}));
    assert!(why.contains("breaks the spec"), "{why}");
    let why = refused(
        "GET",
        OP,
        418,
        json,
        json!({"error": "teapot", "error_description": "x"}),
    );
    assert!(why.contains("does not document"), "{why}");
    let why = refused("GET", OP, 200, Some("text/plain"), json!({"spaces": []}));
    assert!(why.contains("content type text/plain"), "{why}");
    let why = refused("GET", OP, 401, json, json!({"error": "invalid_token"}));
    assert!(why.contains("error_description"), "{why}");
    // Off the spec's paths the Error body is still required.
    let why = refused(
        "GET",
        "/nowhere",
        404,
        json,
        json!({"message": "not found"}),
    );
    assert!(why.contains("breaks the spec"), "{why}");
}
