//! One conformance suite for the `Store` trait, run against every backend: SQLite (a
//! fresh file per test) and PostgreSQL (a fresh schema per test, on the server named
//! by ONEZONE_TEST_DATABASE_URL; skipped, loudly, without it).

mod common;

use std::sync::Arc;

use onezone_server::ids;
use onezone_server::store::{SqliteStore, Store, StoreError, UserSpaces, unix_now};

async fn users_logins_and_passwords(store: Arc<dyn Store>) {
    assert_eq!(store.user_count().await.unwrap(), 0);
    let alice = store.create_user("alice", "hash-1").await.unwrap();
    let bob = store.create_user("bob", "hash-2").await.unwrap();
    assert_ne!(alice, bob);
    assert_eq!(store.user_count().await.unwrap(), 2);
    assert!(
        matches!(store.create_user("alice", "x").await, Err(StoreError::DuplicateLogin(l)) if l == "alice")
    );

    assert_eq!(
        store.password_hash("alice").await.unwrap(),
        Some((alice, "hash-1".to_owned()))
    );
    assert_eq!(store.password_hash("nobody").await.unwrap(), None);
    // Logins are exact: no case folding, no SQL meaning.
    assert_eq!(store.password_hash("ALICE").await.unwrap(), None);
    assert_eq!(store.password_hash("alice' OR '1'='1").await.unwrap(), None);

    store.set_password_hash("alice", "hash-3").await.unwrap();
    assert_eq!(
        store.password_hash("alice").await.unwrap(),
        Some((alice, "hash-3".to_owned()))
    );
    assert!(matches!(
        store.set_password_hash("nobody", "h").await,
        Err(StoreError::UnknownLogin(_))
    ));
}

async fn spaces_and_memberships(store: Arc<dyn Store>) {
    let alice = store.create_user("alice", "h").await.unwrap();
    let bob = store.create_user("bob", "h").await.unwrap();
    let space = ids::new_space_id();
    assert!(matches!(
        store.create_space(&space, "s", "nobody").await,
        Err(StoreError::UnknownLogin(_))
    ));
    store.create_space(&space, "s", "alice").await.unwrap();
    assert_eq!(
        store.user_spaces(alice).await.unwrap().spaces,
        std::slice::from_ref(&space),
        "the owner is a member"
    );

    assert!(store.add_member(&space, "bob").await.unwrap());
    assert!(
        !store.add_member(&space, "bob").await.unwrap(),
        "adding twice is a no-op"
    );
    assert_eq!(
        store.user_spaces(bob).await.unwrap().spaces,
        std::slice::from_ref(&space)
    );
    let unknown = ids::new_space_id();
    assert!(
        matches!(store.add_member(&unknown, "bob").await, Err(StoreError::UnknownSpace(s)) if s == unknown)
    );
    assert!(matches!(
        store.add_member(&space, "nobody").await,
        Err(StoreError::UnknownLogin(_))
    ));

    assert!(store.remove_member(&space, "bob").await.unwrap());
    assert!(!store.remove_member(&space, "bob").await.unwrap());
    assert_eq!(
        store.user_spaces(bob).await.unwrap(),
        UserSpaces {
            spaces: vec![],
            default: None
        }
    );
}

async fn spaces_are_listed_in_byte_order_without_duplicates(store: Arc<dyn Store>) {
    let alice = store.create_user("alice", "h").await.unwrap();
    // Ids chosen so that a locale's collation (case-folding, ignoring punctuation) would
    // order them differently from bytes: '-' < '0' < 'A' < 'Z' < '_' < 'a'.
    let tail = "x".repeat(42);
    let mut created = Vec::new();
    for first in ["a", "_", "Z", "A", "0", "-", "b", "B"] {
        let id = format!("{first}{tail}");
        assert!(ids::is_well_formed(&id));
        store.create_space(&id, "s", "alice").await.unwrap();
        store.add_member(&id, "alice").await.unwrap();
        created.push(id);
    }
    created.sort(); // Rust sorts strings by bytes.
    assert_eq!(store.user_spaces(alice).await.unwrap().spaces, created);
}

async fn the_default_must_be_a_membership_and_reads_none_once_left(store: Arc<dyn Store>) {
    let alice = store.create_user("alice", "h").await.unwrap();
    store.create_user("bob", "h").await.unwrap();
    let mine = ids::new_space_id();
    let theirs = ids::new_space_id();
    store.create_space(&mine, "mine", "alice").await.unwrap();
    store.create_space(&theirs, "theirs", "bob").await.unwrap();
    assert_eq!(store.user_spaces(alice).await.unwrap().default, None);

    assert!(matches!(
        store.set_default_space("alice", &theirs).await,
        Err(StoreError::NotMember { login, space }) if login == "alice" && space == theirs
    ));
    assert!(matches!(
        store.set_default_space("alice", &ids::new_space_id()).await,
        Err(StoreError::UnknownSpace(_))
    ));
    assert!(matches!(
        store.set_default_space("nobody", &mine).await,
        Err(StoreError::UnknownLogin(_))
    ));

    store.set_default_space("alice", &mine).await.unwrap();
    assert_eq!(
        store.user_spaces(alice).await.unwrap().default.as_deref(),
        Some(mine.as_str())
    );
    store.remove_member(&mine, "alice").await.unwrap();
    assert_eq!(
        store.user_spaces(alice).await.unwrap(),
        UserSpaces {
            spaces: vec![],
            default: None
        }
    );
    // Rejoining brings the stored default back.
    store.add_member(&mine, "alice").await.unwrap();
    assert_eq!(
        store.user_spaces(alice).await.unwrap().default.as_deref(),
        Some(mine.as_str())
    );
}

async fn tokens_are_found_by_hash_and_revoked(store: Arc<dyn Store>) {
    let alice = store.create_user("alice", "h").await.unwrap();
    let forever = ids::token_hash("forever");
    let expiring = ids::token_hash("expiring");
    let expires_at = unix_now() + 60;
    store.create_token("alice", &forever, None).await.unwrap();
    store
        .create_token("alice", &expiring, Some(expires_at))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_token("nobody", &ids::token_hash("x"), None)
            .await,
        Err(StoreError::UnknownLogin(_))
    ));

    let record = store.token(&forever).await.unwrap().unwrap();
    assert_eq!(
        (record.user_id, record.expires_at, record.revoked),
        (alice, None, false)
    );
    assert_eq!(
        store.token(&expiring).await.unwrap().unwrap().expires_at,
        Some(expires_at)
    );
    assert_eq!(
        store.token(&ids::token_hash("never issued")).await.unwrap(),
        None
    );

    store.revoke_token(&forever).await.unwrap();
    assert!(store.token(&forever).await.unwrap().unwrap().revoked);
    store.revoke_token(&forever).await.unwrap(); // revoking again is harmless
    assert!(
        !store.token(&expiring).await.unwrap().unwrap().revoked,
        "only that token"
    );
    assert!(matches!(
        store.revoke_token(&ids::token_hash("never issued")).await,
        Err(StoreError::UnknownToken)
    ));
}

async fn listing_an_unknown_user_is_an_error(store: Arc<dyn Store>) {
    let alice = store.create_user("alice", "h").await.unwrap();
    assert_eq!(
        store.user_spaces(alice).await.unwrap(),
        UserSpaces::default()
    );
    assert!(matches!(
        store.user_spaces(alice + 1000).await,
        Err(StoreError::UnknownUserId(_))
    ));
}

async fn every_kind_of_write_moves_the_generation(store: Arc<dyn Store>) {
    // Caches in front of the store (other replicas' too) poll this to see any change.
    let mut last = store.generation().await.unwrap();
    let mut moved = async |what: &str| {
        let now = store.generation().await.unwrap();
        assert!(
            now > last,
            "{what} did not move the generation ({last} -> {now})"
        );
        last = now;
    };
    store.create_user("alice", "h").await.unwrap();
    moved("create_user").await;
    store.set_password_hash("alice", "h2").await.unwrap();
    moved("set_password_hash").await;
    let space = ids::new_space_id();
    store.create_space(&space, "s", "alice").await.unwrap();
    moved("create_space").await;
    store.create_user("bob", "h").await.unwrap();
    moved("create_user").await;
    store.add_member(&space, "bob").await.unwrap();
    moved("add_member").await;
    store.set_default_space("bob", &space).await.unwrap();
    moved("set_default_space").await;
    store.remove_member(&space, "bob").await.unwrap();
    moved("remove_member").await;
    let token = ids::token_hash("t");
    store.create_token("alice", &token, None).await.unwrap();
    moved("create_token").await;
    store.revoke_token(&token).await.unwrap();
    moved("revoke_token").await;
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = SqliteStore::open_file(&dir.path().join("onezone.db")).await.unwrap();
                    super::$case(Arc::new(store)).await;
                }
            )*
        }

        /// The same promises behind the read cache, which is live here (one check, and a
        /// bound longer than any test): what is written through it reads back at once.
        mod sqlite_cached {
            use super::*;
            use onezone_server::store::CachedStore;
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = SqliteStore::open_file(&dir.path().join("onezone.db")).await.unwrap();
                    let cached = CachedStore::new(Arc::new(store), std::time::Duration::from_secs(3600));
                    cached.check().await.unwrap();
                    super::$case(Arc::new(cached)).await;
                }
            )*
        }

        mod postgres {
            use super::common::postgres::TestDatabase;
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(db) = TestDatabase::create().await else { return };
                    super::$case(db.store().await).await;
                    db.remove().await;
                }
            )*
        }
    };
}

conformance!(
    users_logins_and_passwords,
    spaces_and_memberships,
    spaces_are_listed_in_byte_order_without_duplicates,
    the_default_must_be_a_membership_and_reads_none_once_left,
    tokens_are_found_by_hash_and_revoked,
    listing_an_unknown_user_is_an_error,
    every_kind_of_write_moves_the_generation,
);
