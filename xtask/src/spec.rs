//! Loading `openapi/onezone.yaml` and validating it as OpenAPI 3.0.x.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use serde_json::{Map, Value};

use crate::drift::json_path;
use crate::findings::{Finding, Fix};

/// The contract, relative to the workspace root.
pub const SPEC_PATH: &str = "openapi/onezone.yaml";

/// The spec as text, as a JSON value, and (when it is structurally valid) as typed by
/// `openapiv3`, which is what progenitor reads.
pub struct Spec {
    pub value: Value,
    pub parsed: Result<openapiv3::OpenAPI, String>,
}

impl Spec {
    pub fn from_yaml(text: &str) -> anyhow::Result<Spec> {
        let value: Value = yaml_serde::from_str(text).context("the spec is not valid YAML")?;
        let parsed = yaml_serde::from_str::<openapiv3::OpenAPI>(text).map_err(|e| e.to_string());
        Ok(Spec { value, parsed })
    }
}

fn finding(location: String, problem: String, fix_hint: &str) -> Finding {
    Finding {
        check: "spec",
        location,
        problem,
        sides: Vec::new(),
        fix_hint: format!("edit {SPEC_PATH}: {fix_hint}"),
        fix: Fix::Human,
    }
}

/// Checks that the spec is OpenAPI 3.0.x that the tools downstream can read: the
/// version, the structure (as progenitor's `openapiv3` reads it), every local `$ref`
/// resolving, operation ids present and unique, security requirements naming
/// defined schemes, every operation having responses.
pub fn validate(spec: &Spec) -> Vec<Finding> {
    let mut findings = Vec::new();
    let version = spec
        .value
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !version.starts_with("3.0.") {
        findings.push(finding(
            "$.openapi".into(),
            format!("version is {version:?}; progenitor and this project need OpenAPI 3.0.x"),
            "set `openapi: 3.0.3`",
        ));
    }
    if let Err(e) = &spec.parsed {
        findings.push(finding(
            "$".into(),
            format!("not a valid OpenAPI 3.0 document: {e}"),
            "fix the structure it names",
        ));
    }

    let mut refs = Vec::new();
    let mut unknown_required = Vec::new();
    for_each_object(&spec.value, &mut Vec::new(), &mut |here, object| {
        if let Some(target) = object.get("$ref").and_then(Value::as_str) {
            refs.push((here.to_owned(), target.to_owned()));
        }
        // A schema whose `required` names a property it does not define.
        if let (Some(Value::Array(required)), Some(Value::Object(properties))) =
            (object.get("required"), object.get("properties"))
        {
            for name in required
                .iter()
                .filter_map(Value::as_str)
                .filter(|n| !properties.contains_key(*n))
            {
                unknown_required.push((format!("{here}.required"), name.to_owned()));
            }
        }
    });
    for (location, target) in refs {
        let resolved = target.strip_prefix('#').and_then(|pointer| {
            spec.value
                .pointer(&pointer.replace("~1", "/").replace("~0", "~"))
        });
        if resolved.is_none() {
            findings.push(finding(
                location,
                format!("$ref {target:?} does not resolve"),
                "point it at a defined component",
            ));
        }
    }

    for (location, missing) in unknown_required {
        findings.push(finding(
            location,
            format!("`required` names {missing:?}, which is not among the schema's properties"),
            "rename it to match a property, or remove it",
        ));
    }

    let schemes: BTreeSet<&str> = spec
        .value
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut operation_ids: BTreeMap<&str, String> = BTreeMap::new();
    let paths = spec.value.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            let Some(op) = item.get(method) else { continue };
            let here = json_path(&["paths", path, method]);
            match op.get("operationId").and_then(Value::as_str) {
                None => findings.push(finding(
                    here.clone(),
                    "operation has no operationId".into(),
                    "add one: the client's method is named after it",
                )),
                Some(id) => {
                    if let Some(first) = operation_ids.insert(id, here.clone()) {
                        findings.push(finding(
                            here.clone(),
                            format!("operationId {id:?} is also used at {first}"),
                            "make operation ids unique",
                        ));
                    }
                }
            }
            if op
                .get("responses")
                .and_then(Value::as_object)
                .is_none_or(|r| r.is_empty())
            {
                findings.push(finding(
                    here.clone(),
                    "operation has no responses".into(),
                    "document its responses",
                ));
            }
            let requirements = op.get("security").or_else(|| spec.value.get("security"));
            for requirement in requirements.and_then(Value::as_array).into_iter().flatten() {
                for name in requirement.as_object().into_iter().flat_map(|m| m.keys()) {
                    if !schemes.contains(name.as_str()) {
                        findings.push(finding(
                            format!("{here}.security"),
                            format!("security scheme {name:?} is not defined in components.securitySchemes"),
                            "define it, or fix the name",
                        ));
                    }
                }
            }
        }
    }
    findings
}

/// Calls `f` with the path and contents of every object in `value`, depth first.
fn for_each_object(
    value: &Value,
    path: &mut Vec<String>,
    f: &mut dyn FnMut(&str, &Map<String, Value>),
) {
    let children: Box<dyn Iterator<Item = (String, &Value)>> = match value {
        Value::Object(map) => {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            f(&json_path(&segments), map);
            Box::new(map.iter().map(|(k, v)| (k.clone(), v)))
        }
        Value::Array(items) => Box::new(items.iter().enumerate().map(|(i, v)| (i.to_string(), v))),
        _ => return,
    };
    for (segment, child) in children {
        path.push(segment);
        for_each_object(child, path, f);
        path.pop();
    }
}
