//! The real `onezone-server` binary: admin commands, `serve --demo`, signals.

mod common;

use std::process::Command;

use common::PATH;
use common::binary::{Server, Target, curl, next_matching};
use common::postgres::TestDatabase;
use onezone_server::app::DEFAULT_MAX_STALENESS;

fn is_id(s: &str) -> bool {
    onezone_server::ids::is_well_formed(s)
}

/// Every admin command, on whichever database `d` names.
fn admin_commands_succeed_and_fail_clearly(d: Target) {
    assert_eq!(
        d.ok(&["user", "create", "alice", "--password-stdin"], "pw\n"),
        ""
    );
    let e = d.fails(&["user", "create", "alice", "--password-stdin"], "pw\n");
    assert!(e.contains("already exists"), "{e}");
    let e = d.fails(&["user", "create", "bob", "--password-stdin"], "");
    assert!(e.contains("password is empty"), "{e}");
    let e = d.fails(&["user", "create", "a:b", "--password-stdin"], "pw");
    assert!(e.contains("invalid login"), "{e}");
    let e = d.fails(
        &["user", "set-password", "nobody", "--password-stdin"],
        "pw",
    );
    assert!(e.contains("no user with login 'nobody'"), "{e}");

    let space = d.ok(
        &["space", "create", "Alice's space", "--owner", "alice"],
        "",
    );
    assert!(is_id(&space), "space create prints the id alone: {space:?}");
    let e = d.fails(&["space", "create", "x", "--owner", "nobody"], "");
    assert!(e.contains("no user with login 'nobody'"), "{e}");
    let e = d.fails(&["space", "add-user", &space, "nobody"], "");
    assert!(e.contains("no user with login 'nobody'"), "{e}");
    let unknown_space = onezone_server::ids::new_space_id();
    let e = d.fails(&["space", "add-user", &unknown_space, "alice"], "");
    assert!(e.contains("no space with id"), "{e}");

    d.ok(&["user", "create", "bob", "--password-stdin"], "pw");
    let e = d.fails(&["user", "set-default-space", "bob", &space], "");
    assert!(e.contains("not a member"), "{e}");
    d.ok(&["space", "add-user", &space, "bob"], "");
    d.ok(&["user", "set-default-space", "bob", &space], "");

    let token = d.ok(&["token", "create", "alice", "--ttl", "60"], "");
    assert!(
        is_id(&token),
        "token create prints the token alone: {token:?}"
    );
    let e = d.fails(&["token", "create", "nobody"], "");
    assert!(e.contains("no user with login 'nobody'"), "{e}");
    let e = d.fails(&["token", "create", "alice", "--ttl", "0"], "");
    assert!(e.contains("--ttl"), "{e}");
    d.ok(&["token", "revoke", &token], "");
    let e = d.fails(&["token", "revoke", &onezone_server::ids::new_token()], "");
    assert!(e.contains("no such token"), "{e}");

    // The password is never an argument.
    let out = d.run(&["user", "create", "carol"], "pw");
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}

#[test]
fn admin_commands_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    admin_commands_succeed_and_fail_clearly(Target::sqlite(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_on_postgres() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let target = Target::postgres(dir.path(), &db.url);
    tokio::task::block_in_place(|| admin_commands_succeed_and_fail_clearly(target));
    db.remove().await;
}

#[test]
fn demo_prints_a_working_curl_line_then_reuses_its_data_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Target::sqlite(dir.path()), &["--demo"]);
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

    let mut again = Server::start(Target::sqlite(dir.path()), &["--demo"]);
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
fn admin_changes_show_on_the_running_server_within_the_staleness_bound() {
    let dir = tempfile::tempdir().unwrap();
    let d = Target::sqlite(dir.path());
    let server = Server::start(d, &["--no-tls"]);
    let url = format!("http://{}{PATH}", server.address());

    d.ok(&["user", "create", "alice", "--password-stdin"], "first");
    let token = d.ok(&["token", "create", "alice"], "");
    let macaroon = format!("macaroon: {token}");
    assert_eq!(
        curl(&["-H", &macaroon, &url]),
        serde_json::json!({"spaces": [], "default": "undefined"})
    );

    let space = d.ok(&["space", "create", "live", "--owner", "alice"], "");
    d.ok(&["user", "set-default-space", "alice", &space], "");
    // The server caches what it read; a change made elsewhere shows one bound later.
    std::thread::sleep(DEFAULT_MAX_STALENESS);
    assert_eq!(
        curl(&["-H", &macaroon, &url]),
        serde_json::json!({"spaces": [space], "default": space})
    );

    d.ok(
        &["user", "set-password", "alice", "--password-stdin"],
        "second",
    );
    std::thread::sleep(DEFAULT_MAX_STALENESS);
    assert_eq!(
        curl(&["-u", "alice:first", &url])["error"],
        "invalid_credentials"
    );
    assert_eq!(
        curl(&["-u", "alice:second", &url])["default"],
        serde_json::json!(space)
    );

    d.ok(&["token", "revoke", &token], "");
    std::thread::sleep(DEFAULT_MAX_STALENESS);
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
