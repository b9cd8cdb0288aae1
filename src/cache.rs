//! The engine's half of the optional cache of `get` answers (`cachetime` > 0).
//!
//! The answers themselves are kept in JavaScript (`cache-hits.js`), where a
//! hit costs a `Map` lookup instead of an N-API call. The engine tells that
//! cache what to forget: the sessions this instance wrote or killed, every
//! `APP:TOKEN` the subscriber hears, and whether the subscription stands (a
//! cache that may have missed a message must not answer). These go into one
//! batch that the binding hands to JavaScript, at the latest before it
//! settles the next answer, so a write is forgotten before its caller hears
//! that it is done.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::session::Session;

/// What the JavaScript cache must do, in this order: empty itself and serve
/// or not (when the subscription changed), then forget the keys and the
/// sessions of the apps.
#[derive(Debug, Default, PartialEq)]
pub struct Invalidation {
    /// `Some(true)`: subscribed again; `Some(false)`: the subscription is lost.
    /// Either way everything cached before goes.
    pub serving: Option<bool>,
    /// `APP:TOKEN` keys.
    pub keys: Vec<String>,
    /// Every session of the app, or of one id of it.
    pub apps: Vec<(String, Option<String>)>,
}

impl Invalidation {
    fn is_empty(&self) -> bool {
        self.serving.is_none() && self.keys.is_empty() && self.apps.is_empty()
    }
}

type Notify = Box<dyn Fn() + Send + Sync>;

/// The batch of invalidations not yet handed to JavaScript.
pub struct Invalidations {
    /// How long an answer may be cached, and how many: the cache's settings,
    /// as the configuration read them.
    pub time: Duration,
    pub max: usize,
    pending: Mutex<Invalidation>,
    /// Called when the batch stops being empty (the binding wakes the
    /// JavaScript thread); later additions ride along with that wake-up.
    /// Dropped by `close`, so that after `quit` nothing of it keeps a handle.
    notify: Mutex<Option<Notify>>,
    /// With `hashTokens`: `APP:STORED` → `APP:TOKEN` for every session read
    /// since the cache last emptied, so that a message naming a stored name
    /// (all that Redis ever carries) finds the token the cache keys by.
    names: Option<Mutex<HashMap<String, String>>>,
    /// The subscription's last state, which emptying the cache keeps.
    serving: AtomicBool,
}

/// How many names `names` holds, per entry the cache may hold, before it
/// empties itself and the cache (rarely: only that many different sessions
/// read in a row).
const NAMES_PER_ENTRY: usize = 4;

impl Invalidations {
    pub fn new(time: Duration, max: usize) -> Self {
        Self {
            time,
            max,
            pending: Mutex::new(Invalidation::default()),
            notify: Mutex::new(None),
            names: None,
            serving: AtomicBool::new(false),
        }
    }

    /// For `hashTokens`: messages name stored names (`forget_stored`).
    pub fn with_hashed_names(self) -> Self {
        Self {
            names: Some(Mutex::new(HashMap::new())),
            ..self
        }
    }

    fn names(&self) -> Option<MutexGuard<'_, HashMap<String, String>>> {
        self.names
            .as_ref()
            .map(|names| names.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// With `hashTokens`: the session stored as `stored_key` (`APP:STORED`)
    /// is cached, if at all, as `token_key` (`APP:TOKEN`).
    pub fn remember(&self, stored_key: &str, token_key: &str) {
        let Some(mut names) = self.names() else {
            return;
        };
        if names.len() >= self.max.saturating_mul(NAMES_PER_ENTRY).max(1024) {
            names.clear();
            drop(names);
            // Everything cached goes with the names that found it.
            let serving = self.serving.load(Ordering::Acquire);
            self.add(|pending| {
                *pending = Invalidation {
                    serving: Some(serving),
                    ..Invalidation::default()
                };
            });
            if let Some(mut names) = self.names() {
                names.insert(stored_key.to_owned(), token_key.to_owned());
            }
            return;
        }
        names.insert(stored_key.to_owned(), token_key.to_owned());
    }

    /// Forget the session a message or a script named by its stored name:
    /// without `hashTokens` that is its `APP:TOKEN`.
    pub fn forget_stored(&self, stored_key: &str) {
        let token_key = match self.names() {
            None => Some(stored_key.to_owned()),
            Some(mut names) => names.remove(stored_key),
        };
        if let Some(token_key) = token_key {
            self.forget(token_key);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Invalidation> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets what wakes the consumer; if something is already pending, wakes it now.
    pub fn on_pending(&self, notify: impl Fn() + Send + Sync + 'static) {
        *self.notify.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(notify));
        if !self.lock().is_empty() {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(notify) = &*self.notify.lock().unwrap_or_else(PoisonError::into_inner) {
            notify();
        }
    }

    /// Wakes no one any more (quit); what is pending waits for `take`.
    pub fn close(&self) {
        drop(
            self.notify
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    fn add(&self, change: impl FnOnce(&mut Invalidation)) {
        let first = {
            let mut pending = self.lock();
            let first = pending.is_empty();
            change(&mut pending);
            first
        };
        if first {
            self.wake();
        }
    }

    /// Forget `APP:TOKEN`.
    pub fn forget(&self, key: String) {
        self.add(|pending| pending.keys.push(key));
    }

    /// Forget the sessions of `app`, of one id when given.
    pub fn forget_app(&self, app: &str, id: Option<&str>) {
        self.add(|pending| {
            pending.apps.push((app.to_owned(), id.map(str::to_owned)));
        });
    }

    /// Subscribed (serve from now on) or lost (serve nothing); either way
    /// the cache empties, so what came before in the batch no longer matters.
    pub fn set_serving(&self, serving: bool) {
        self.serving.store(serving, Ordering::Release);
        if let Some(mut names) = self.names() {
            names.clear();
        }
        self.add(|pending| {
            *pending = Invalidation {
                serving: Some(serving),
                ..Invalidation::default()
            };
        });
    }

    /// The batch, if there is one, leaving an empty one.
    pub fn take(&self) -> Option<Invalidation> {
        let mut pending = self.lock();
        if pending.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut *pending))
    }
}

/// Seconds a session may stay cached by what it has left: its ttl (or
/// what is left of it, for `no_resave`), and its `maxAge` end.
pub fn seconds_left(session: &Session) -> f64 {
    let left = session
        .ends_in
        .map_or(session.ttl, |ends_in| session.ttl.min(ends_in));
    if left.is_finite() && left > 0.0 {
        left
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    fn counted() -> (Invalidations, Arc<AtomicUsize>) {
        let feed = Invalidations::new(Duration::from_secs(60), 10);
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&wakes);
        feed.on_pending(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        (feed, wakes)
    }

    #[test]
    fn wakes_once_per_batch() {
        let (feed, wakes) = counted();
        assert_eq!(feed.take(), None);
        feed.forget("a:1".to_owned());
        feed.forget("a:2".to_owned());
        feed.forget_app("a", Some("u"));
        assert_eq!(wakes.load(Ordering::Relaxed), 1);
        let batch = feed.take().unwrap_or_default();
        assert_eq!(batch.keys, ["a:1", "a:2"]);
        assert_eq!(batch.apps, [("a".to_owned(), Some("u".to_owned()))]);
        assert_eq!(batch.serving, None);
        assert_eq!(feed.take(), None);
        feed.forget("a:3".to_owned());
        assert_eq!(wakes.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_change_of_subscription_replaces_what_came_before() {
        let (feed, _) = counted();
        feed.forget("a:1".to_owned());
        feed.set_serving(false);
        feed.set_serving(true);
        feed.forget("a:2".to_owned());
        let batch = feed.take().unwrap_or_default();
        assert_eq!(batch.serving, Some(true));
        assert_eq!(batch.keys, ["a:2"]);
        assert!(batch.apps.is_empty());
    }

    #[test]
    fn with_hashed_names_a_stored_name_finds_the_token_the_cache_keys_by() {
        let feed = Invalidations::new(Duration::from_secs(60), 1).with_hashed_names();
        feed.set_serving(true);
        let _ = feed.take();
        feed.remember("a:STORED", "a:TOKEN");
        feed.forget_stored("a:STORED");
        feed.forget_stored("a:UNKNOWN");
        assert_eq!(feed.take().unwrap_or_default().keys, ["a:TOKEN"]);
        // Forgotten once: a second message names nothing cached.
        feed.forget_stored("a:STORED");
        assert_eq!(feed.take(), None);
        // Without hashing, the message names the token itself.
        let plain = Invalidations::new(Duration::from_secs(60), 1);
        plain.forget_stored("a:TOKEN");
        assert_eq!(plain.take().unwrap_or_default().keys, ["a:TOKEN"]);
    }

    #[test]
    fn too_many_names_empty_the_cache_keeping_its_serving_state() {
        let feed = Invalidations::new(Duration::from_secs(60), 1).with_hashed_names();
        feed.set_serving(true);
        let _ = feed.take();
        for i in 0..=1024 {
            feed.remember(&format!("a:S{i}"), &format!("a:T{i}"));
        }
        let batch = feed.take().unwrap_or_default();
        assert_eq!(batch.serving, Some(true), "emptied, still serving");
        feed.forget_stored("a:S1");
        assert_eq!(feed.take(), None, "the old names went with the cache");
        feed.forget_stored("a:S1024");
        assert_eq!(feed.take().unwrap_or_default().keys, ["a:T1024"]);
        feed.set_serving(false);
        let _ = feed.take();
        for i in 0..=1024 {
            feed.remember(&format!("a:S{i}"), &format!("a:T{i}"));
        }
        assert_eq!(feed.take().unwrap_or_default().serving, Some(false));
    }

    #[test]
    fn wakes_a_late_consumer_for_what_is_pending() {
        let feed = Invalidations::new(Duration::from_secs(60), 10);
        feed.set_serving(true);
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&wakes);
        feed.on_pending(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(wakes.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn never_longer_than_the_session_has_left() {
        let mut session = Session {
            id: "u".to_owned(),
            r: 1.0,
            w: 1.0,
            ttl: 100.0,
            idle: 0.0,
            ip: None,
            no_resave: false,
            d: None,
            handle: None,
            ends_in: None,
        };
        assert_eq!(seconds_left(&session), 100.0);
        session.ends_in = Some(30.0);
        assert_eq!(seconds_left(&session), 30.0);
        session.ends_in = None;
        session.ttl = f64::NAN;
        assert_eq!(seconds_left(&session), 0.0);
        session.ttl = -5.0;
        assert_eq!(seconds_left(&session), 0.0);
    }
}
