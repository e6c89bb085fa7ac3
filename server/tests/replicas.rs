//! Scale-out on PostgreSQL: several stateless `onezone-server` processes on one
//! database, and what happens when the database goes away and comes back.
//! Skipped (loudly) without ONEZONE_TEST_DATABASE_URL.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::binary::{Server, Target, curl};
use common::postgres::TestDatabase;
use common::{PATH, TestApp};
use onezone_server::admin;
use onezone_server::app::DEFAULT_MAX_STALENESS;
use onezone_server::store::{PostgresStore, Store};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

#[test]
fn changes_through_one_replica_show_on_the_other_within_the_staleness_bound() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(TestDatabase::create()) else {
        return;
    };
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let targets = dirs.each_ref().map(|d| Target::postgres(d.path(), &db.url));

    // Both start at once on an empty schema: the migration lock lets one migrate.
    let replicas: Vec<Server> = targets
        .iter()
        .map(|t| Server::start(*t, &["--no-tls"]))
        .collect();
    let urls: Vec<String> = replicas
        .iter()
        .map(|r| format!("http://{}{PATH}", r.address()))
        .collect();

    // Admin commands against the shared database, run next to replica 0.
    let admin = |args: &[&str], stdin: &str| targets[0].ok(args, stdin);
    admin(&["user", "create", "alice", "--password-stdin"], "first");
    let space = admin(&["space", "create", "shared", "--owner", "alice"], "");
    admin(&["user", "set-default-space", "alice", &space], "");
    let token = admin(&["token", "create", "alice"], "");
    let macaroon = format!("macaroon: {token}");
    for url in &urls {
        assert_eq!(
            curl(&["-H", &macaroon, url]),
            json!({"spaces": [space], "default": space}),
            "{url}"
        );
        assert_eq!(
            curl(&["-u", "alice:first", url])["default"],
            json!(space),
            "{url}"
        );
    }

    // Each replica caches what it read; a change made elsewhere is refused by both on
    // any request that starts a staleness bound after it.
    admin(&["token", "revoke", &token], "");
    std::thread::sleep(DEFAULT_MAX_STALENESS);
    for url in &urls {
        assert_eq!(
            curl(&["-H", &macaroon, url])["error"],
            "invalid_token",
            "{url}"
        );
    }

    admin(
        &["user", "set-password", "alice", "--password-stdin"],
        "second",
    );
    std::thread::sleep(DEFAULT_MAX_STALENESS);
    for url in &urls {
        assert_eq!(
            curl(&["-u", "alice:first", url])["error"],
            "invalid_credentials",
            "{url}"
        );
        assert_eq!(
            curl(&["-u", "alice:second", url])["default"],
            json!(space),
            "{url}"
        );
    }

    for mut replica in replicas {
        assert_eq!(replica.terminate().code(), Some(0));
    }
    runtime.block_on(db.remove());
}

#[tokio::test]
async fn replicas_starting_at_once_migrate_once() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let mut starting = JoinSet::new();
    for _ in 0..4 {
        let url = db.url.clone();
        starting.spawn(async move { PostgresStore::open_url(&url).await.map(drop) });
    }
    while let Some(result) = starting.join_next().await {
        result.unwrap().expect("every replica starts");
    }
    db.remove().await;
}

/// Sends `GET /user/spaces` with the token and returns the status, after checking
/// that any failure carries the Error body and reveals nothing internal.
async fn status_of(app: &TestApp, token: &str) -> u16 {
    let reply = app.get_spaces(&[("macaroon", token)]).await;
    if reply.status != 200 {
        assert_eq!(
            (reply.status, reply.error_code()),
            (500, "internal_server_error"),
            "{}",
            reply.body
        );
        assert_eq!(reply.body["error_description"], "Internal server error.");
    }
    reply.status
}

/// Polls until the server answers 200 again; returns how long that took.
async fn time_to_recover(app: &TestApp, token: &str) -> Duration {
    let started = Instant::now();
    while status_of(app, token).await != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no recovery within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

async fn app_on(db_url: &str) -> (TestApp, String) {
    let store: Arc<dyn Store> = Arc::new(PostgresStore::open_url(db_url).await.unwrap());
    admin::create_user(store.as_ref(), "alice", "pw")
        .await
        .unwrap();
    let token = admin::create_token(store.as_ref(), "alice", None)
        .await
        .unwrap();
    (TestApp::spawn_on(store), token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_database_connections_are_replaced_without_a_restart() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    // A name of its own in pg_stat_activity, so only this test's connections are cut.
    let name = format!("onezone-outage-{}", std::process::id());
    let (app, token) = app_on(&format!("{}&application_name={name}", db.url)).await;
    assert_eq!(status_of(&app, &token).await, 200);

    let mut conn = db.admin_connection().await;
    let terminated: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t",
    )
    .bind(&name)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(terminated > 0, "the server had no connection to terminate");
    // Past the cache's bound, requests need the database again.
    tokio::time::sleep(DEFAULT_MAX_STALENESS).await;

    let recovery = time_to_recover(&app, &token).await;
    println!(
        "after pg_terminate_backend of {terminated} connection(s): serving again in {:.0} ms",
        recovery.as_secs_f64() * 1e3
    );
    db.remove().await;
}

/// A TCP forwarder to PostgreSQL that can be cut (the port then refuses connections,
/// and open connections are closed) and restored on the same port.
struct Forwarder {
    port: u16,
    upstream: SocketAddr,
    tasks: JoinSet<()>,
}

impl Forwarder {
    async fn start(upstream: SocketAddr) -> Forwarder {
        let mut forwarder = Forwarder {
            port: 0,
            upstream,
            tasks: JoinSet::new(),
        };
        forwarder.listen().await;
        forwarder
    }

    async fn listen(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.port = listener.local_addr().unwrap().port();
        let upstream = self.upstream;
        self.tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
    }

    /// Closes the port and every forwarded connection.
    async fn cut(&mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_gives_500s_then_service_resumes_by_itself() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let pg: url_parts::Target = url_parts::target(&db.url);
    let mut forwarder = Forwarder::start(pg.address).await;
    let (app, token) = app_on(&pg.with_port(forwarder.port)).await;
    assert_eq!(status_of(&app, &token).await, 200);

    forwarder.cut().await;
    // Within the cache's bound the last answer may still be served; past it, not.
    tokio::time::sleep(DEFAULT_MAX_STALENESS).await;
    let started = Instant::now();
    let status = status_of(&app, &token).await;
    let failed_after = started.elapsed();
    assert_eq!(status, 500, "the database is unreachable");
    assert!(
        failed_after < Duration::from_secs(5),
        "the 500 took {failed_after:?}"
    );
    // The server itself is fine: a request that needs no database is answered as usual.
    assert_eq!(app.get_spaces(&[]).await.status, 401);

    forwarder.listen().await;
    let recovery = time_to_recover(&app, &token).await;
    println!(
        "database unreachable: 500 after {:.0} ms; serving again {:.0} ms after it came back",
        failed_after.as_secs_f64() * 1e3,
        recovery.as_secs_f64() * 1e3
    );
    db.remove().await;
}

/// Just enough URL handling to point a `postgres://user@host:port/db?...` URL elsewhere.
mod url_parts {
    use std::net::{SocketAddr, ToSocketAddrs};

    pub struct Target {
        pub address: SocketAddr,
        before_host: String,
        after_port: String,
    }

    pub fn target(url: &str) -> Target {
        let authority_start = url.find("://").unwrap() + 3;
        let host_start = url[authority_start..]
            .find('@')
            .map_or(authority_start, |at| authority_start + at + 1);
        let host_end = host_start
            + url[host_start..]
                .find(['/', '?'])
                .unwrap_or(url.len() - host_start);
        let host_port = &url[host_start..host_end];
        let host_port = if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:5432")
        };
        let address = host_port.to_socket_addrs().unwrap().next().unwrap();
        Target {
            address,
            before_host: url[..host_start].to_owned(),
            after_port: url[host_end..].to_owned(),
        }
    }

    impl Target {
        pub fn with_port(&self, port: u16) -> String {
            format!("{}127.0.0.1:{port}{}", self.before_host, self.after_port)
        }
    }
}
