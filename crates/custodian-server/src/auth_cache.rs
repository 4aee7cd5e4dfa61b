//! Authenticated API keys remembered for a short time, so a request does
//! not wait for a second database round trip before its own work.
//!
//! What holds:
//! - Entries are keyed by the SHA-256 of the presented key, never the key.
//! - Only successful authentications are kept. An unknown or revoked key is
//!   looked up every time, so a key made a moment ago works at once and a
//!   flood of random keys adds nothing here.
//! - An entry lives `ttl` from the lookup that made it: a revocation, or a
//!   change of `acts_as` (`claims bind-key`/`unbind-key`), made by another
//!   process shows here within `ttl`. [`AuthCache::forget_key`] makes it
//!   immediate for a change made in this process.
//! - At most [`CAPACITY`] entries: expired ones go first, then the oldest.
//! - A zero `ttl` turns the cache off: every request asks the database.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError},
    time::{Duration, Instant},
};

use custodian_privacy::keys::Principal;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The most keys remembered at once; a bound on memory, whatever arrives.
pub const CAPACITY: usize = 10_000;

// The lock is held for one map operation and never across an await, so a
// blocking mutex is the right size: tokio's would add a future per request.
#[allow(clippy::disallowed_types)]
type Map = std::sync::Mutex<HashMap<[u8; 32], Entry>>;

struct Entry {
    principal: Principal,
    expires: Instant,
}

/// The cache of authenticated keys one server process keeps; clones share it.
#[derive(Clone)]
pub struct AuthCache {
    ttl: Duration,
    capacity: usize,
    map: Arc<Map>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("ttl", &self.ttl)
            .field("entries", &self.len())
            .finish()
    }
}

impl AuthCache {
    /// A cache whose entries live `ttl` (zero: no cache).
    pub fn new(ttl: Duration) -> Self {
        Self::with_capacity(ttl, CAPACITY)
    }

    /// A cache of at most `capacity` entries; tests use a small one.
    pub fn with_capacity(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            map: Arc::default(),
        }
    }

    /// False when `ttl` is zero and every request asks the database.
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The cache key of a presented API key.
    pub fn digest(presented: &str) -> [u8; 32] {
        Sha256::digest(presented.as_bytes()).into()
    }

    /// The map, even after a panic elsewhere while it was held: the map is
    /// then emptied, since it may be half-updated, and the lock recovered.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.map.lock().unwrap_or_else(|poisoned: PoisonError<_>| {
            let mut map = poisoned.into_inner();
            map.clear();
            self.map.clear_poison();
            map
        })
    }

    /// The principal remembered for `digest`, if its entry has not expired.
    pub fn get(&self, digest: &[u8; 32]) -> Option<Principal> {
        if !self.enabled() {
            return None;
        }
        let now = Instant::now();
        let mut map = self.lock();
        let fresh = map
            .get(digest)
            .map(|e| (e.expires > now).then(|| e.principal.clone()))?;
        if fresh.is_none() {
            map.remove(digest);
        }
        fresh
    }

    /// Remembers a successful authentication for `ttl`.
    pub fn insert(&self, digest: [u8; 32], principal: Principal) {
        if !self.enabled() {
            return;
        }
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= self.capacity && !map.contains_key(&digest) {
            map.retain(|_, e| e.expires > now);
            if map.len() >= self.capacity
                && let Some(oldest) = map.iter().min_by_key(|(_, e)| e.expires).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            digest,
            Entry {
                principal,
                // A TTL too large to add is treated as "until restart".
                expires: now
                    .checked_add(self.ttl)
                    .unwrap_or(now + Duration::from_secs(86_400)),
            },
        );
    }

    /// Drops every entry of the key `key_id`, for a process that revokes or
    /// rebinds a key itself and must not wait for the entry to expire.
    pub fn forget_key(&self, key_id: Uuid) {
        self.lock().retain(|_, e| e.principal.key_id != key_id);
    }

    /// How many entries are held (expired ones included until touched).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custodian_privacy::access::Role;

    fn principal(n: usize) -> Principal {
        Principal {
            key_id: Uuid::now_v7(),
            name: format!("key-{n}"),
            role: Role::Service,
            acts_as: None,
        }
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity_and_keeps_the_newest() {
        let cache = AuthCache::with_capacity(Duration::from_secs(3600), 16);
        for n in 0..100 {
            cache.insert(AuthCache::digest(&format!("cus_{n}")), principal(n));
            assert!(cache.len() <= 16);
        }
        assert_eq!(cache.len(), 16);
        let newest = cache.get(&AuthCache::digest("cus_99"));
        assert_eq!(newest.map(|p| p.name), Some("key-99".to_owned()));
        assert!(cache.get(&AuthCache::digest("cus_0")).is_none());
    }

    #[test]
    fn a_zero_ttl_remembers_nothing() {
        let cache = AuthCache::new(Duration::ZERO);
        cache.insert(AuthCache::digest("cus_a"), principal(1));
        assert!(cache.is_empty());
        assert!(cache.get(&AuthCache::digest("cus_a")).is_none());
    }

    #[test]
    fn forgetting_a_key_drops_its_entry_only() {
        let cache = AuthCache::new(Duration::from_secs(3600));
        let (a, b) = (principal(1), principal(2));
        cache.insert(AuthCache::digest("cus_a"), a.clone());
        cache.insert(AuthCache::digest("cus_b"), b.clone());
        cache.forget_key(a.key_id);
        assert!(cache.get(&AuthCache::digest("cus_a")).is_none());
        assert_eq!(cache.get(&AuthCache::digest("cus_b")), Some(b));
    }

    #[test]
    fn a_poisoned_lock_is_recovered_empty() {
        let cache = AuthCache::new(Duration::from_secs(3600));
        cache.insert(AuthCache::digest("cus_a"), principal(1));
        let poisoner = cache.clone();
        let _ = std::thread::spawn(move || {
            let _held = poisoner.map.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(cache.get(&AuthCache::digest("cus_a")).is_none());
        cache.insert(AuthCache::digest("cus_b"), principal(2));
        assert_eq!(cache.len(), 1);
    }
}
