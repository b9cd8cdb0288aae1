//! The `cachetime` cache of one instance in memory mode: what `cache.rs` is
//! in Redis mode (at most `cachemax` sessions, least recently used evicted,
//! each for `cachetime` seconds and never longer than it has left, a hit
//! counting no read), on the clock JavaScript hands in, so that fake timers
//! age it too. Every instance of the namespace drops an entry the moment a
//! set or kill changes its session, as the pub/sub message does in Redis.

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use lru::LruCache;

use crate::session::Session;

pub struct Cache {
    /// Each session with the millisecond its entry expires.
    entries: Mutex<LruCache<String, (Session, f64)>>,
    ttl_ms: f64,
}

impl Cache {
    pub fn new(ttl_secs: f64, max: usize) -> Self {
        // Allocated as it fills: `cachemax` is a bound, not a size.
        let mut entries = LruCache::unbounded();
        entries.resize(NonZeroUsize::new(max).unwrap_or(NonZeroUsize::MIN));
        Self {
            entries: Mutex::new(entries),
            ttl_ms: ttl_secs * 1000.0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<String, (Session, f64)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached session, if its entry has not expired at `now_ms`.
    pub fn hit(&self, key: &str, now_ms: f64) -> Option<Session> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((session, expires)) if *expires > now_ms => Some(session.clone()),
            Some(_) => {
                entries.pop(key);
                None
            }
            None => None,
        }
    }

    /// Keeps what a read found (a missing session drops the entry).
    pub fn fill(&self, key: &str, session: Option<&Session>, now_ms: f64) {
        let mut entries = self.lock();
        let Some(session) = session else {
            entries.pop(key);
            return;
        };
        let left = session
            .ends_in
            .map_or(session.ttl, |ends_in| session.ttl.min(ends_in));
        if left > 0.0 {
            let expires = now_ms + self.ttl_ms.min(left * 1000.0);
            entries.put(key.to_owned(), (session.clone(), expires));
        } else {
            entries.pop(key);
        }
    }

    pub fn remove(&self, key: &str) {
        self.lock().pop(key);
    }

    /// Drops the entries of `app` (`APP:` prefix).
    pub fn remove_app(&self, app: &str) {
        let prefix = format!("{app}:");
        let mut entries = self.lock();
        let doomed: Vec<String> = entries
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(key, _)| key.clone())
            .collect();
        for key in doomed {
            entries.pop(&key);
        }
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(ttl: f64) -> Session {
        Session {
            id: "u".to_owned(),
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

    #[test]
    fn an_entry_lives_cachetime_on_the_given_clock_and_no_longer_than_its_session() {
        let cache = Cache::new(30.0, 10);
        cache.fill("app:T", Some(&session(7200.0)), 1_000.0);
        assert!(cache.hit("app:T", 30_999.0).is_some());
        assert!(cache.hit("app:T", 31_000.0).is_none());
        cache.fill("app:S", Some(&session(10.0)), 0.0);
        assert!(cache.hit("app:S", 9_999.0).is_some());
        assert!(cache.hit("app:S", 10_000.0).is_none());
        cache.fill("app:S", Some(&session(10.0)), 0.0);
        cache.fill("app:S", None, 0.0);
        assert!(cache.hit("app:S", 1.0).is_none());
    }

    #[test]
    fn at_most_cachemax_and_invalidation_by_key_or_app() {
        let cache = Cache::new(30.0, 2);
        for key in ["a:1", "a:2", "b:1"] {
            cache.fill(key, Some(&session(100.0)), 0.0);
        }
        assert!(
            cache.hit("a:1", 1.0).is_none(),
            "the least recently used went"
        );
        cache.remove_app("a");
        assert!(cache.hit("a:2", 1.0).is_none());
        assert!(cache.hit("b:1", 1.0).is_some());
        cache.remove("b:1");
        assert!(cache.hit("b:1", 1.0).is_none());
    }
}
