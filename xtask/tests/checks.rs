//! The drift checks on this workspace, and proof that each of them can fail, with
//! the right message and exit code.

use serde_json::{Value, json};
use xtask::findings::{EXIT_HUMAN, EXIT_REGENERATE, Fix, Report};
use xtask::{Inputs, check, workspace_root};

fn inputs() -> Inputs {
    Inputs::from_workspace(&workspace_root()).unwrap()
}

fn spec_value(inputs: &Inputs) -> Value {
    yaml_serde::from_str(&inputs.spec_yaml).unwrap()
}

/// The inputs with the spec changed by `edit`.
fn with_spec(edit: impl FnOnce(&mut Value)) -> Inputs {
    let mut inputs = inputs();
    let mut spec = spec_value(&inputs);
    edit(&mut spec);
    inputs.spec_yaml = yaml_serde::to_string(&spec).unwrap();
    inputs
}

fn run_check(inputs: &Inputs) -> Report {
    check(inputs).unwrap()
}

/// The findings of one check, as (location, rendered text).
fn findings(report: &Report, check_name: &str) -> Vec<(String, String)> {
    report
        .findings
        .iter()
        .filter(|f| f.check == check_name)
        .map(|f| (f.location.clone(), f.to_string()))
        .collect()
}

#[test]
fn the_workspace_is_in_step() {
    let report = run_check(&inputs());
    assert_eq!(
        report.exit_code(),
        0,
        "`cargo xtask check` finds drift:\n{report}"
    );
    assert_eq!(report.passed.len(), 3, "{report}");
}

#[test]
fn a_response_removed_from_the_spec_is_drift_that_needs_a_human() {
    let report = run_check(&with_spec(|spec| {
        spec["paths"]["/user/spaces"]["get"]["responses"]
            .as_object_mut()
            .unwrap()
            .remove("404");
    }));
    let drift = findings(&report, "drift");
    assert_eq!(drift.len(), 1, "{report}");
    let (location, text) = &drift[0];
    assert_eq!(location, r#"$.paths["/user/spaces"].get.responses[404]"#);
    assert!(
        text.contains("in the server's annotations, missing from the spec"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("spec:") && l.ends_with("(absent)")),
        "{text}"
    );
    assert!(text.contains("Resource not found."), "{text}");
    assert!(text.contains("#[utoipa::path]"), "{text}");
    assert_eq!(report.exit_code(), EXIT_HUMAN);
    // The client generated from that spec differs too.
    assert_eq!(findings(&report, "client").len(), 1, "{report}");
}

#[test]
fn a_renamed_schema_property_is_reported_on_both_sides() {
    let report = run_check(&with_spec(|spec| {
        let properties = spec["components"]["schemas"]["UserSpaces"]["properties"]
            .as_object_mut()
            .unwrap();
        let spaces = properties.remove("spaces").unwrap();
        properties.insert("space_ids".into(), spaces);
    }));
    let locations: Vec<String> = findings(&report, "drift")
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    assert_eq!(
        locations,
        [
            "$.components.schemas.UserSpaces.properties.space_ids",
            "$.components.schemas.UserSpaces.properties.spaces",
        ],
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("the ToSchema type `UserSpaces`"),
        "{report}"
    );
    assert_eq!(report.exit_code(), EXIT_HUMAN);
}

#[test]
fn a_changed_operation_id_shows_both_values() {
    let report = run_check(&with_spec(|spec| {
        spec["paths"]["/user/spaces"]["get"]["operationId"] = json!("list_spaces");
    }));
    let drift = findings(&report, "drift");
    assert_eq!(drift.len(), 1, "{report}");
    assert_eq!(drift[0].0, r#"$.paths["/user/spaces"].get.operationId"#);
    assert!(
        drift[0].1.contains(r#""list_spaces""#) && drift[0].1.contains(r#""get_user_spaces""#),
        "{}",
        drift[0].1
    );
    assert_eq!(report.exit_code(), EXIT_HUMAN);
}

#[test]
fn an_annotation_that_disagrees_with_the_spec_is_drift() {
    let mut inputs = inputs();
    // As if someone edited the description in the handler's #[utoipa::path].
    inputs.server_document["paths"]["/user/spaces"]["get"]["responses"]["401"]["description"] =
        json!("Unauthorised.");
    let report = run_check(&inputs);
    let drift = findings(&report, "drift");
    assert_eq!(drift.len(), 1, "{report}");
    assert_eq!(
        drift[0].0,
        r#"$.paths["/user/spaces"].get.responses[401].description"#
    );
    assert!(
        drift[0].1.contains(r#""Authentication error.""#)
            && drift[0].1.contains(r#""Unauthorised.""#)
    );
    assert!(
        findings(&report, "client").is_empty(),
        "the spec did not change: {report}"
    );
    assert_eq!(report.exit_code(), EXIT_HUMAN);
}

#[test]
fn a_stale_generated_client_is_fixed_by_regenerating() {
    let mut inputs = inputs();
    let stale = inputs
        .generated_client
        .take()
        .unwrap()
        .replacen("pub error: ", "pub err: ", 1);
    let line = stale.lines().position(|l| l.contains("pub err: ")).unwrap() + 1;
    inputs.generated_client = Some(stale);
    let report = run_check(&inputs);
    assert_eq!(report.findings.len(), 1, "{report}");
    let finding = &report.findings[0];
    assert_eq!(finding.fix, Fix::Regenerate);
    assert_eq!(finding.location, format!("client/src/generated.rs:{line}"));
    let text = finding.to_string();
    assert!(
        text.contains("pub err: ") && text.contains("pub error: "),
        "both sides: {text}"
    );
    assert!(text.contains("cargo xtask generate"), "{text}");
    assert_eq!(report.exit_code(), EXIT_REGENERATE);

    inputs.generated_client = None;
    let report = run_check(&inputs);
    assert!(
        report
            .to_string()
            .contains("the generated client is missing"),
        "{report}"
    );
    assert_eq!(report.exit_code(), EXIT_REGENERATE);
}

#[test]
fn the_generated_file_names_its_generator_on_its_first_line() {
    let generated = inputs().generated_client.unwrap();
    let first = generated.lines().next().unwrap();
    assert!(
        first.starts_with("// @generated by `cargo xtask generate`"),
        "{first}"
    );
}

#[test]
fn an_invalid_spec_is_refused_with_what_to_fix() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(Edit, &str, &str)> = vec![
        (
            Box::new(|s| s["openapi"] = json!("3.1.0")),
            "$.openapi",
            "need OpenAPI 3.0.x",
        ),
        (
            Box::new(|s| {
                s["paths"]["/user/spaces"]["get"]["responses"]["200"]["content"]["application/json"]
                    ["schema"]["$ref"] = json!("#/components/schemas/Spaces")
            }),
            r#"$.paths["/user/spaces"].get.responses[200].content["application/json"].schema"#,
            r##"$ref "#/components/schemas/Spaces" does not resolve"##,
        ),
        (
            Box::new(|s| {
                s["paths"]["/user/spaces"]["get"]
                    .as_object_mut()
                    .unwrap()
                    .remove("operationId");
            }),
            r#"$.paths["/user/spaces"].get"#,
            "no operationId",
        ),
        (
            Box::new(|s| s["paths"]["/user/spaces"]["get"]["security"] = json!([{"cookie": []}])),
            r#"$.paths["/user/spaces"].get.security"#,
            r#"security scheme "cookie" is not defined"#,
        ),
        (
            Box::new(|s| {
                s["components"]["schemas"]["Error"]["required"] = json!(["error", "code"])
            }),
            "$.components.schemas.Error.required",
            r#"`required` names "code""#,
        ),
        (
            Box::new(|s| s["paths"]["/user/spaces"]["get"]["responses"] = json!({})),
            r#"$.paths["/user/spaces"].get"#,
            "no responses",
        ),
        (
            Box::new(|s| s["info"] = json!("Onezone")),
            "$",
            "not a valid OpenAPI 3.0 document",
        ),
    ];
    for (edit, location, message) in cases {
        let report = run_check(&with_spec(edit));
        let spec = findings(&report, "spec");
        assert!(
            spec.iter()
                .any(|(l, text)| l == location && text.contains(message)),
            "expected a spec finding at {location} saying {message:?}:\n{report}"
        );
        assert!(
            report.to_string().contains("edit openapi/onezone.yaml"),
            "{report}"
        );
        assert_eq!(report.exit_code(), EXIT_HUMAN, "{report}");
    }
}

#[test]
fn cargo_xtask_check_exits_with_the_codes_it_documents() {
    // The real command on this workspace: one line per check and exit 0.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("check")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.lines().all(|l| l.starts_with("ok: ")), "{stdout}");
}
