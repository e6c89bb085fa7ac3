//! GET /api/v3/onezone/user/spaces over real HTTP against a real SQLite file.

mod common;

use common::{PATH, TestApp, send};
use onezone_server::admin;
use onezone_server::ids;
use onezone_server::store::unix_now;
use onezone_server::throttle::ThrottleConfig;
use serde_json::json;

#[tokio::test]
async fn basic_credentials_list_sorted_spaces_and_the_default() {
    let app = TestApp::spawn().await;
    app.user("alice", "wonderland").await;
    let a = app.space("first", "alice").await;
    let b = app.space("second", "alice").await;
    admin::set_default_space(app.store.as_ref(), "alice", &b)
        .await
        .unwrap();

    let reply = app.get_spaces_basic("alice", "wonderland").await;

    assert_eq!(reply.status, 200);
    let mut expected = vec![a, b.clone()];
    expected.sort();
    assert_eq!(reply.body, json!({"spaces": expected, "default": b}));
}

#[tokio::test]
async fn every_token_header_gives_the_same_answer_as_basic() {
    let app = TestApp::spawn().await;
    app.user("bob", "builder").await;
    let space = app.space("tools", "bob").await;
    let token = app.token("bob").await;
    let by_basic = app.get_spaces_basic("bob", "builder").await;
    assert_eq!(by_basic.status, 200);
    assert_eq!(
        by_basic.body,
        json!({"spaces": [space], "default": "undefined"})
    );

    let bearer = format!("Bearer {token}");
    for header in [
        ("macaroon", token.as_str()),
        ("X-Auth-Token", &token),
        ("Authorization", &bearer),
    ] {
        let reply = app.get_spaces(&[header]).await;
        assert_eq!(reply.status, 200, "{}", header.0);
        assert_eq!(reply.body, by_basic.body, "{}", header.0);
    }
}

#[tokio::test]
async fn a_user_without_spaces_gets_an_empty_list_and_undefined() {
    let app = TestApp::spawn().await;
    app.user("carol", "pw").await;
    let reply = app.get_spaces_basic("carol", "pw").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({"spaces": [], "default": "undefined"}));
}

#[tokio::test]
async fn spaces_are_sorted_and_unique_and_only_the_users_own() {
    let app = TestApp::spawn().await;
    app.user("dave", "pw").await;
    app.user("erin", "pw").await;
    let mut mine = Vec::new();
    for i in 0..6 {
        mine.push(app.space(&format!("space {i}"), "dave").await);
    }
    let theirs = app.space("not dave's", "erin").await;
    // Adding a member twice must not duplicate the space in the answer.
    assert!(
        !admin::add_user(app.store.as_ref(), &mine[0], "dave")
            .await
            .unwrap()
    );
    let shared = app.space("shared", "erin").await;
    assert!(
        admin::add_user(app.store.as_ref(), &shared, "dave")
            .await
            .unwrap()
    );
    mine.push(shared);
    mine.sort();

    let reply = app.get_spaces_basic("dave", "pw").await;
    assert_eq!(reply.status, 200);
    let spaces: Vec<String> = serde_json::from_value(reply.body["spaces"].clone()).unwrap();
    assert_eq!(spaces, mine);
    assert!(!spaces.contains(&theirs));
    assert!(spaces.iter().all(|s| ids::is_well_formed(s)), "{spaces:?}");
}

#[tokio::test]
async fn a_default_naming_a_space_the_user_left_reads_undefined() {
    let app = TestApp::spawn().await;
    app.user("frank", "pw").await;
    let kept = app.space("kept", "frank").await;
    let left = app.space("left", "frank").await;
    admin::set_default_space(app.store.as_ref(), "frank", &left)
        .await
        .unwrap();
    assert_eq!(
        app.get_spaces_basic("frank", "pw").await.body["default"],
        json!(left)
    );

    assert!(
        admin::remove_user(app.store.as_ref(), &left, "frank")
            .await
            .unwrap()
    );

    let reply = app.get_spaces_basic("frank", "pw").await;
    assert_eq!(
        reply.body,
        json!({"spaces": [kept], "default": "undefined"})
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_login_get_the_same_401() {
    let app = TestApp::spawn().await;
    app.user("grace", "right").await;
    let wrong = app.get_spaces_basic("grace", "wrong").await;
    let unknown = app.get_spaces_basic("nobody", "right").await;
    for reply in [&wrong, &unknown] {
        assert_eq!(reply.status, 401);
        assert_eq!(reply.error_code(), "invalid_credentials");
        assert!(reply.header("www-authenticate").unwrap().contains("Basic"));
    }
    assert_eq!(
        wrong.body, unknown.body,
        "the answer must not tell which logins exist"
    );
}

#[tokio::test]
async fn missing_credentials_get_401_with_challenges() {
    let app = TestApp::spawn().await;
    let reply = app.get_spaces(&[]).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.error_code(), "unauthorized");
    let challenge = reply.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("Basic") && challenge.contains("Bearer"),
        "{challenge}"
    );
}

async fn assert_invalid_token(app: &TestApp, token: &str) {
    for header in ["macaroon", "X-Auth-Token"] {
        let reply = app.get_spaces(&[(header, token)]).await;
        assert_eq!(reply.status, 401, "{header}: {token}");
        assert_eq!(reply.error_code(), "invalid_token");
        assert_eq!(
            reply.body["error_description"],
            "Provided token could not be validated."
        );
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .contains(r#"error="invalid_token""#)
        );
    }
    let reply = app
        .get_spaces(&[("Authorization", &format!("Bearer {token}"))])
        .await;
    assert_eq!((reply.status, reply.error_code()), (401, "invalid_token"));
}

#[tokio::test]
async fn unknown_and_misshapen_tokens_are_invalid_tokens() {
    let app = TestApp::spawn().await;
    app.user("heidi", "pw").await;
    assert_invalid_token(&app, &ids::new_token()).await;
    assert_invalid_token(&app, "short").await;
    assert_invalid_token(&app, &"x".repeat(500)).await;
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_the_next_request() {
    let app = TestApp::spawn().await;
    app.user("ivan", "pw").await;
    let token = app.token("ivan").await;
    assert_eq!(app.get_spaces(&[("macaroon", &token)]).await.status, 200);

    admin::revoke_token(app.store.as_ref(), &token)
        .await
        .unwrap();

    assert_invalid_token(&app, &token).await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = TestApp::spawn().await;
    app.user("judy", "pw").await;
    let token = ids::new_token();
    let hash = ids::token_hash(&token);
    app.store
        .create_token("judy", &hash, Some(unix_now() - 1))
        .await
        .unwrap();
    assert_invalid_token(&app, &token).await;

    let live = ids::new_token();
    app.store
        .create_token("judy", &ids::token_hash(&live), Some(unix_now() + 3600))
        .await
        .unwrap();
    assert_eq!(app.get_spaces(&[("macaroon", &live)]).await.status, 200);
}

#[tokio::test]
async fn a_changed_password_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    app.user("ken", "old").await;
    assert_eq!(app.get_spaces_basic("ken", "old").await.status, 200);
    admin::set_password(app.store.as_ref(), "ken", "new")
        .await
        .unwrap();
    assert_eq!(app.get_spaces_basic("ken", "old").await.status, 401);
    assert_eq!(app.get_spaces_basic("ken", "new").await.status, 200);
}

#[tokio::test]
async fn malformed_credentials_get_4xx_with_the_error_body_and_the_server_stays_up() {
    let app = TestApp::spawn().await;
    app.user("leo", "pw").await;
    let token = app.token("leo").await;
    let other = app.token("leo").await;
    // (headers, expected status, expected error code)
    type Case<'a> = (Vec<(&'a str, String)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("Authorization", "".into())], 400, "invalid_request"),
        (
            vec![("Authorization", "Basic".into())],
            400,
            "invalid_request",
        ),
        (
            vec![("Authorization", "Basic %%%not-base64%%%".into())],
            400,
            "invalid_request",
        ),
        // base64 of the bytes ff fe 3a 61: not UTF-8
        (
            vec![("Authorization", "Basic //46YQ==".into())],
            400,
            "invalid_request",
        ),
        // base64 of "leo", no colon
        (
            vec![("Authorization", "Basic bGVv".into())],
            400,
            "invalid_request",
        ),
        (
            vec![("Authorization", "Bearer".into())],
            400,
            "invalid_request",
        ),
        (
            vec![("Authorization", "Digest username=leo".into())],
            401,
            "unauthorized",
        ),
        // An empty token header carries no credential: as if absent.
        (vec![("macaroon", "".into())], 401, "unauthorized"),
        (vec![("X-Auth-Token", "   ".into())], 401, "unauthorized"),
        (
            vec![("macaroon", token.clone()), ("X-Auth-Token", other.clone())],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("macaroon", token.clone()),
                ("Authorization", "Basic bGVvOnB3".into()),
            ],
            400,
            "invalid_request",
        ),
    ];
    for (headers, status, code) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = app.get_spaces(&headers).await;
        assert_eq!(reply.status, *status, "{headers:?}: {}", reply.body);
        assert_eq!(reply.error_code(), *code, "{headers:?}");
    }

    // Bytes that are not visible ASCII, which reqwest's typed API refuses to send.
    let raw = reqwest::header::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
    let reply = send(
        app.client
            .get(format!("{}{PATH}", app.base_url))
            .header("macaroon", raw),
    )
    .await;
    assert_eq!((reply.status, reply.error_code()), (400, "invalid_request"));

    // The same token in two headers is not a conflict.
    let reply = app
        .get_spaces(&[("macaroon", &token), ("X-Auth-Token", &token)])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        app.get_spaces_basic("leo", "pw").await.status,
        200,
        "the server keeps serving"
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_get_the_error_body() {
    let app = TestApp::spawn().await;
    let reply = send(
        app.client
            .get(format!("{}/api/v3/onezone/user/nothing", app.base_url)),
    )
    .await;
    assert_eq!((reply.status, reply.error_code()), (404, "not_found"));

    let reply = send(app.client.post(format!("{}{PATH}", app.base_url))).await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (405, "method_not_allowed")
    );
    assert_eq!(reply.header("allow"), Some("GET"));
}

#[tokio::test]
async fn a_store_failure_is_a_500_that_reveals_nothing_internal() {
    let app = TestApp::spawn().await;
    app.user("mallory", "pw").await;
    let token = app.token("mallory").await;
    // Break the database under the running server, from another connection.
    let db = app.data_dir.path().join("onezone.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("DROP TABLE memberships")
        .execute(&pool)
        .await
        .unwrap();

    let reply = app.get_spaces(&[("macaroon", &token)]).await;

    assert_eq!(reply.status, 500);
    assert_eq!(reply.error_code(), "internal_server_error");
    let text = reply.body.to_string().to_lowercase();
    for internal in ["memberships", "sqlite", "sqlx", "table", "select"] {
        assert!(
            !text.contains(internal),
            "500 body reveals '{internal}': {text}"
        );
    }
    // Still serving: an unauthenticated request gets its ordinary answer.
    assert_eq!(app.get_spaces(&[]).await.status, 401);
}

#[tokio::test]
async fn the_data_directory_holds_no_password_or_token_in_clear() {
    let app = TestApp::spawn().await;
    let password = "plain-text-password-7f3a";
    app.user("nina", password).await;
    app.space("s", "nina").await;
    let token = app.token("nina").await;
    assert_eq!(app.get_spaces_basic("nina", password).await.status, 200);
    assert_eq!(app.get_spaces(&[("macaroon", &token)]).await.status, 200);

    let mut everything = Vec::new();
    for entry in std::fs::read_dir(app.data_dir.path()).unwrap() {
        everything.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let contains = |needle: &[u8]| everything.windows(needle.len()).any(|w| w == needle);
    // The files are what the test thinks they are: the hash is there...
    assert!(
        contains(b"$argon2id$"),
        "no argon2id hash found: wrong files?"
    );
    assert!(contains(b"nina"));
    // ...and the secrets are not.
    assert!(
        !contains(password.as_bytes()),
        "the password is stored in clear"
    );
    assert!(!contains(token.as_bytes()), "the token is stored in clear");
}

#[tokio::test]
async fn the_demo_data_answers_as_the_seed_shows() {
    let app = TestApp::spawn().await;
    let admin::DemoOutcome::Created {
        login,
        password,
        spaces,
        default,
    } = admin::seed_demo(app.store.as_ref()).await.unwrap()
    else {
        panic!("an empty store gets demo data");
    };
    assert_eq!(spaces.len(), 2);
    let reply = app.get_spaces_basic(login, &password).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({"spaces": spaces, "default": default}));
    assert!(matches!(
        admin::seed_demo(app.store.as_ref()).await.unwrap(),
        admin::DemoOutcome::AlreadyPresent
    ));
}

#[tokio::test]
async fn tls_with_the_generated_certificate() {
    let app = TestApp::spawn_tls().await;
    assert!(app.base_url.starts_with("https://"));
    app.user("olga", "pw").await;
    let reply = app.get_spaces_basic("olga", "pw").await;
    assert_eq!(reply.status, 200);

    // A client that checks certificates against the generated one also connects.
    let cert =
        std::fs::read(onezone_server::tls::self_signed_paths(app.data_dir.path()).0).unwrap();
    let strict = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&cert).unwrap()])
        .build()
        .unwrap();
    let url = app.base_url.replace("127.0.0.1", "localhost");
    let response = strict
        .get(format!("{url}{PATH}"))
        .basic_auth("olga", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn repeated_wrong_passwords_are_refused_with_429_until_the_window_ends() {
    let window = std::time::Duration::from_millis(1500);
    let app = TestApp::spawn_throttled(ThrottleConfig {
        per_login: 3,
        per_address: 100,
        window,
    })
    .await;
    app.user("quinn", "right").await;
    let token = app.token("quinn").await;
    for _ in 0..3 {
        assert_eq!(app.get_spaces_basic("quinn", "wrong").await.status, 401);
    }
    // Even the right password waits: that is what stops the guessing.
    let refused = app.get_spaces_basic("quinn", "right").await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (429, "too_many_requests")
    );
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    // Tokens are not guessable and not throttled; other logins are unaffected.
    assert_eq!(app.get_spaces(&[("macaroon", &token)]).await.status, 200);
    assert_eq!(app.get_spaces_basic("someone", "x").await.status, 401);

    // Not locked out for good: after the window the rightful user gets in.
    tokio::time::sleep(window).await;
    assert_eq!(app.get_spaces_basic("quinn", "right").await.status, 200);
}

#[tokio::test]
async fn one_address_guessing_across_logins_is_refused_with_429() {
    let window = std::time::Duration::from_secs(60);
    let app = TestApp::spawn_throttled(ThrottleConfig {
        per_login: 100,
        per_address: 4,
        window,
    })
    .await;
    app.user("rita", "pw").await;
    for i in 0..4 {
        assert_eq!(
            app.get_spaces_basic(&format!("guess{i}"), "x").await.status,
            401
        );
    }
    let refused = app.get_spaces_basic("rita", "pw").await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (429, "too_many_requests")
    );
    assert!(refused.header("retry-after").is_some());
}
