//! The real `onezone-server` binary: admin commands, `serve --demo`, signals.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_onezone-server");
const PATH: &str = "/api/v3/onezone/user/spaces";

fn command(data_dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(data_dir);
    for var in [
        "ONEZONE_DATA_DIR",
        "ONEZONE_DATABASE_URL",
        "ONEZONE_LISTEN",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs an admin command to completion, with `stdin` as its standard input.
fn run(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = command(data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs a command that must succeed and returns its stdout, trimmed.
fn ok(data_dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = run(data_dir, args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

/// Runs a command that must fail with one clear line on stderr; returns that line.
fn fails(data_dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = run(data_dir, args, stdin);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(
        out.stdout.is_empty(),
        "{args:?} printed on stdout: {:?}",
        out.stdout
    );
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: one line on stderr, got {stderr:?}"
    );
    assert!(lines[0].starts_with("error: "), "{stderr:?}");
    lines[0].to_owned()
}

fn is_id(s: &str) -> bool {
    onezone_server::ids::is_well_formed(s)
}

#[test]
fn admin_commands_succeed_and_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    assert_eq!(
        ok(d, &["user", "create", "alice", "--password-stdin"], "pw\n"),
        ""
    );
    let e = fails(d, &["user", "create", "alice", "--password-stdin"], "pw\n");
    assert!(e.contains("already exists"), "{e}");
    let e = fails(d, &["user", "create", "bob", "--password-stdin"], "");
    assert!(e.contains("password is empty"), "{e}");
    let e = fails(d, &["user", "create", "a:b", "--password-stdin"], "pw");
    assert!(e.contains("invalid login"), "{e}");
    let e = fails(
        d,
        &["user", "set-password", "nobody", "--password-stdin"],
        "pw",
    );
    assert!(e.contains("no user with login 'nobody'"), "{e}");

    let space = ok(
        d,
        &["space", "create", "Alice's space", "--owner", "alice"],
        "",
    );
    assert!(is_id(&space), "space create prints the id alone: {space:?}");
    let e = fails(d, &["space", "create", "x", "--owner", "nobody"], "");
    assert!(e.contains("no user with login 'nobody'"), "{e}");
    let e = fails(d, &["space", "add-user", &space, "nobody"], "");
    assert!(e.contains("no user with login 'nobody'"), "{e}");
    let unknown_space = onezone_server::ids::new_space_id();
    let e = fails(d, &["space", "add-user", &unknown_space, "alice"], "");
    assert!(e.contains("no space with id"), "{e}");

    ok(d, &["user", "create", "bob", "--password-stdin"], "pw");
    let e = fails(d, &["user", "set-default-space", "bob", &space], "");
    assert!(e.contains("not a member"), "{e}");
    ok(d, &["space", "add-user", &space, "bob"], "");
    ok(d, &["user", "set-default-space", "bob", &space], "");

    let token = ok(d, &["token", "create", "alice", "--ttl", "60"], "");
    assert!(
        is_id(&token),
        "token create prints the token alone: {token:?}"
    );
    let e = fails(d, &["token", "create", "nobody"], "");
    assert!(e.contains("no user with login 'nobody'"), "{e}");
    let e = fails(d, &["token", "create", "alice", "--ttl", "0"], "");
    assert!(e.contains("--ttl"), "{e}");
    ok(d, &["token", "revoke", &token], "");
    let e = fails(
        d,
        &["token", "revoke", &onezone_server::ids::new_token()],
        "",
    );
    assert!(e.contains("no such token"), "{e}");

    // The password is never an argument.
    let out = run(d, &["user", "create", "carol"], "pw");
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}

/// A server process, its stdout and stderr read line by line in the background.
struct Server {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    fn start(data_dir: &Path, args: &[&str]) -> Server {
        let mut child = command(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--workers", "1"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Server {
            child,
            stdout,
            stderr,
        }
    }

    /// The address from the "listening" log line.
    fn address(&self) -> String {
        let line = next_matching(&self.stderr, |l| l.contains("listening"));
        let start = line
            .find("address=")
            .expect("address in the listening line")
            + "address=".len();
        line[start..].split_whitespace().next().unwrap().to_owned()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Server {
    /// Everything the server wrote to stderr that was not read yet; call after it exits.
    fn remaining_stderr(&self) -> Vec<String> {
        self.stderr.iter().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn next_matching(rx: &mpsc::Receiver<String>, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if wanted(&line) => return line,
            Ok(_) => continue,
            Err(e) => panic!("no matching line from the server: {e}"),
        }
    }
}

fn curl(args: &[&str]) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", out.stdout))
}

#[test]
fn demo_prints_a_working_curl_line_then_reuses_its_data_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--demo"]);
    let line = next_matching(&server.stdout, |l| l.trim_start().starts_with("curl "));
    assert!(
        line.contains(" -k -u demo:") && line.contains(" -X GET https://localhost:"),
        "{line}"
    );

    // The line, exactly as printed.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{} -s --max-time 10", line.trim()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let spaces = body["spaces"].as_array().unwrap();
    assert_eq!(spaces.len(), 2, "{body}");
    assert!(spaces.iter().all(|s| is_id(s.as_str().unwrap())));
    assert!(spaces.contains(&body["default"]), "{body}");

    let mut server = server;
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean stop");
    assert!(dir.path().join("tls-cert.pem").exists());

    let mut again = Server::start(dir.path(), &["--demo"]);
    let line = next_matching(&again.stdout, |l| l.contains("already there"));
    assert!(line.contains("'demo'"), "{line}");
    let hint = next_matching(&again.stdout, |l| l.contains("set-password"));
    assert!(
        hint.contains("user set-password demo --password-stdin"),
        "{hint}"
    );
    assert_eq!(again.terminate().code(), Some(0));
}

#[test]
fn admin_changes_show_on_the_running_servers_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = Server::start(d, &["--no-tls"]);
    let url = format!("http://{}{PATH}", server.address());

    ok(d, &["user", "create", "alice", "--password-stdin"], "first");
    let token = ok(d, &["token", "create", "alice"], "");
    let macaroon = format!("macaroon: {token}");
    assert_eq!(
        curl(&["-H", &macaroon, &url]),
        serde_json::json!({"spaces": [], "default": "undefined"})
    );

    let space = ok(d, &["space", "create", "live", "--owner", "alice"], "");
    ok(d, &["user", "set-default-space", "alice", &space], "");
    assert_eq!(
        curl(&["-H", &macaroon, &url]),
        serde_json::json!({"spaces": [space], "default": space})
    );

    ok(
        d,
        &["user", "set-password", "alice", "--password-stdin"],
        "second",
    );
    assert_eq!(
        curl(&["-u", "alice:first", &url])["error"],
        "invalid_credentials"
    );
    assert_eq!(
        curl(&["-u", "alice:second", &url])["default"],
        serde_json::json!(space)
    );

    ok(d, &["token", "revoke", &token], "");
    assert_eq!(curl(&["-H", &macaroon, &url])["error"], "invalid_token");

    let mut server = server;
    assert_eq!(server.terminate().code(), Some(0));

    // One access line per request, and no credential in any log line.
    let log = server.remaining_stderr();
    let access: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("onezone_server::access"))
        .collect();
    assert_eq!(access.len(), 5, "one access line per request: {log:#?}");
    assert!(
        access
            .iter()
            .all(|l| l.contains("method=GET") && l.contains(PATH)),
        "{access:#?}"
    );
    assert!(
        access.iter().any(|l| l.contains("status=401")),
        "{access:#?}"
    );
    for line in &log {
        for secret in [token.as_str(), "first", "second"] {
            assert!(
                !line.contains(secret),
                "a log line holds a credential: {line}"
            );
        }
    }
}
