//! A read cache in front of a store, for the request path: tokens, password hashes
//! and users' spaces. Each store query on SQLite costs thread hand-offs that dwarf the
//! query itself (the benchmark's token throughput was 0.08 x a bare actix-web server).
//!
//! Staleness is bounded. A background task reads the store's generation counter, which
//! every write bumps by trigger whoever the writer is (an admin command, another
//! replica), and empties the cache when it moves. An entry is served only while the
//! last successful check began less than `bound` ago; otherwise reads go to the store.
//! So a change committed anywhere is seen by requests that start more than `bound`
//! after it, and a store that cannot be checked is not hidden behind the cache.
//! Writes through this store empty the cache at once.
//!
//! The promise is that bound, not more: within it, two requests may be answered from
//! either side of a change, so a client can see an older answer after a newer one.
//! Absence is never cached, so what is created is usable at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Store, StoreError, TokenRecord, UserId, UserSpaces};

/// What each map may hold; a full map takes no more until the next emptying. Tokens
/// and password hashes count one each (100,000 is about 15 MiB); a space list counts
/// its ids and one more, so that a few users with 100,000 spaces cannot fill memory
/// (250,000 ids is about 18 MiB).
const ENTRIES: usize = 100_000;
const SPACE_IDS: usize = 250_000;

pub struct CachedStore {
    inner: Arc<dyn Store>,
    state: Arc<State>,
}

struct State {
    bound: Duration,
    started: Instant,
    /// Microseconds after `started` at which the last successful check began; -1 for never.
    checked_at: AtomicI64,
    /// The store generation the cache holds data of.
    generation: AtomicI64,
    /// Bumped whenever the maps are emptied; a read inserts only if it did not move
    /// while the read was in the store, so nothing read before a change outlives it.
    epoch: AtomicU64,
    tokens: Map<[u8; 32], TokenRecord>,
    password_hashes: Map<String, (UserId, String)>,
    spaces: Map<UserId, UserSpaces>,
}

struct Map<K, V> {
    entries: RwLock<Entries<K, V>>,
    capacity: usize,
    weight: fn(&V) -> usize,
}

struct Entries<K, V> {
    map: HashMap<K, V>,
    /// The sum of the entries' weights.
    used: usize,
}

impl<K: Eq + Hash, V: Clone> Map<K, V> {
    fn new(capacity: usize, weight: fn(&V) -> usize) -> Self {
        Map {
            entries: RwLock::new(Entries {
                map: HashMap::new(),
                used: 0,
            }),
            capacity,
            weight,
        }
    }

    fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.entries.read().unwrap().map.get(key).cloned()
    }

    fn insert(&self, epoch: &AtomicU64, read_at_epoch: u64, key: K, value: V) {
        let weight = (self.weight)(&value);
        let mut entries = self.entries.write().unwrap();
        // Under the map's lock: an emptying holds every map's lock while it bumps the epoch.
        let replaced = entries.map.get(&key).map_or(0, self.weight);
        if epoch.load(Ordering::Acquire) != read_at_epoch
            || entries.used - replaced + weight > self.capacity
        {
            return;
        }
        entries.used = entries.used - replaced + weight;
        entries.map.insert(key, value);
    }

    fn clear(entries: &mut Entries<K, V>) {
        entries.map.clear();
        entries.used = 0;
    }
}

impl State {
    fn now_us(&self) -> i64 {
        self.started.elapsed().as_micros() as i64
    }

    /// The epoch to read under, if entries may be served now.
    fn fresh(&self) -> Option<u64> {
        let checked_at = self.checked_at.load(Ordering::Acquire);
        (checked_at >= 0 && self.now_us() - checked_at < self.bound.as_micros() as i64)
            .then(|| self.epoch.load(Ordering::Acquire))
    }

    fn empty(&self) {
        let mut tokens = self.tokens.entries.write().unwrap();
        let mut hashes = self.password_hashes.entries.write().unwrap();
        let mut spaces = self.spaces.entries.write().unwrap();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Map::clear(&mut tokens);
        Map::clear(&mut hashes);
        Map::clear(&mut spaces);
    }
}

impl CachedStore {
    /// Wraps `inner`; serves entries no staler than `bound`. Call [`check`](Self::check)
    /// every `bound / 2` or so ([`spawn_checks`](Self::spawn_checks) does).
    pub fn new(inner: Arc<dyn Store>, bound: Duration) -> Self {
        CachedStore {
            inner,
            state: Arc::new(State {
                bound,
                started: Instant::now(),
                checked_at: AtomicI64::new(-1),
                generation: AtomicI64::new(i64::MIN),
                epoch: AtomicU64::new(0),
                tokens: Map::new(ENTRIES, |_| 1),
                password_hashes: Map::new(ENTRIES, |_| 1),
                spaces: Map::new(SPACE_IDS, |listed| listed.spaces.len() + 1),
            }),
        }
    }

    /// Whether cached entries may be served now: a check succeeded less than the
    /// bound ago.
    pub fn serving(&self) -> bool {
        self.state.fresh().is_some()
    }

    /// Reads the store's generation; empties the cache if it moved.
    pub async fn check(&self) -> Result<(), StoreError> {
        check(&*self.inner, &self.state).await
    }

    /// Checks every `bound / 2` on the current Tokio runtime until this store is dropped.
    pub fn spawn_checks(&self) {
        let inner = self.inner.clone();
        let state = Arc::downgrade(&self.state);
        let period = (self.state.bound / 2).max(Duration::from_millis(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticks.tick().await;
                let Some(state) = state.upgrade() else { return };
                match check(&*inner, &state).await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("store reachable again; cache in use");
                    }
                    Ok(()) => {}
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "cannot check the store for changes; reading it directly");
                    }
                    Err(_) => {}
                }
            }
        });
    }

    /// The key is borrowed, and owned only for an insert: a hit allocates no key.
    async fn cached<K, Q, V, F>(
        &self,
        map: impl Fn(&State) -> &Map<K, V>,
        key: &Q,
        read: F,
    ) -> Result<Option<V>, StoreError>
    where
        K: Eq + Hash + std::borrow::Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
        V: Clone,
        F: std::future::Future<Output = Result<Option<V>, StoreError>>,
    {
        let Some(epoch) = self.state.fresh() else {
            return read.await;
        };
        if let Some(hit) = map(&self.state).get(key) {
            return Ok(Some(hit));
        }
        let found = read.await?;
        if let Some(value) = &found {
            map(&self.state).insert(&self.state.epoch, epoch, key.to_owned(), value.clone());
        }
        Ok(found)
    }

    /// After a write through this store: it shows on this server's next request.
    fn wrote<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        self.state.empty();
        result
    }
}

async fn check(inner: &dyn Store, state: &State) -> Result<(), StoreError> {
    let began = state.now_us();
    let generation = inner.generation().await?;
    if state.generation.swap(generation, Ordering::AcqRel) != generation {
        state.empty();
    }
    state.checked_at.fetch_max(began, Ordering::AcqRel);
    Ok(())
}

#[async_trait]
impl Store for CachedStore {
    async fn user_count(&self) -> Result<i64, StoreError> {
        self.inner.user_count().await
    }

    async fn create_user(&self, login: &str, password_hash: &str) -> Result<UserId, StoreError> {
        self.wrote(self.inner.create_user(login, password_hash).await)
    }

    async fn set_password_hash(&self, login: &str, password_hash: &str) -> Result<(), StoreError> {
        self.wrote(self.inner.set_password_hash(login, password_hash).await)
    }

    async fn set_default_space(&self, login: &str, space_id: &str) -> Result<(), StoreError> {
        self.wrote(self.inner.set_default_space(login, space_id).await)
    }

    async fn create_space(
        &self,
        space_id: &str,
        name: &str,
        owner_login: &str,
    ) -> Result<(), StoreError> {
        self.wrote(self.inner.create_space(space_id, name, owner_login).await)
    }

    async fn add_member(&self, space_id: &str, login: &str) -> Result<bool, StoreError> {
        self.wrote(self.inner.add_member(space_id, login).await)
    }

    async fn remove_member(&self, space_id: &str, login: &str) -> Result<bool, StoreError> {
        self.wrote(self.inner.remove_member(space_id, login).await)
    }

    async fn create_token(
        &self,
        login: &str,
        token_hash: &[u8; 32],
        expires_at: Option<i64>,
    ) -> Result<(), StoreError> {
        self.wrote(self.inner.create_token(login, token_hash, expires_at).await)
    }

    async fn revoke_token(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.wrote(self.inner.revoke_token(token_hash).await)
    }

    async fn password_hash(&self, login: &str) -> Result<Option<(UserId, String)>, StoreError> {
        self.cached(
            |s| &s.password_hashes,
            login,
            self.inner.password_hash(login),
        )
        .await
    }

    async fn token(&self, token_hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.cached(|s| &s.tokens, token_hash, self.inner.token(token_hash))
            .await
    }

    async fn user_spaces(&self, user_id: UserId) -> Result<UserSpaces, StoreError> {
        let found = self
            .cached(|s| &s.spaces, &user_id, async {
                self.inner.user_spaces(user_id).await.map(Some)
            })
            .await?;
        Ok(found.expect("user_spaces answers or fails"))
    }

    async fn generation(&self) -> Result<i64, StoreError> {
        self.inner.generation().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_holds_no_more_than_its_capacity_by_weight() {
        let epoch = AtomicU64::new(0);
        let map: Map<u32, Vec<u8>> = Map::new(10, |v| v.len());
        map.insert(&epoch, 0, 1, vec![0; 6]);
        map.insert(&epoch, 0, 2, vec![0; 5]); // 6 + 5 > 10: refused
        map.insert(&epoch, 0, 3, vec![0; 4]);
        assert_eq!(map.get(&1).map(|v| v.len()), Some(6));
        assert_eq!(map.get(&2), None);
        assert_eq!(map.get(&3).map(|v| v.len()), Some(4));
        // Replacing an entry gives its weight back.
        map.insert(&epoch, 0, 1, vec![0; 1]);
        map.insert(&epoch, 0, 2, vec![0; 5]);
        assert_eq!(map.get(&2).map(|v| v.len()), Some(5));
        assert_eq!(map.entries.read().unwrap().used, 10);
        // A read from before an emptying is not kept.
        Map::clear(&mut map.entries.write().unwrap());
        epoch.fetch_add(1, Ordering::AcqRel);
        map.insert(&epoch, 0, 4, vec![0; 1]);
        assert_eq!(map.get(&4), None);
    }
}
