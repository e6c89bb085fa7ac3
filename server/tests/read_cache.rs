//! The read cache's staleness promise, on a real SQLite file. A second handle on the
//! same file plays the part of an admin command or another replica: its writes do not
//! go through the cache, so only the generation check can reveal them.

use std::sync::Arc;
use std::time::Duration;

use onezone_server::ids;
use onezone_server::store::{CachedStore, SqliteStore, Store};

struct Setup {
    cached: CachedStore,
    elsewhere: SqliteStore,
    alice: i64,
    token: [u8; 32],
    _dir: tempfile::TempDir,
}

async fn setup(bound: Duration) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("onezone.db");
    let store = SqliteStore::open_file(&path).await.unwrap();
    let elsewhere = SqliteStore::open_file(&path).await.unwrap();
    let alice = store.create_user("alice", "hash-1").await.unwrap();
    store
        .create_space(&ids::new_space_id(), "s", "alice")
        .await
        .unwrap();
    let token = ids::token_hash("alice's token");
    store.create_token("alice", &token, None).await.unwrap();
    let cached = CachedStore::new(Arc::new(store), bound);
    Setup {
        cached,
        elsewhere,
        alice,
        token,
        _dir: dir,
    }
}

/// Reads everything the request path reads, so that all of it is cached.
async fn read_all(s: &Setup) -> (bool, String, usize) {
    let token = s.cached.token(&s.token).await.unwrap().unwrap();
    let (_, hash) = s.cached.password_hash("alice").await.unwrap().unwrap();
    let spaces = s.cached.user_spaces(s.alice).await.unwrap().spaces.len();
    (token.revoked, hash, spaces)
}

async fn change_elsewhere(s: &Setup) {
    s.elsewhere.revoke_token(&s.token).await.unwrap();
    s.elsewhere
        .set_password_hash("alice", "hash-2")
        .await
        .unwrap();
    s.elsewhere
        .create_space(&ids::new_space_id(), "t", "alice")
        .await
        .unwrap();
}

const BEFORE: (bool, &str, usize) = (false, "hash-1", 1);
const AFTER: (bool, &str, usize) = (true, "hash-2", 2);

fn as_ref(read: &(bool, String, usize)) -> (bool, &str, usize) {
    (read.0, read.1.as_str(), read.2)
}

#[tokio::test]
async fn a_change_made_elsewhere_shows_after_the_next_check_and_not_before() {
    // A bound no test reaches: only `check` decides here.
    let s = setup(Duration::from_secs(3600)).await;
    s.cached.check().await.unwrap();
    assert_eq!(as_ref(&read_all(&s).await), BEFORE);

    change_elsewhere(&s).await;
    assert_eq!(
        as_ref(&read_all(&s).await),
        BEFORE,
        "served from the cache: the change is unseen until a check"
    );

    s.cached.check().await.unwrap();
    assert_eq!(as_ref(&read_all(&s).await), AFTER);
}

#[tokio::test]
async fn once_the_bound_has_passed_without_a_check_reads_go_to_the_store() {
    let bound = Duration::from_millis(50);
    let s = setup(bound).await;
    s.cached.check().await.unwrap();
    assert_eq!(as_ref(&read_all(&s).await), BEFORE);

    change_elsewhere(&s).await;
    // No check runs (none was spawned), as when the store cannot be reached for one.
    tokio::time::sleep(bound).await;
    assert!(!s.cached.serving());
    assert_eq!(as_ref(&read_all(&s).await), AFTER);
}

#[tokio::test]
async fn a_store_never_checked_is_read_directly() {
    let s = setup(Duration::from_secs(3600)).await;
    assert!(!s.cached.serving());
    assert_eq!(as_ref(&read_all(&s).await), BEFORE);
    change_elsewhere(&s).await;
    assert_eq!(as_ref(&read_all(&s).await), AFTER);
}

#[tokio::test]
async fn the_spawned_checks_reveal_a_change_within_the_bound() {
    let bound = Duration::from_millis(100);
    let s = setup(bound).await;
    assert!(!s.cached.serving());
    s.cached.spawn_checks();
    let started = std::time::Instant::now();
    while !s.cached.serving() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the spawned checks never succeeded"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    read_all(&s).await;

    change_elsewhere(&s).await;
    let changed = std::time::Instant::now();
    // The promise: any read that starts a full bound after the change sees it.
    tokio::time::sleep(bound).await;
    assert_eq!(as_ref(&read_all(&s).await), AFTER);
    println!(
        "change seen {:.0} ms after it was made (bound {} ms)",
        changed.elapsed().as_secs_f64() * 1e3,
        bound.as_millis()
    );
}
