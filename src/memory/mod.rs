//! The in-memory engine (`memory: true`, or `REDIS_SESSIONS_MEMORY=1`): every
//! operation of the table over an in-process store instead of Redis, with the
//! same answers and errors, for test suites that have no redis-server.
//!
//! What is shared with Redis mode: the table of operations and each one's
//! checked input (validation and its messages), tokens, handles, `d`'s JSON,
//! the `Session` and `Reply` answers. What is this module's: the data
//! (`space`: one namespace's sessions and indexes), the operations' logic over
//! it (`session`: one session's operations; `listing`: an app's or an id's;
//! `express`: the express store's two),
//! `d`'s merge on set (`d`) and the cache on the JavaScript clock (`cache`);
//! and `view`, the data as the Redis keys it stands for, which the behaviour
//! scenario compares with what Redis holds.
//!
//! One store per process: namespaces live in a static, so every instance with
//! the same namespace shares one, on every thread (worker threads included),
//! as instances on one Redis share its keys. `reset` empties them.
//!
//! Time is JavaScript's `Date.now()`, handed in with every call, so fake
//! timers move it. Nothing runs in the background: no timer keeps the process
//! alive. An expired session is invisible to every method as in Redis (the
//! same rule), and the wipe runs inside a call once its period has passed on
//! that clock, removing what Redis's wiper would.

mod cache;
mod d;
mod express;
mod listing;
mod session;
mod space;
mod view;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use crate::clock::now_millis;
use crate::config::Config;
use crate::error::{Result, SessionError};
use crate::operations::{for_each_operation, input, Operation, Reply};
use crate::stored::{Hashing, Names};
use crate::subscriber::SessionListener;
use crate::validate::{Args, Style};
use cache::Cache;
use space::{Record, Space};

type Shared = Arc<Mutex<Space>>;

/// Every namespace of the process, by name.
static SPACES: LazyLock<Mutex<HashMap<String, Shared>>> = LazyLock::new(Mutex::default);

fn spaces() -> MutexGuard<'static, HashMap<String, Shared>> {
    SPACES.lock().unwrap_or_else(PoisonError::into_inner)
}

fn lock(space: &Shared) -> MutexGuard<'_, Space> {
    space.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Empties one namespace, or all of them, and the caches of their instances.
pub fn reset(namespace: Option<&str>) {
    let all = spaces();
    for (name, space) in all.iter() {
        if namespace.is_none_or(|wanted| wanted == name) {
            lock(space).clear();
        }
    }
}

/// The namespace as the Redis keys it stands for, as JSON (`view::dump`).
pub fn keys_of(namespace: &str) -> String {
    let all = spaces();
    all.get(namespace)
        .map_or_else(
            || serde_json::Value::Object(serde_json::Map::new()),
            |space| view::dump(&lock(space), namespace),
        )
        .to_string()
}

/// Changes a session's `la` or `_sessions` score as a test would in Redis (`view::edit`).
pub fn edit(namespace: &str, key: &str, field: &str, value: f64) -> bool {
    let all = spaces();
    all.get(namespace)
        .is_some_and(|space| view::edit(&mut lock(space), namespace, key, field, value))
}

/// The time of a call: JavaScript's `Date.now()` in milliseconds, and the
/// whole seconds the scripts' `now` is.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub ms: f64,
    pub secs: f64,
}

impl Now {
    /// From `Date.now()`; the system clock when it was not handed in or is
    /// not a time (a fake clock set to nonsense).
    pub fn from_js(ms: Option<f64>) -> Self {
        let ms = ms
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map_or_else(|| now_millis() as f64, f64::trunc);
        Self {
            ms,
            secs: (ms / 1000.0).floor(),
        }
    }

    /// For tokens, which end with the creation time in milliseconds.
    fn millis(self) -> u64 {
        self.ms as u64
    }
}

/// One instance in memory mode: its namespace's store, its own cache and
/// wipe schedule, as a Redis-mode instance has its own cache and wiper.
pub struct Sessions {
    space: Shared,
    /// hashTokens: the name each session is stored under.
    names: Names,
    cache: Option<Arc<Cache>>,
    /// Seconds; 0 when every get touches.
    touch_after: f64,
    wipe_every_ms: Option<f64>,
    /// `events`: this instance's calls make session events.
    events: bool,
    /// With `events`, how it hears the namespace's: held here until `quit`,
    /// the namespace holds it weakly.
    listener: Mutex<Option<SessionListener>>,
    /// When this instance next wipes (set at its first call).
    next_wipe_ms: Mutex<Option<f64>>,
    quitting: AtomicBool,
}

impl Sessions {
    /// Reads the options Redis mode reads, but for where to connect: there is
    /// no connection, so `host`, `port`, `cluster`, `sentinel` and the
    /// connection options are checked as in Redis mode and then unused.
    pub fn open(config: &Config, events: Option<SessionListener>) -> Self {
        let space = Arc::clone(spaces().entry(config.namespace.clone()).or_default());
        let listener = events.filter(|_| config.events);
        if let Some(listener) = &listener {
            lock(&space).listen(listener);
        }
        let cache = config.cache_time.map(|ttl| {
            let cache = Arc::new(Cache::new(ttl.as_secs_f64(), config.cache_max));
            lock(&space).subscribe(&cache);
            cache
        });
        Self {
            space,
            names: Names::new(config.hashing, false),
            cache,
            touch_after: config.touch_after as f64,
            wipe_every_ms: config.wipe_every.map(|every| every.as_secs_f64() * 1000.0),
            events: config.events,
            listener: Mutex::new(listener),
            next_wipe_ms: Mutex::new(None),
            quitting: AtomicBool::new(false),
        }
    }

    /// Calls after `quit` answer `Closed`, as in Redis mode.
    pub fn admit(&self) -> Result<()> {
        if self.quitting.load(Ordering::Acquire) {
            return Err(SessionError::Closed);
        }
        Ok(())
    }

    pub fn quit(&self) {
        self.quitting.store(true, Ordering::Release);
        // As the subscription ends in Redis mode: no more events.
        drop(
            self.listener
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    pub fn is_connected(&self) -> bool {
        !self.quitting.load(Ordering::Acquire)
    }

    /// The name the session of `token` is stored under, as `Store::stored_name`.
    pub fn stored_name(&self, token: &str) -> String {
        self.names.stored(token)
    }

    /// The name a session the caller names by `token` is stored under; in
    /// 'migrate' mode, a session still stored under its token moves there first.
    fn name(&self, space: &mut Space, app: &str, token: &str) -> String {
        let name = self.names.stored(token);
        if self.names.hashing == Hashing::Migrate && space.record(app, &name).is_none() {
            space.adopt(app, token, &name);
        }
        name
    }

    /// The live session a caller names, as `load_live` with `by_token`: one
    /// marked as hashed only for an instance with hashTokens.
    fn named<'s>(&self, space: &'s Space, app: &str, name: &str, now: Now) -> Option<&'s Record> {
        space
            .live(app, name, now.secs)
            .filter(|record| self.names.hashing.is_on() || !record.hashed)
    }

    /// The namespace's data for one call, wiped first when this instance's
    /// period has passed, as Redis's wiper would have by then.
    fn lock(&self, now: Now) -> MutexGuard<'_, Space> {
        let mut space = lock(&self.space);
        space.emitting = self.events;
        if let Some(every) = self.wipe_every_ms {
            let mut next = self
                .next_wipe_ms
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match *next {
                Some(at) if now.ms >= at => {
                    space.wipe(now.secs);
                    *next = Some(now.ms + every);
                }
                // Unset, or a clock set back by more than a period.
                Some(at) if now.ms + every >= at => {}
                _ => *next = Some(now.ms + every),
            }
        }
        space
    }
}

/// The in-memory dispatch of the table of operations: each row's method is
/// the one of `Sessions` named as the row's engine method in Redis mode, so
/// a row added without its memory side does not compile.
macro_rules! memory_operations {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $op:ident [$($field:ident: $kind:ident),*]
            $scope:ident -> $reply:ident $(($label:literal))? = $method:ident;
    )*) => {
        impl Sessions {
            /// Checks the operation's fields, then runs it at `now`. After
            /// `quit` every call answers `Closed` first, as in Redis mode,
            /// but `get`, which checks its input and the cache before.
            pub fn perform(&self, op: Operation, args: &Args, style: Style, now: Now) -> Result<Reply> {
                if op != Operation::Get {
                    self.admit()?;
                }
                match op {
                    $(Operation::$op => self
                        .$method(input::$op::check(args, style)?, now)
                        .map(|answer| Reply::$reply($($label,)? answer)),)*
                }
            }
        }
    };
}

for_each_operation!(memory_operations);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_javascripts_in_whole_seconds_or_the_systems() {
        let now = Now::from_js(Some(1_700_000_000_999.0));
        assert_eq!((now.ms, now.secs), (1_700_000_000_999.0, 1_700_000_000.0));
        for nonsense in [None, Some(f64::NAN), Some(-1.0), Some(f64::INFINITY)] {
            let now = Now::from_js(nonsense);
            assert!(now.secs > 1_700_000_000.0, "{nonsense:?}");
        }
    }
}
