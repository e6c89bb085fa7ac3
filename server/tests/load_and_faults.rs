//! Load and faults: 256 concurrent connections mixing valid and invalid credentials,
//! admin commands writing while the server serves, and SIGTERM in the middle of load.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::binary::{Server, Target};
use common::postgres::TestDatabase;
use common::{PATH, TestApp, send};
use onezone_server::app::DEFAULT_MAX_STALENESS;
use onezone_server::throttle::ThrottleConfig;
use tokio::task::JoinSet;

/// Each test here loads the machine on its own; run side by side on two cores they
/// starve each other's clients for seconds, and the figures mean nothing. One at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CONNECTIONS: usize = 256;
const REQUESTS_PER_CONNECTION: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_of_256_connections_gets_no_5xx_and_loses_no_connection() {
    let _alone = ONE_AT_A_TIME.lock().await;
    // Throttling is not under test here: the wrong passwords would trip it.
    let unthrottled = ThrottleConfig {
        per_login: u32::MAX,
        per_address: u32::MAX,
        ..Default::default()
    };
    let app = Arc::new(TestApp::spawn_throttled(unthrottled).await);
    app.user("alice", "pw").await;
    app.space("s", "alice").await;
    let token = Arc::new(app.token("alice").await);

    let started = Instant::now();
    let statuses = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<
        u16,
        usize,
    >::new()));
    let valid = Arc::new(AtomicUsize::new(0));
    let mut connections = JoinSet::new();
    for c in 0..CONNECTIONS {
        let (app, token, statuses, valid) =
            (app.clone(), token.clone(), statuses.clone(), valid.clone());
        connections.spawn(async move {
            // One client per task with at most one pooled connection: 256 connections.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .http1_only()
                .build()
                .unwrap();
            for r in 0..REQUESTS_PER_CONNECTION {
                let url = format!("{}{PATH}", app.base_url);
                let kind = (c + r) % 10;
                if kind == 0 || kind >= 6 {
                    valid.fetch_add(1, Ordering::Relaxed);
                }
                let request = match kind {
                    0 => client.get(&url).basic_auth("alice", Some("pw")),
                    1 => client.get(&url).basic_auth("alice", Some("wrong")),
                    2 | 3 => client.get(&url).header("macaroon", "not-a-token"),
                    4 => client.get(&url).header("macaroon", ""),
                    5 => client.get(&url),
                    _ => client.get(&url).header("macaroon", token.as_str()),
                };
                // `send` checks the response against the spec and panics on a dropped connection.
                let reply = send(request).await;
                *statuses.lock().unwrap().entry(reply.status).or_default() += 1;
            }
        });
    }
    while let Some(done) = connections.join_next().await {
        done.expect("a connection's requests all completed");
    }
    let statuses = statuses.lock().unwrap().clone();
    let total: usize = statuses.values().sum();
    println!(
        "load: {total} requests over {CONNECTIONS} connections in {:.1} s; statuses {statuses:?}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(total, CONNECTIONS * REQUESTS_PER_CONNECTION);
    assert!(statuses.keys().all(|s| *s < 500), "{statuses:?}");
    // Every valid request succeeded and every invalid one was refused.
    let valid = valid.load(Ordering::Relaxed);
    assert_eq!(
        statuses.get(&200).copied().unwrap_or(0),
        valid,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.get(&401).copied().unwrap_or(0),
        total - valid,
        "{statuses:?}"
    );
}

const WRITERS: usize = 4;
const SPACES_PER_WRITER: usize = 5;

/// Admin processes create spaces while readers list them without pause: every command
/// succeeds, every read succeeds with no more spaces than were created, and a request
/// starting a staleness bound after the last write lists every space. (Within the
/// bound, a reader may see an older list after a newer one: see `store/cache.rs`.)
async fn admin_writes_during_reads_lose_nothing(target: Target<'_>) {
    let _alone = ONE_AT_A_TIME.lock().await;
    common::install_crypto_provider();
    target.ok(&["user", "create", "alice", "--password-stdin"], "pw");
    let token = Arc::new(target.ok(&["token", "create", "alice"], ""));
    let server = tokio::task::block_in_place(|| Server::start(target, &["--no-tls"]));
    let url = Arc::new(format!("http://{}{PATH}", server.address()));
    let list = |reply: &common::Reply| -> Vec<String> {
        serde_json::from_value(reply.body["spaces"].clone()).unwrap()
    };

    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let reads = Arc::new(AtomicUsize::new(0));
    let mut readers = JoinSet::new();
    for _ in 0..16 {
        let (url, token, writing, reads) =
            (url.clone(), token.clone(), writing.clone(), reads.clone());
        readers.spawn(async move {
            let client = reqwest::Client::new();
            while writing.load(Ordering::Relaxed) {
                let reply = send(client.get(url.as_str()).header("macaroon", token.as_str())).await;
                assert_eq!(reply.status, 200, "{:?}", reply.body);
                let listed = reply.body["spaces"].as_array().unwrap().len();
                assert!(
                    listed <= WRITERS * SPACES_PER_WRITER,
                    "{listed} spaces listed"
                );
                reads.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    // The readers are under way before the first write.
    while reads.load(Ordering::Relaxed) < 64 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = reads.load(Ordering::Relaxed);
    let created: Vec<String> = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let writers: Vec<_> = (0..WRITERS)
                .map(|w| {
                    scope.spawn(move || {
                        (0..SPACES_PER_WRITER)
                            .map(|i| {
                                let name = format!("w{w}-{i}");
                                target.ok(&["space", "create", &name, "--owner", "alice"], "")
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            writers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        })
    });
    let during = reads.load(Ordering::Relaxed) - before;
    writing.store(false, Ordering::Relaxed);
    while let Some(done) = readers.join_next().await {
        done.expect("every read succeeded");
    }
    tokio::time::sleep(DEFAULT_MAX_STALENESS).await;

    let reply = send(
        reqwest::Client::new()
            .get(url.as_str())
            .header("macaroon", token.as_str()),
    )
    .await;
    let mut listed = list(&reply);
    let mut created = created;
    listed.sort();
    created.sort();
    assert_eq!(
        listed, created,
        "every space an admin command created is listed"
    );
    println!(
        "{} admin writes during {during} reads: none lost",
        created.len()
    );
    assert!(during > 0, "the reads overlapped the writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_writes_during_reads_lose_nothing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    admin_writes_during_reads_lose_nothing(Target::sqlite(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_writes_during_reads_lose_nothing_on_postgres() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let target = Target::postgres(dir.path(), &db.url);
    admin_writes_during_reads_lose_nothing(target).await;
    db.remove().await;
}

// Connections the server accepted are answered; connections still in the kernel's accept
// queue when the listener closes are reset before any answer, and a client may retry them.
// This failed while actix-server's own signal handler raced the binary's: its immediate
// stop dropped connections queued for a worker, closed with no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_lets_in_flight_requests_finish() {
    let _alone = ONE_AT_A_TIME.lock().await;
    common::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let target = Target::sqlite(dir.path());
    target.ok(&["user", "create", "alice", "--password-stdin"], "pw");
    let token = target.ok(&["token", "create", "alice"], "");
    let mut server = tokio::task::block_in_place(|| Server::start(target, &["--no-tls"]));
    let url = format!("http://{}{PATH}", server.address());

    let completed = Arc::new(AtomicUsize::new(0));
    let finished_after_signal = Arc::new(AtomicUsize::new(0));
    let not_accepted = Arc::new(AtomicUsize::new(0));
    let signalled = Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut clients = JoinSet::new();
    for c in 0..32 {
        let (url, token) = (url.clone(), token.clone());
        let (completed, finished_after_signal, not_accepted, signalled) = (
            completed.clone(),
            finished_after_signal.clone(),
            not_accepted.clone(),
            signalled.clone(),
        );
        clients.spawn(async move {
            // No connection reuse: every request is its own connection.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(4);
            while Instant::now() < deadline {
                // Basic requests spend tens of ms in argon2: in flight when the signal lands.
                let request = if c % 2 == 0 {
                    client.get(&url).basic_auth("alice", Some("pw"))
                } else {
                    client.get(&url).header("macaroon", &token)
                };
                let sent = Instant::now();
                match request.send().await {
                    Ok(response) => {
                        assert_eq!(response.status(), 200);
                        response
                            .text()
                            .await
                            .expect("an answer that started arrives whole");
                        completed.fetch_add(1, Ordering::Relaxed);
                        if signalled.get().is_some_and(|at| sent < *at) {
                            finished_after_signal.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    // Refused once the listener is closed, or reset while still in the
                    // kernel's accept queue, never accepted by the server: no answer
                    // was started, and the client may retry elsewhere.
                    Err(e) if e.is_connect() || is_reset_before_answer(&e) => {
                        not_accepted.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => {
                        let before = signalled.get().is_none_or(|at| sent < *at);
                        panic!(
                            "a request sent {} the signal failed mid-flight: {e:?}",
                            if before { "before" } else { "after" }
                        )
                    }
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signalled.set(Instant::now()).unwrap();
    let status = tokio::task::block_in_place(|| server.terminate());
    while let Some(done) = clients.join_next().await {
        done.unwrap();
    }
    println!(
        "SIGTERM under load: {} requests completed, {} of them sent before the signal and \
         answered after it; {} connections not accepted after shutdown began; {status}",
        completed.load(Ordering::Relaxed),
        finished_after_signal.load(Ordering::Relaxed),
        not_accepted.load(Ordering::Relaxed),
    );
    assert_eq!(status.code(), Some(0));
    assert!(
        finished_after_signal.load(Ordering::Relaxed) > 0,
        "no request was in flight at the signal"
    );
}

/// A connection reset before any byte of an answer: the request was never accepted.
fn is_reset_before_answer(e: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset)
        {
            return e.is_request();
        }
        cause = c.source();
    }
    false
}
