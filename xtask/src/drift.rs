//! Comparing the server's utoipa document with the spec, semantically.
//!
//! Both sides are normalised, then compared in full. Normalising removes only what
//! does not change meaning:
//! - the `openapi` version string (the spec is 3.0.x, utoipa writes 3.1.x);
//! - 3.1 spellings of 3.0 ideas: `type: [T, "null"]` and a `oneOf`/`anyOf` with a
//!   `null` branch become `nullable: true`; a schema's `examples: [e]` becomes
//!   `example: e`; `const: v` becomes `enum: [v]`; a numeric `exclusiveMinimum` or
//!   `exclusiveMaximum` becomes `minimum`/`maximum` plus `exclusive…: true`;
//! - leading and trailing white space of `description` and `summary`;
//! - empty objects and arrays, which mean the same as absent ones (but not an empty
//!   `security`, which means "no authentication");
//! - key order, which JSON objects do not have.

use serde_json::{Map, Value};

use crate::findings::{Finding, Fix};
use crate::spec::SPEC_PATH;

/// `$.paths["/user/spaces"].get.responses[404]` from its segments.
pub fn json_path(segments: &[&str]) -> String {
    let mut out = String::from("$");
    for segment in segments {
        let identifier = segment
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if identifier {
            out.push('.');
            out.push_str(segment);
        } else if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            out.push_str(&format!("[{segment:?}]"));
        }
    }
    out
}

/// The document with every meaning-preserving difference taken out.
pub fn normalise(document: &Value) -> Value {
    let mut document = document.clone();
    if let Some(map) = document.as_object_mut() {
        map.remove("openapi");
    }
    normalise_value(&mut document, None);
    document
}

fn normalise_value(value: &mut Value, key: Option<&str>) {
    match value {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                normalise_value(child, Some(k.as_str()));
            }
            normalise_schema_spellings(map);
            map.retain(|k, v| k == "security" || !is_empty(v));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| normalise_value(v, None)),
        Value::String(s) if matches!(key, Some("description" | "summary")) => {
            *s = s.trim().to_owned();
        }
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn normalise_schema_spellings(map: &mut Map<String, Value>) {
    // type: [T, "null"] -> type: T, nullable: true
    if let Some(Value::Array(types)) = map.get("type") {
        let non_null: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        if non_null.len() < types.len() {
            map.insert("nullable".into(), Value::Bool(true));
        }
        let single = (non_null.len() == 1).then(|| non_null[0].clone());
        map.insert("type".into(), single.unwrap_or(Value::Array(non_null)));
    }
    // oneOf/anyOf: [{type: null}, X] -> X, nullable: true
    for combinator in ["oneOf", "anyOf"] {
        let Some(Value::Array(branches)) = map.get(combinator) else {
            continue;
        };
        let is_null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
        if branches.len() == 2 && branches.iter().any(is_null) {
            let other = branches
                .iter()
                .find(|b| !is_null(b))
                .cloned()
                .unwrap_or_default();
            map.remove(combinator);
            if let Value::Object(other) = other {
                map.extend(other);
            }
            map.insert("nullable".into(), Value::Bool(true));
        }
    }
    // A schema's examples: [e] -> example: e (a media type's `examples` is a map).
    if let Some(first) = map
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
        .cloned()
    {
        map.remove("examples");
        map.entry("example").or_insert(first);
    }
    if let Some(constant) = map.remove("const") {
        map.insert("enum".into(), Value::Array(vec![constant]));
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(n @ Value::Number(_)) = map.get(exclusive).cloned() {
            map.insert(bound.into(), n);
            map.insert(exclusive.into(), Value::Bool(true));
        }
    }
}

/// One place where the two documents differ; `None` is "absent on that side".
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub path: String,
    pub spec: Option<Value>,
    pub server: Option<Value>,
}

/// Every difference between two normalised documents, deepest first-differing
/// location for each.
pub fn differences(spec: &Value, server: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(&mut Vec::new(), Some(spec), Some(server), &mut out);
    out
}

fn walk(
    path: &mut Vec<String>,
    spec: Option<&Value>,
    server: Option<&Value>,
    out: &mut Vec<Difference>,
) {
    match (spec, server) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                path.push(key.clone());
                walk(path, a.get(key), b.get(key), out);
                path.pop();
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                path.push(i.to_string());
                walk(path, Some(x), Some(y), out);
                path.pop();
            }
        }
        (a, b) if a == b => {}
        (a, b) => {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            out.push(Difference {
                path: json_path(&segments),
                spec: a.cloned(),
                server: b.cloned(),
            });
        }
    }
}

/// The first two segments of a JSON path made by [`json_path`].
fn segments_of(path: &str) -> Vec<String> {
    path.trim_start_matches('$')
        .split(['.', '['])
        .filter(|s| !s.is_empty())
        .take(3)
        .map(|s| s.trim_end_matches(']').trim_matches('"').to_owned())
        .collect()
}

/// Which code in the server holds the annotation for a place in the document.
fn where_to_edit(segments: &[String]) -> String {
    match segments
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["paths", path, ..] => format!(
            "the #[utoipa::path] annotation of the handler for {path} under server/src/http/"
        ),
        ["components", "schemas", name] => {
            format!("the ToSchema type `{name}` (#[schema(as = {name})]) under server/src/http/")
        }
        _ => "`ApiDoc` or `SecuritySchemes` in server/src/http/mod.rs".to_owned(),
    }
}

/// Compares the spec with the server's document and says, for each difference, where
/// it is, what each side holds, and what to do.
pub fn check(spec: &Value, server: &Value) -> Vec<Finding> {
    let show = |v: &Option<Value>| match v {
        None => "(absent)".to_owned(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 300 {
                format!("{}…", text.chars().take(300).collect::<String>())
            } else {
                text
            }
        }
    };
    differences(&normalise(spec), &normalise(server))
        .into_iter()
        .map(|d| Finding {
            check: "drift",
            problem: match (&d.spec, &d.server) {
                (Some(_), None) => "in the spec, missing from the server's annotations".into(),
                (None, Some(_)) => "in the server's annotations, missing from the spec".into(),
                _ => "the spec and the server's annotations differ".into(),
            },
            location: d.path.clone(),
            sides: vec![("spec:", show(&d.spec)), ("server:", show(&d.server))],
            fix_hint: format!(
                "the spec is the contract: make {} say what {SPEC_PATH} says here; if the spec is \
                 what is wrong, edit it instead, then run `cargo xtask generate`",
                where_to_edit(&segments_of(&d.path))
            ),
            fix: Fix::Human,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn spellings_of_the_same_thing_compare_equal() {
        let v30 = json!({"openapi": "3.0.3", "components": {"schemas": {"A": {
            "type": "string", "nullable": true, "example": "x", "description": "d\n",
            "minimum": 1, "exclusiveMinimum": true, "enum": ["k"]}}}, "tags": []});
        let v31 = json!({"openapi": "3.1.0", "components": {"schemas": {"A": {
            "type": ["string", "null"], "examples": ["x"], "description": "d",
            "exclusiveMinimum": 1, "const": "k"}}}});
        assert_eq!(differences(&normalise(&v30), &normalise(&v31)), vec![]);
    }

    #[test]
    fn a_nullable_reference_compares_equal() {
        let v30 = json!({"s": {"$ref": "#/components/schemas/B", "nullable": true}});
        let v31 = json!({"s": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/B"}]}});
        assert_eq!(differences(&normalise(&v30), &normalise(&v31)), vec![]);
    }

    #[test]
    fn differences_name_their_path_and_both_sides() {
        let a = json!({"paths": {"/x": {"get": {"operationId": "a", "responses": {"200": {"description": "ok"}}}}}});
        let b = json!({"paths": {"/x": {"get": {"operationId": "b", "responses": {}}}}});
        let found = differences(&normalise(&a), &normalise(&b));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].path, r#"$.paths["/x"].get.operationId"#);
        assert_eq!(
            (found[0].spec.clone(), found[0].server.clone()),
            (Some(json!("a")), Some(json!("b")))
        );
        assert_eq!(found[1].path, r#"$.paths["/x"].get.responses"#);
        assert_eq!(found[1].server, None, "an emptied map is absent");
    }

    #[test]
    fn an_empty_security_list_is_not_dropped() {
        let open = json!({"security": []});
        let absent = json!({});
        assert_eq!(differences(&normalise(&open), &normalise(&absent)).len(), 1);
    }
}
