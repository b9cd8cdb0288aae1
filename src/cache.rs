//! The optional in-process cache of `get` answers: at most `cachemax`
//! sessions, least recently used evicted, each for `cachetime` seconds.
//!
//! It only serves while the invalidation subscriber is subscribed: a cache
//! that may have missed a message must not answer.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::session::Session;

/// A session, or a place kept for a read in flight. Places are taken when
/// the read starts, so recency follows the order of calls, not of replies,
/// and an invalidation that lands meanwhile removes the place: the read then
/// caches nothing.
enum Entry {
    Reserved,
    Ready(Hit),
}

/// A cached session and the generation of its entry: a new generation for
/// every fill, so a caller may keep something derived from a hit (the
/// JavaScript object) for as long as `is_current` says that entry lives.
#[derive(Debug, Clone)]
pub struct Hit {
    pub session: Arc<Session>,
    pub generation: u64,
    expires: Instant,
}

pub struct SessionCache {
    entries: Mutex<LruCache<String, Entry>>,
    ttl: Duration,
    serving: AtomicBool,
    generations: AtomicU64,
}

/// An LRU holding at most `max` entries, allocated as it fills:
/// `LruCache::new` reserves room for all `max` at once, and `max` is the
/// user's `cachemax` (`1e9` would take gigabytes before the first session).
fn bounded(max: usize) -> LruCache<String, Entry> {
    let mut entries = LruCache::unbounded();
    entries.resize(NonZeroUsize::new(max).unwrap_or(NonZeroUsize::MIN));
    entries
}

impl SessionCache {
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self {
            entries: Mutex::new(bounded(max)),
            ttl,
            serving: AtomicBool::new(false),
            generations: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached session; on a miss, keeps a place for the read that follows.
    pub fn get_or_reserve(&self, key: &str) -> Option<Hit> {
        if !self.serving.load(Ordering::Acquire) {
            return None;
        }
        let mut entries = self.lock();
        if let Some(Entry::Ready(hit)) = entries.get(key) {
            if hit.expires > Instant::now() {
                return Some(hit.clone());
            }
        }
        entries.put(key.to_owned(), Entry::Reserved);
        None
    }

    /// Whether the entry of that generation is still cached and fresh.
    pub fn is_current(&self, key: &str, generation: u64) -> bool {
        matches!(self.lock().peek(key), Some(Entry::Ready(hit)) if hit.generation == generation && hit.expires > Instant::now())
    }

    /// Completes a read that `get_or_reserve` kept a place for; a missing
    /// session frees the place. Never cached longer than the session has left.
    pub fn fill(&self, key: &str, session: Option<&Session>) {
        let mut entries = self.lock();
        if !matches!(entries.peek(key), Some(Entry::Reserved)) {
            return;
        }
        let Some(session) = session else {
            entries.pop(key);
            return;
        };
        let left = session
            .ends_in
            .map_or(session.ttl, |ends_in| session.ttl.min(ends_in));
        let remaining = if left.is_finite() && left > 0.0 {
            Duration::from_secs_f64(left.min(1e9))
        } else {
            Duration::ZERO
        };
        if let Some(entry) = entries.peek_mut(key) {
            *entry = Entry::Ready(Hit {
                session: Arc::new(session.clone()),
                generation: self.generations.fetch_add(1, Ordering::Relaxed),
                expires: Instant::now() + self.ttl.min(remaining),
            });
        }
    }

    pub fn remove(&self, key: &str) {
        self.lock().pop(key);
    }

    /// Drops the entries of `app` (`APP:` prefix), of one id when given.
    pub fn remove_app(&self, app: &str, id: Option<&str>) {
        let prefix = format!("{app}:");
        let mut entries = self.lock();
        let doomed: Vec<String> = entries
            .iter()
            .filter(|(key, entry)| {
                key.starts_with(&prefix)
                    && match (id, entry) {
                        (None, _) | (Some(_), Entry::Reserved) => true,
                        (Some(id), Entry::Ready(hit)) => hit.session.id == id,
                    }
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in doomed {
            entries.pop(&key);
        }
    }

    /// Turns serving on once subscribed; off (and empty) when the subscription is lost.
    pub fn set_serving(&self, serving: bool) {
        let mut entries = self.lock();
        entries.clear();
        self.serving.store(serving, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, ttl: f64) -> Session {
        Session {
            id: id.to_owned(),
            r: 1.0,
            w: 1.0,
            ttl,
            idle: 0.0,
            ip: None,
            no_resave: false,
            d: None,
            handle: None,
            ends_in: None,
        }
    }

    fn serving(ttl: Duration, max: usize) -> SessionCache {
        let cache = SessionCache::new(ttl, max);
        cache.set_serving(true);
        cache
    }

    fn read(cache: &SessionCache, key: &str, session: Session) {
        assert!(cache.get_or_reserve(key).is_none());
        cache.fill(key, Some(&session));
    }

    #[test]
    fn serves_only_while_subscribed() {
        let cache = SessionCache::new(Duration::from_secs(60), 10);
        read(&cache, "a:t", session("u", 100.0));
        assert!(cache.get_or_reserve("a:t").is_none());
        assert!(cache.lock().is_empty());
        cache.set_serving(true);
        read(&cache, "a:t", session("u", 100.0));
        assert!(cache.get_or_reserve("a:t").is_some());
        cache.set_serving(false);
        assert!(cache.get_or_reserve("a:t").is_none());
        assert!(cache.lock().is_empty());
    }

    #[test]
    fn evicts_least_recently_used() {
        let cache = serving(Duration::from_secs(60), 2);
        read(&cache, "a:1", session("u", 100.0));
        read(&cache, "a:2", session("u", 100.0));
        assert!(cache.get_or_reserve("a:1").is_some());
        read(&cache, "a:3", session("u", 100.0));
        assert!(cache.get_or_reserve("a:1").is_some());
        assert!(cache.get_or_reserve("a:3").is_some());
        assert!(cache.get_or_reserve("a:2").is_none(), "a:2 was evicted");
        assert_eq!(cache.lock().len(), 2);
    }

    #[test]
    fn generations_tell_a_refill_apart() {
        let cache = serving(Duration::from_secs(60), 10);
        read(&cache, "a:1", session("u", 100.0));
        let first = cache.get_or_reserve("a:1").unwrap().generation;
        assert!(cache.is_current("a:1", first));
        cache.remove("a:1");
        assert!(!cache.is_current("a:1", first));
        read(&cache, "a:1", session("u", 100.0));
        let second = cache.get_or_reserve("a:1").unwrap().generation;
        assert_ne!(first, second);
        assert!(!cache.is_current("a:1", first));
        assert!(cache.is_current("a:1", second));
    }

    #[test]
    fn recency_follows_calls_not_replies() {
        let cache = serving(Duration::from_secs(60), 2);
        for key in ["a:1", "a:2", "a:3"] {
            assert!(cache.get_or_reserve(key).is_none());
        }
        for key in ["a:3", "a:2", "a:1"] {
            cache.fill(key, Some(&session("u", 100.0)));
        }
        assert!(cache.get_or_reserve("a:1").is_none());
        assert!(cache.get_or_reserve("a:3").is_some());
    }

    #[test]
    fn expires_and_never_outlives_the_session() {
        let cache = serving(Duration::from_millis(30), 10);
        read(&cache, "a:1", session("u", 100.0));
        read(&cache, "a:2", session("u", 0.0));
        assert!(cache.get_or_reserve("a:1").is_some());
        assert!(cache.get_or_reserve("a:2").is_none());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get_or_reserve("a:1").is_none());
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_cached() {
        let cache = serving(Duration::from_secs(60), 10);
        assert!(cache.get_or_reserve("a:1").is_none());
        cache.remove("a:1");
        cache.fill("a:1", Some(&session("u", 100.0)));
        assert!(cache.get_or_reserve("a:1").is_none());
        cache.fill("a:1", None);
        assert!(cache.lock().is_empty());
    }

    #[test]
    fn removes_by_app_and_id() {
        let cache = serving(Duration::from_secs(60), 10);
        read(&cache, "a:1", session("u1", 100.0));
        read(&cache, "a:2", session("u2", 100.0));
        read(&cache, "b:3", session("u1", 100.0));
        cache.remove_app("a", Some("u1"));
        assert!(cache.get_or_reserve("a:1").is_none());
        assert!(cache.get_or_reserve("a:2").is_some());
        cache.remove_app("a", None);
        assert!(cache.get_or_reserve("a:2").is_none());
        assert!(cache.get_or_reserve("b:3").is_some());
    }
}
