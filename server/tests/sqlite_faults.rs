//! SQLite faults, met by the real binary: another process holding SQLite's locks,
//! another writer holding the write lock, and a read-only database file. The server
//! answers 500 with the Error body while it cannot read, keeps serving what does not
//! need the store, and recovers on its own when the cause goes away.

mod common;

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use common::binary::{Server, Target, next_matching};
use common::{PATH, send};
use onezone_server::app::DEFAULT_MAX_STALENESS;
use sqlx::Connection;

/// A POSIX record lock, as SQLite itself takes them, held by this process until
/// dropped (closing the file releases it).
struct RecordLock(#[allow(dead_code)] File);

impl RecordLock {
    fn exclusive(path: &Path, start: i64, len: i64) -> RecordLock {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        // SAFETY: `flock` is plain data; zero is a valid value for every field.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as _;
        lock.l_whence = libc::SEEK_SET as _;
        lock.l_start = start;
        lock.l_len = len;
        // SAFETY: a valid descriptor and a valid `flock`, which fcntl only reads.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
        assert_eq!(rc, 0, "fcntl: {}", std::io::Error::last_os_error());
        RecordLock(file)
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    server: Server,
    url: String,
    token: String,
    client: reqwest::Client,
    run_as: Option<u32>,
}

fn start() -> Setup {
    start_as(None)
}

/// Starts a server on a fresh SQLite database holding alice, one space and her token,
/// running the binary as `run_as` when set.
fn start_as(run_as: Option<u32>) -> Setup {
    common::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    if let Some(id) = run_as {
        std::os::unix::fs::chown(dir.path(), Some(id), Some(id)).unwrap();
    }
    let target = Target {
        run_as,
        ..Target::sqlite(dir.path())
    };
    target.ok(&["user", "create", "alice", "--password-stdin"], "pw");
    target.ok(&["space", "create", "first", "--owner", "alice"], "");
    let token = target.ok(&["token", "create", "alice"], "");
    let server = Server::start(target, &["--no-tls"]);
    let url = format!("http://{}", server.address());
    Setup {
        db: dir.path().join("onezone.db"),
        _dir: dir,
        server,
        url,
        token,
        client: reqwest::Client::new(),
        run_as,
    }
}

impl Setup {
    fn target(&self) -> Target<'_> {
        Target {
            run_as: self.run_as,
            ..Target::sqlite(self.db.parent().unwrap())
        }
    }

    async fn spaces(&self) -> common::Reply {
        send(
            self.client
                .get(format!("{}{PATH}", self.url))
                .header("x-auth-token", &self.token),
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_holding_sqlites_locks_gets_500_then_the_server_recovers() {
    let setup = tokio::task::block_in_place(start);
    assert_eq!(setup.spaces().await.status, 200);

    // Bytes 120 to 127 of the -shm file are SQLite's WAL locks (write, checkpoint,
    // recovery, read marks): what a process stuck in the middle of recovery holds.
    // Readers give up after SQLite's own retries, about ten seconds.
    let lock = RecordLock::exclusive(&setup.db.with_extension("db-shm"), 120, 8);
    // Past the read cache's bound, requests need the store (and its locks) again.
    tokio::time::sleep(DEFAULT_MAX_STALENESS).await;
    let stuck = setup.spaces();
    let docs = async {
        // Meanwhile, what does not need the store is served at once.
        let docs = setup.client.get(format!("{}/openapi.json", setup.url));
        assert_eq!(docs.send().await.unwrap().status(), 200);
    };
    let (reply, ()) = tokio::join!(stuck, docs);
    assert_eq!(reply.status, 500, "{:?}", reply.body);
    assert_eq!(reply.error_code(), "internal_server_error");
    let logged = tokio::task::block_in_place(|| {
        next_matching(&setup.server.stderr, |l| l.contains("request failed"))
    });
    assert!(
        logged.contains("locking protocol"),
        "the log names the cause: {logged}"
    );

    drop(lock);
    let reply = setup.spaces().await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["spaces"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_writer_does_not_stop_reads_and_admin_writes_wait_for_it() {
    let setup = tokio::task::block_in_place(start);
    let mut writer = sqlx::SqliteConnection::connect(&format!("sqlite://{}", setup.db.display()))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE; UPDATE spaces SET name = name")
        .execute(&mut writer)
        .await
        .unwrap();

    // WAL: readers see the last committed state while a write transaction is open.
    let reply = setup.spaces().await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["spaces"].as_array().unwrap().len(), 1);

    // An admin write queues on the lock (up to its five-second busy timeout)...
    let dir = setup.db.parent().unwrap().to_owned();
    let admin = tokio::task::spawn_blocking(move || {
        Target::sqlite(&dir).ok(&["space", "create", "second", "--owner", "alice"], "")
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !admin.is_finished(),
        "the admin write waits instead of failing"
    );

    // ...and lands once the other writer commits.
    sqlx::raw_sql("COMMIT").execute(&mut writer).await.unwrap();
    let second = admin.await.unwrap();
    tokio::time::sleep(DEFAULT_MAX_STALENESS).await;
    let reply = setup.spaces().await;
    assert_eq!(reply.status, 200);
    let ids: Vec<&str> = reply.body["spaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&second.as_str()), "{ids:?} lacks {second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_file_keeps_reads_served_and_fails_admin_writes_clearly() {
    use std::os::unix::fs::PermissionsExt;
    // Root ignores permission bits, so as root the binary runs as `nobody`.
    // SAFETY: geteuid has no preconditions.
    let run_as = (unsafe { libc::geteuid() } == 0).then_some(NOBODY);
    let setup = tokio::task::block_in_place(|| start_as(run_as));
    let set_mode = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };

    set_mode(&setup.db, 0o444);
    // The request path only reads, through connections opened before the change.
    let reply = setup.spaces().await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let e = tokio::task::block_in_place(|| {
        setup
            .target()
            .fails(&["space", "create", "second", "--owner", "alice"], "")
    });
    assert!(e.contains("readonly database"), "{e}");
    assert!(e.contains("hint:") && e.contains("-wal"), "{e}");
    assert_eq!(setup.spaces().await.status, 200);

    // As the hint says: SQLite may have recreated the -wal file meanwhile, with the
    // database file's mode, so the operator makes all three writable again.
    for suffix in ["", "-wal", "-shm"] {
        let path = setup.db.with_file_name(format!("onezone.db{suffix}"));
        if path.exists() {
            set_mode(&path, 0o644);
        }
    }
    tokio::task::block_in_place(|| {
        setup
            .target()
            .ok(&["space", "create", "second", "--owner", "alice"], "")
    });
    tokio::time::sleep(DEFAULT_MAX_STALENESS).await;
    let reply = setup.spaces().await;
    assert_eq!(
        reply.body["spaces"].as_array().unwrap().len(),
        2,
        "{:?}",
        reply.body
    );
}

const NOBODY: u32 = 65534;
