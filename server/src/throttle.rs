//! Slowing down password guessing: after too many failed Basic attempts for one login,
//! or from one address, within a window, further attempts are refused (429) until the
//! window ends. Nothing is locked for good: each window starts afresh, and a success
//! clears the login's count.
//!
//! Counts live in this process's memory: each replica counts on its own, and a
//! restart forgets them.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits on failed Basic attempts.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// Failures allowed for one login per window.
    pub per_login: u32,
    /// Failures allowed from one address per window (several users may share one).
    pub per_address: u32,
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            per_login: 10,
            per_address: 50,
            window: Duration::from_secs(60),
        }
    }
}

/// Tracked logins or addresses at most; past that, expired ones are dropped first,
/// then the oldest, so memory stays bounded whatever an attacker sends.
const MAX_TRACKED: usize = 100_000;

struct Window {
    started: Instant,
    failures: u32,
}

/// Failure counts per key within fixed windows.
struct Counter<K> {
    limit: u32,
    windows: Mutex<HashMap<K, Window>>,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    fn new(limit: u32) -> Self {
        Counter {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must wait, if it has used up its failures in the current window.
    fn wait<Q: Hash + Eq + ?Sized>(
        &self,
        key: &Q,
        window: Duration,
        now: Instant,
    ) -> Option<Duration>
    where
        K: Borrow<Q>,
    {
        let windows = self.windows.lock().unwrap();
        let w = windows.get(key)?;
        let ends = w.started + window;
        (w.failures >= self.limit && now < ends).then(|| ends - now)
    }

    fn fail(&self, key: &K, window: Duration, now: Instant) {
        let mut windows = self.windows.lock().unwrap();
        if windows.len() >= MAX_TRACKED && !windows.contains_key(key) {
            windows.retain(|_, w| now < w.started + window);
            if windows.len() >= MAX_TRACKED {
                let oldest = windows
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(k, _)| k.clone());
                oldest.map(|k| windows.remove(&k));
            }
        }
        let w = windows.entry(key.clone()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= w.started + window {
            *w = Window {
                started: now,
                failures: 0,
            };
        }
        w.failures += 1;
    }

    fn clear<Q: Hash + Eq + ?Sized>(&self, key: &Q)
    where
        K: Borrow<Q>,
    {
        self.windows.lock().unwrap().remove(key);
    }
}

pub struct Throttle {
    config: ThrottleConfig,
    logins: Counter<String>,
    addresses: Counter<IpAddr>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle {
            config,
            logins: Counter::new(config.per_login),
            addresses: Counter::new(config.per_address),
        }
    }

    /// `Err(wait)` if an attempt for `login` from `address` must not be checked now.
    pub fn check(&self, login: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let window = self.config.window;
        let by_login = self.logins.wait(login, window, now);
        let by_address = address.and_then(|a| self.addresses.wait(&a, window, now));
        match by_login.max(by_address) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, login: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        self.logins.fail(&login.to_owned(), self.config.window, now);
        if let Some(address) = address {
            self.addresses.fail(&address, self.config.window, now);
        }
    }

    /// The rightful user got in: their login starts with a clean slate. The address
    /// keeps its count, so one good account does not launder guesses at others.
    pub fn record_success(&self, login: &str) {
        self.logins.clear(login);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(per_login: u32, per_address: u32, window_ms: u64) -> Throttle {
        Throttle::new(ThrottleConfig {
            per_login,
            per_address,
            window: Duration::from_millis(window_ms),
        })
    }

    #[test]
    fn a_login_is_refused_after_its_failures_then_allowed_again() {
        let t = throttle(3, 100, 200);
        let ip = Some("10.0.0.1".parse().unwrap());
        for _ in 0..3 {
            assert!(t.check("alice", ip).is_ok());
            t.record_failure("alice", ip);
        }
        let wait = t.check("alice", ip).unwrap_err();
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        assert!(
            t.check("alice", Some("10.0.0.2".parse().unwrap())).is_err(),
            "per login, from anywhere"
        );
        assert!(t.check("bob", ip).is_ok(), "other logins are unaffected");
        std::thread::sleep(Duration::from_millis(250));
        assert!(t.check("alice", ip).is_ok(), "the window ended");
    }

    #[test]
    fn an_address_is_refused_after_its_failures_across_logins() {
        let t = throttle(100, 4, 10_000);
        let ip = Some("10.0.0.1".parse().unwrap());
        for i in 0..4 {
            t.record_failure(&format!("user{i}"), ip);
        }
        assert!(t.check("someone-else", ip).is_err());
        assert!(
            t.check("someone-else", Some("10.0.0.9".parse().unwrap()))
                .is_ok()
        );
        assert!(t.check("someone-else", None).is_ok());
    }

    #[test]
    fn success_clears_the_login() {
        let t = throttle(2, 100, 10_000);
        t.record_failure("alice", None);
        t.record_success("alice");
        t.record_failure("alice", None);
        assert!(
            t.check("alice", None).is_ok(),
            "one failure since the success"
        );
        t.record_failure("alice", None);
        assert!(t.check("alice", None).is_err());
    }

    #[test]
    fn memory_stays_bounded() {
        let t = throttle(1, 1, 60_000);
        for i in 0..(MAX_TRACKED + 10) {
            t.record_failure(&format!("user{i}"), None);
        }
        assert!(t.logins.windows.lock().unwrap().len() <= MAX_TRACKED);
    }
}
