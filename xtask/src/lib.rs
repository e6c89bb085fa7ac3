//! The workspace's tasks, as a library so that the same checks run from
//! `cargo xtask check` and from `cargo test`.

pub mod ci;
pub mod codegen;
pub mod contract;
pub mod drift;
pub mod findings;
pub mod spec;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use findings::Report;
use spec::{SPEC_PATH, Spec};

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// What the checks compare: the spec's text, the server's document, the checked-in client.
pub struct Inputs {
    pub spec_yaml: String,
    pub server_document: Value,
    pub generated_client: Option<String>,
}

impl Inputs {
    /// Reads the inputs from a workspace; the server's document comes from the same
    /// registration the app uses, without starting a server.
    pub fn from_workspace(root: &Path) -> anyhow::Result<Inputs> {
        let spec_path = root.join(SPEC_PATH);
        let spec_yaml = fs::read_to_string(&spec_path)
            .with_context(|| format!("reading {}", spec_path.display()))?;
        let server_document = serde_json::to_value(onezone_server::http::openapi())?;
        let generated_client = fs::read_to_string(root.join(codegen::GENERATED_CLIENT)).ok();
        Ok(Inputs {
            spec_yaml,
            server_document,
            generated_client,
        })
    }
}

/// Runs the three checks: the spec is valid OpenAPI 3.0.x; the server's annotations
/// say what the spec says; the checked-in client is what the spec generates.
pub fn check(inputs: &Inputs) -> anyhow::Result<Report> {
    let spec = Spec::from_yaml(&inputs.spec_yaml)?;
    let mut report = Report::default();
    let version = spec
        .value
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    let spec_findings = spec::validate(&spec);
    let spec_valid = spec_findings.is_empty();
    report.record(
        format!("spec: {SPEC_PATH} is valid OpenAPI {version}"),
        spec_findings,
    );

    let operations = spec
        .value
        .get("paths")
        .and_then(Value::as_object)
        .map_or(0, |paths| {
            paths
                .values()
                .filter_map(Value::as_object)
                .map(|item| item.len())
                .sum::<usize>()
        });
    report.record(
        format!("drift: the server's annotations match {SPEC_PATH} ({operations} operation(s), compared in full)"),
        drift::check(&spec.value, &inputs.server_document),
    );

    let summary = format!(
        "client: {} is what the spec generates",
        codegen::GENERATED_CLIENT
    );
    match &spec.parsed {
        // Generating from an invalid spec can panic inside progenitor; fix the spec first.
        _ if !spec_valid => report
            .passed
            .push("client: skipped until the spec is valid".into()),
        Ok(parsed) => match codegen::generate_client(parsed) {
            Ok(fresh) => report.record(
                summary,
                codegen::check_generated(&fresh, inputs.generated_client.as_deref()),
            ),
            Err(e) => report.record(summary, vec![codegen::cannot_generate(&e)]),
        },
        Err(_) => unreachable!("a spec that does not parse is not valid"),
    }
    Ok(report)
}

/// Writes the generated client; returns whether the file changed.
pub fn generate(root: &Path) -> anyhow::Result<bool> {
    let spec = Spec::from_yaml(&fs::read_to_string(root.join(SPEC_PATH))?)?;
    let problems = spec::validate(&spec);
    if !problems.is_empty() {
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::bail!(
            "{SPEC_PATH} is not valid; nothing generated:\n{}",
            listed.join("\n")
        );
    }
    let parsed = spec
        .parsed
        .map_err(|e| anyhow::anyhow!("{SPEC_PATH} is not valid OpenAPI 3.0: {e}"))?;
    let fresh = codegen::generate_client(&parsed)?;
    let path = root.join(codegen::GENERATED_CLIENT);
    if fs::read_to_string(&path).ok().as_deref() == Some(fresh.as_str()) {
        return Ok(false);
    }
    fs::write(&path, fresh).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}
