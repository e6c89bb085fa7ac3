//! The contract run: schemathesis against the server built from this tree, from
//! `openapi/onezone.yaml`, with every check, authenticated with Basic, with a token,
//! and unauthenticated, on SQLite and (when ONEZONE_TEST_DATABASE_URL is set) on
//! PostgreSQL. Any finding fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Checks that do not apply, each with the reason. Everything else runs.
///
/// positive_data_acceptance expects every request the schema allows to be accepted.
/// The spec lists four credential schemes as alternatives and cannot say "exactly one",
/// so schemathesis sends several different credentials at once. This server refuses
/// that with 400 `invalid_request`, as RFC 6750 §3.1 prescribes for a request that
/// "uses more than one method to include an access token", rather than guess which
/// credential was meant. That 400 is documented in the spec; the check counts it as a
/// failure anyway.
const EXCLUDED_CHECKS: [&str; 1] = ["positive_data_acceptance"];

const LOGIN: &str = "alice";
const PASSWORD: &str = "contract-test-password";

/// Runs schemathesis in every mode on every backend; returns one summary line per run.
pub fn run(root: &Path, venv: &Path) -> anyhow::Result<Vec<String>> {
    let binary = root.join("target/debug/onezone-server");
    let mut summaries = Vec::new();
    let data = tempdir(root, "sqlite")?;
    summaries.extend(run_backend(root, venv, &binary, &data, None, "SQLite")?);
    match std::env::var("ONEZONE_TEST_DATABASE_URL") {
        Ok(base) => {
            let schema = format!("onezone_contract_{}", std::process::id());
            psql(
                &base,
                &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
            )?;
            let separator = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
            let data = tempdir(root, "postgres")?;
            let result = run_backend(root, venv, &binary, &data, Some(&url), "PostgreSQL");
            psql(&base, &format!("DROP SCHEMA {schema} CASCADE"))?;
            summaries.extend(result?);
        }
        Err(_) => {
            summaries.push("PostgreSQL: SKIPPED, ONEZONE_TEST_DATABASE_URL is not set".into())
        }
    }
    Ok(summaries)
}

fn tempdir(root: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let dir = root.join("target/contract").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let status = Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .status()?;
    if !status.success() {
        bail!("psql failed on: {sql}");
    }
    Ok(())
}

/// The server binary on this backend's data: admin commands and `serve`.
struct Backend<'a> {
    binary: &'a Path,
    data: &'a Path,
    database_url: Option<&'a str>,
}

impl Backend<'_> {
    fn command(&self) -> Command {
        let mut cmd = Command::new(self.binary);
        cmd.arg("--data-dir")
            .arg(self.data)
            .env_remove("ONEZONE_DATABASE_URL")
            .env_remove("RUST_LOG");
        if let Some(url) = self.database_url {
            cmd.args(["--database-url", url]);
        }
        cmd
    }

    fn admin(&self, args: &[&str], stdin: &str) -> anyhow::Result<String> {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        child.stdin.take().unwrap().write_all(stdin.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("onezone-server {args:?} failed");
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }

    /// Starts `serve` on a free port, logging to `server.log` in its data directory,
    /// and returns it with its address.
    fn serve(&self) -> anyhow::Result<(Child, String)> {
        let log_path = self.data.join("server.log");
        let log = std::fs::File::create(&log_path)?;
        let mut child = self
            .command()
            .args(["serve", "--no-tls", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let text = std::fs::read_to_string(&log_path)?;
            if let Some(at) = text.find("address=") {
                let address = text[at + "address=".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                return Ok((child, address));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        bail!(
            "the server did not report its address; see {}",
            log_path.display()
        )
    }
}

fn run_backend(
    root: &Path,
    venv: &Path,
    binary: &Path,
    data: &Path,
    database_url: Option<&str>,
    name: &str,
) -> anyhow::Result<Vec<String>> {
    let backend = Backend {
        binary,
        data,
        database_url,
    };
    backend.admin(&["user", "create", LOGIN, "--password-stdin"], PASSWORD)?;
    let space = backend.admin(&["space", "create", "contract", "--owner", LOGIN], "")?;
    backend.admin(&["space", "create", "second", "--owner", LOGIN], "")?;
    backend.admin(&["user", "set-default-space", LOGIN, &space], "")?;
    let token = backend.admin(&["token", "create", LOGIN], "")?;

    let (mut server, address) = backend.serve()?;
    let basic = format!("{LOGIN}:{PASSWORD}");
    let macaroon = format!("macaroon: {token}");
    // Unauthenticated last: its failed guesses may get this address throttled (429).
    let modes: [(&str, Vec<&str>); 3] = [
        ("Basic", vec!["--auth", &basic]),
        ("token", vec!["-H", &macaroon]),
        ("unauthenticated", vec![]),
    ];
    let scratch = root.join("target/schemathesis");
    std::fs::create_dir_all(&scratch)?;
    let mut summaries = Vec::new();
    let mut failed = Vec::new();
    for (mode, auth) in modes {
        let output = Command::new(venv.join("bin/schemathesis"))
            .arg("run")
            .arg(root.join(crate::spec::SPEC_PATH))
            .args(["--url", &format!("http://{address}/api/v3/onezone")])
            .args([
                "--checks",
                "all",
                "--exclude-checks",
                &EXCLUDED_CHECKS.join(","),
            ])
            .args(["--seed", "1", "--no-color"])
            .args(&auth)
            // Its crash cache (.schemathesis/) is build output: keep it under target/.
            .current_dir(&scratch)
            .output()
            .context("running schemathesis")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let cases = text
            .lines()
            // "121 generated, 121 passed, 5 skipped", not a warning that says "generated".
            .find(|l| {
                l.trim_start().starts_with(|c: char| c.is_ascii_digit()) && l.contains(" generated")
            })
            .unwrap_or("")
            .trim()
            .to_owned();
        let summary = format!("{name}, {mode}: {cases}");
        println!("{summary}");
        if !output.status.success() {
            println!("{text}{}", String::from_utf8_lossy(&output.stderr));
            failed.push(summary.clone());
        }
        summaries.push(summary);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    if !failed.is_empty() {
        bail!("schemathesis found problems: {}", failed.join("; "));
    }
    Ok(summaries)
}
