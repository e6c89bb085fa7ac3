//! The client and the `onezone` command against the real server over HTTPS, with its
//! generated self-signed certificate.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use onezone_client::{ClientBuilder, ClientError, TokenHeader, UserSpaces};
use onezone_server::admin;
use onezone_server::store::{SqliteStore, Store};
use onezone_server::throttle::ThrottleConfig;
use onezone_server::{Application, ServeOptions, tls};

struct Server {
    url: String,
    cert: PathBuf,
    token: String,
    expected: UserSpaces,
    _dir: tempfile::TempDir,
}

/// A TLS server on a free port, with user "alice" (password "wonderland"), two
/// spaces, the second her default, and a token.
async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open_file(&dir.path().join("onezone.db"))
            .await
            .unwrap(),
    );
    let s = store.as_ref();
    admin::create_user(s, "alice", "wonderland").await.unwrap();
    let mut spaces = vec![
        admin::create_space(s, "one", "alice").await.unwrap(),
        admin::create_space(s, "two", "alice").await.unwrap(),
    ];
    admin::set_default_space(s, "alice", &spaces[1])
        .await
        .unwrap();
    let default = Some(spaces[1].clone());
    spaces.sort();
    let token = admin::create_token(s, "alice", None).await.unwrap();

    let self_signed = tls::load_or_generate(dir.path()).unwrap();
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(self_signed.config),
        workers: Some(1),
        throttle: ThrottleConfig::default(),
        max_staleness: Some(onezone_server::app::DEFAULT_MAX_STALENESS),
    };
    let app = Application::build(options, store).unwrap();
    let url = format!("https://localhost:{}", app.local_addr().port());
    tokio::spawn(app.run_until_stopped());
    Server {
        url,
        cert: self_signed.cert_path,
        token,
        expected: UserSpaces { spaces, default },
        _dir: dir,
    }
}

#[tokio::test]
async fn every_credential_kind_over_verified_tls() {
    let server = server().await;
    let pem = std::fs::read(&server.cert).unwrap();
    let base = || ClientBuilder::new(&server.url).ca_certificate_pem(pem.clone());
    let clients = [
        ("basic", base().basic("alice", "wonderland")),
        ("macaroon", base().token(&server.token)),
        (
            "x-auth-token",
            base().token_in(&server.token, TokenHeader::XAuthToken),
        ),
        (
            "bearer",
            base().token_in(&server.token, TokenHeader::Bearer),
        ),
    ];
    for (kind, builder) in clients {
        let spaces = builder
            .build()
            .unwrap()
            .spaces()
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(spaces, server.expected, "{kind}");
    }
}

#[tokio::test]
async fn accepting_any_certificate_works_like_curl_k() {
    let server = server().await;
    let client = ClientBuilder::new(&server.url)
        .token(&server.token)
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    assert_eq!(client.spaces().await.unwrap(), server.expected);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    let server = server().await;
    let err = ClientBuilder::new(&server.url)
        .token(&server.token)
        .build()
        .unwrap()
        .spaces()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Tls(_)), "{err:?}");
    assert!(err.is_network_failure() && !err.is_auth_failure());
}

#[tokio::test]
async fn a_refused_token_exposes_the_status_and_error_body() {
    let server = server().await;
    let err = ClientBuilder::new(&server.url)
        .token("IkHB2CCoAFm5FCswhAJynbFU4fj26yiE1lhpK3p-0Y8")
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .spaces()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    let body = err.body().expect("the Error body");
    assert_eq!(body.error, "invalid_token");
    assert_eq!(
        body.error_description,
        "Provided token could not be validated."
    );
    assert!(err.is_auth_failure());
}

fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("https://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_refused_connection_is_a_network_error() {
    let err = ClientBuilder::new(closed_port_url())
        .token("t")
        .build()
        .unwrap()
        .spaces()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Network(_)), "{err:?}");
}

fn onezone(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onezone"));
    for var in [
        "ONEZONE_HOST",
        "ONEZONE_TOKEN",
        "ONEZONE_USER",
        "ONEZONE_PASSWORD",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.args(args).envs(env.iter().copied()).output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

// Multi-threaded: the commands block this thread while the server answers on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_tool() {
    let server = server().await;
    let cert = server.cert.to_str().unwrap();
    let default = server.expected.default.clone().unwrap();

    // Host and token from the environment; the default is marked.
    let (code, out, err) = onezone(
        &["spaces", "--ca-cert", cert],
        &[
            ("ONEZONE_HOST", &server.url),
            ("ONEZONE_TOKEN", &server.token),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for (line, id) in lines.iter().zip(&server.expected.spaces) {
        let mark = if *id == default { "*" } else { " " };
        assert_eq!(*line, format!("{mark} {id}"));
    }

    // Basic credentials from flags, JSON for scripts, in the API's own form.
    let (code, out, err) = onezone(
        &[
            "--host",
            &server.url,
            "--insecure",
            "--user",
            "alice",
            "--password",
            "wonderland",
            "spaces",
            "--json",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"spaces": server.expected.spaces, "default": default})
    );

    // Authentication failure: exit 3, and the message says what to check.
    let (code, _, err) = onezone(
        &["--host", &server.url, "-k", "--token", "wrong", "spaces"],
        &[],
    );
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("authentication failed") && err.contains("--token"),
        "{err}"
    );

    // TLS failure: exit 4, and the message offers --ca-cert and --insecure.
    let (code, _, err) = onezone(
        &["--host", &server.url, "--token", &server.token, "spaces"],
        &[],
    );
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("TLS") && err.contains("--insecure") && err.contains("--ca-cert"),
        "{err}"
    );

    // Network failure: exit 4.
    let (code, _, err) = onezone(
        &["--host", &closed_port_url(), "--token", "t", "spaces"],
        &[],
    );
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("cannot reach"), "{err}");

    // A token starting with '-' (one in 64 do) is a value, not a flag.
    let (code, _, err) = onezone(
        &[
            "--host",
            &closed_port_url(),
            "--token",
            "-Km4gCX8CxE36CfLSEzfZIKImb1OeRHxPj0ee7qm-kE",
            "spaces",
        ],
        &[],
    );
    assert_eq!(code, Some(4), "{err}");

    // No credentials at all.
    let (code, _, err) = onezone(&["--host", &server.url, "spaces"], &[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("no credentials"), "{err}");
}
