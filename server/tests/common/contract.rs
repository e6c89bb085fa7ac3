//! Every response a test receives is checked against `openapi/onezone.yaml`: the
//! schema the spec gives for that operation, status and content type. Responses of
//! paths or methods the spec does not list must still carry the Error schema.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Value, json};

static SPEC: LazyLock<Value> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/onezone.yaml");
    yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
});

type Validators = HashMap<String, Arc<jsonschema::Validator>>;
static VALIDATORS: LazyLock<Mutex<Validators>> = LazyLock::new(Default::default);

/// A validator for `schema`, with the spec's components reachable through `$ref`.
fn validator(key: String, schema: &Value) -> Arc<jsonschema::Validator> {
    let mut cache = VALIDATORS.lock().unwrap();
    cache
        .entry(key)
        .or_insert_with(|| {
            let mut root = json!({"components": SPEC["components"].clone()});
            root.as_object_mut()
                .unwrap()
                .extend(schema.as_object().unwrap().clone());
            Arc::new(jsonschema::validator_for(&root).expect("the spec's schemas compile"))
        })
        .clone()
}

/// Panics, naming the rule, unless the response is one the spec allows.
pub fn check(method: &str, path: &str, status: u16, content_type: Option<&str>, body: &Value) {
    let operation = path
        .strip_prefix(SPEC["servers"][0]["url"].as_str().unwrap())
        .and_then(|relative| SPEC["paths"].get(relative))
        .and_then(|item| item.get(method.to_ascii_lowercase()));
    let content_type = content_type.unwrap_or("(none)");
    let (key, schema) = match operation {
        Some(op) => {
            let response = op["responses"].get(status.to_string()).unwrap_or_else(|| {
                panic!(
                    "{method} {path} answered {status}, which the spec does not document: {body}"
                )
            });
            let schema = response["content"].get(content_type).map(|c| &c["schema"]).unwrap_or_else(|| {
                panic!("{method} {path} {status} has content type {content_type}, not one the spec lists")
            });
            (format!("{method} {path} {status}"), schema.clone())
        }
        // Not an operation of the spec (404, 405): the Error body is still promised.
        None => {
            assert_eq!(
                content_type, "application/json",
                "{method} {path} {status}: {body}"
            );
            (
                "Error".to_owned(),
                json!({"$ref": "#/components/schemas/Error"}),
            )
        }
    };
    let validator = validator(key, &schema);
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: the body breaks the spec: {errors:?}\n{body}"
    );
}
