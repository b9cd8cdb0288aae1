//! The data of one namespace in memory: what Redis holds for it, in the
//! shape the operations read. A session is its hash's fields plus its two
//! scores (`_sessions`: last use; `SESSIONS`: when the wipe removes it); an
//! id is its `_users` score and its `us:ID` tokens. The rules are the
//! scripts' (`lua/session.lua`, `touch.lua`, `kill_one.lua`, `wipe.lua`),
//! which the behaviour scenario holds both engines to.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use super::cache::Cache;
use crate::events::SessionEvent;
use crate::handle;
use crate::session::Session;
use crate::subscriber::SessionListener;

/// A session: the hash's fields and its index scores.
pub struct Record {
    pub id: Arc<str>,
    pub r: i64,
    pub w: i64,
    pub ttl: f64,
    pub la: f64,
    /// `ip`, then `d`'s JSON text when it has one: one allocation for both
    /// (48 bytes less a session with a small `d` than two).
    text: Box<str>,
    ip_len: u32,
    pub no_resave: bool,
    /// hashTokens' marker: stored under a hashed name, so never found by a
    /// token given to an instance without hashTokens.
    pub hashed: bool,
    /// `maxAge`'s end, unix seconds.
    pub ends: Option<f64>,
    /// Its `_sessions` score: when it was last used.
    pub active: f64,
    /// Its `SESSIONS` score: when the wipe removes it.
    pub expires: f64,
}

impl Record {
    /// A session created now: `create`'s fields, its expiry `ttl` from now.
    pub fn new(id: &str, ip: &str, d: Option<&str>, ttl: f64, now: f64) -> Self {
        Self {
            id: Arc::from(id),
            r: 1,
            w: 1,
            ttl,
            la: now,
            text: [ip, d.unwrap_or_default()].concat().into(),
            ip_len: u32::try_from(ip.len()).unwrap_or(u32::MAX),
            no_resave: false,
            hashed: false,
            ends: None,
            active: now,
            expires: now + ttl,
        }
    }

    pub fn ip(&self) -> &str {
        self.text.get(..self.ip_len as usize).unwrap_or_default()
    }

    /// `d`'s JSON text; `None` when the session has no `d`.
    pub fn d(&self) -> Option<&str> {
        self.text
            .get(self.ip_len as usize..)
            .filter(|d| !d.is_empty())
    }

    pub fn set_d(&mut self, d: Option<&str>) {
        self.text = [self.ip(), d.unwrap_or_default()].concat().into();
    }

    /// `load_live`: its ttl and idle time, or `None` when it idled out or ended.
    pub fn live(&self, now: f64) -> Option<(f64, f64)> {
        let idle = now - self.la;
        if self.ttl < idle || self.ends.is_some_and(|ends| now >= ends) {
            return None;
        }
        Some((self.ttl, idle))
    }

    /// The session as `session::decode` reads its fields at `now`.
    pub fn view(&self, now: f64) -> Option<Session> {
        let (ttl, idle) = self.live(now)?;
        Some(Session {
            id: self.id.to_string(),
            r: self.r as f64,
            w: self.w as f64,
            ttl: if self.no_resave { ttl - idle } else { ttl },
            idle,
            ip: Some(self.ip().to_owned()),
            no_resave: self.no_resave,
            d: self.d().map(str::to_owned),
            handle: None,
            ends_in: self.ends.map(|ends| ends - now),
        })
    }
}

/// An id of an app: its `_users` score and its `us:ID` set.
pub struct User {
    pub active: f64,
    pub tokens: Vec<Arc<str>>,
}

#[derive(Default)]
pub struct App {
    pub sessions: HashMap<Arc<str>, Record>,
    pub users: HashMap<Arc<str>, User>,
}

/// One namespace: its apps, and the caches of the instances using it, which
/// hear of every set and kill as Redis's `ns:cache` channel tells them; and
/// the instances with `events`, which hear its session events as the
/// `ns:events` channel tells them in Redis mode.
#[derive(Default)]
pub struct Space {
    pub apps: HashMap<Box<str>, App>,
    caches: Vec<Weak<Cache>>,
    listeners: Vec<Weak<dyn Fn(SessionEvent) + Send + Sync>>,
    /// Whether the call holding the space makes events: its instance has
    /// `events` (in Redis mode its scripts publish them only then).
    pub emitting: bool,
}

impl Space {
    pub fn subscribe(&mut self, cache: &Arc<Cache>) {
        self.caches.retain(|cache| cache.strong_count() > 0);
        self.caches.push(Arc::downgrade(cache));
    }

    pub fn listen(&mut self, listener: &SessionListener) {
        self.listeners
            .retain(|listener| listener.strong_count() > 0);
        self.listeners.push(Arc::downgrade(listener));
    }

    /// `events.lua`'s `emit`: TYPE, the app, the id and the handle of the
    /// session (and of the one before, for a rotation), to every listener.
    pub fn emit(&self, kind: &str, app: &str, id: &str, token: &str, previous: Option<&str>) {
        if !self.emitting {
            return;
        }
        for listener in self.listeners.iter().filter_map(Weak::upgrade) {
            listener(SessionEvent {
                kind: kind.to_owned(),
                app: app.to_owned(),
                id: id.to_owned(),
                handle: handle::of(token),
                previous: previous.map(handle::of),
            });
        }
    }

    fn caches(&self) -> impl Iterator<Item = Arc<Cache>> + '_ {
        self.caches.iter().filter_map(Weak::upgrade)
    }

    /// The `PUBLISH ns:cache APP:TOKEN` of the scripts.
    pub fn publish(&self, app: &str, token: &str) {
        if self.caches.is_empty() {
            return;
        }
        let key = crate::keys::cache_key(app, token);
        for cache in self.caches() {
            cache.remove(&key);
        }
    }

    pub fn publish_app(&self, app: &str) {
        for cache in self.caches() {
            cache.remove_app(app);
        }
    }

    /// Empties the namespace and every cache of it.
    pub fn clear(&mut self) {
        self.apps.clear();
        for cache in self.caches() {
            cache.clear();
        }
    }

    pub fn record(&self, app: &str, token: &str) -> Option<&Record> {
        self.apps.get(app)?.sessions.get(token)
    }

    pub fn record_mut(&mut self, app: &str, token: &str) -> Option<&mut Record> {
        self.apps.get_mut(app)?.sessions.get_mut(token)
    }

    /// A live session's record.
    pub fn live(&self, app: &str, token: &str, now: f64) -> Option<&Record> {
        self.record(app, token)
            .filter(|record| record.live(now).is_some())
    }

    /// `adopt.lua`: the session stored under `token` moves to `name`, whole,
    /// with its scores, marked as hashed; unless `name` holds one, or the
    /// session under `token` is marked already.
    pub fn adopt(&mut self, app: &str, token: &str, name: &str) {
        let Some(entry) = self.apps.get_mut(app) else {
            return;
        };
        let movable = entry
            .sessions
            .get(token)
            .is_some_and(|record| !record.hashed);
        if !movable || entry.sessions.contains_key(name) {
            return;
        }
        let Some(mut record) = entry.sessions.remove(token) else {
            return;
        };
        record.hashed = true;
        let name: Arc<str> = Arc::from(name);
        if let Some(user) = entry.users.get_mut(&record.id) {
            for held in user.tokens.iter_mut().filter(|held| &***held == token) {
                *held = Arc::clone(&name);
            }
        }
        entry.sessions.insert(name, record);
    }

    /// `touch.lua`'s `touch`: the session and its id used now; the expiry
    /// `ttl` from now, capped at the session's end; a `no_resave` session
    /// keeps the ttl it has left.
    pub fn touch(&mut self, app: &str, token: &str, ttl: f64, now: f64) {
        let Some(entry) = self.apps.get_mut(app) else {
            return;
        };
        let Some(record) = entry.sessions.get_mut(token) else {
            return;
        };
        record.active = now;
        let expires = now + ttl;
        record.expires = record.ends.map_or(expires, |ends| ends.min(expires));
        if record.no_resave {
            record.ttl = ttl;
        }
        let id = Arc::clone(&record.id);
        entry
            .users
            .entry(id)
            .or_insert_with(|| User {
                active: now,
                tokens: vec![Arc::from(token)],
            })
            .active = now;
    }

    /// Adds a session to its app and its id (`create`'s writes).
    pub fn insert(&mut self, app: &str, token: Arc<str>, record: Record) {
        let entry = self.apps.entry(app.into()).or_default();
        let user = entry
            .users
            .entry(Arc::clone(&record.id))
            .or_insert_with(|| User {
                active: record.active,
                tokens: Vec::new(),
            });
        user.active = record.active;
        if !user.tokens.contains(&token) {
            // Most ids have one session: room for exactly one, where a first
            // push would make room for four (48 bytes more an id).
            user.tokens.reserve_exact(1);
            user.tokens.push(Arc::clone(&token));
        }
        entry.sessions.insert(token, record);
    }

    /// `kill_one.lua`: the session and its index entries; the id goes with
    /// its last session; the event `event`. Returns whether there was a session.
    pub fn kill_one(&mut self, app: &str, token: &str, event: &str) -> bool {
        let Some(entry) = self.apps.get_mut(app) else {
            return false;
        };
        let Some(record) = entry.sessions.remove(token) else {
            return false;
        };
        if let Some(user) = entry.users.get_mut(&record.id) {
            user.tokens.retain(|t| &**t != token);
            if user.tokens.is_empty() {
                entry.users.remove(&record.id);
            }
        }
        if entry.sessions.is_empty() && entry.users.is_empty() {
            self.apps.remove(app);
        }
        self.publish(app, token);
        self.emit(event, app, &record.id, token, None);
        true
    }

    /// `wipe.lua`: every session whose expiry has come, of every app.
    /// Returns how many it removed.
    pub fn wipe(&mut self, now: f64) -> usize {
        let expired: Vec<(Box<str>, Arc<str>)> = self
            .apps
            .iter()
            .flat_map(|(app, entry)| {
                entry
                    .sessions
                    .iter()
                    .filter(|(_, record)| record.expires <= now)
                    .map(|(token, _)| (app.clone(), Arc::clone(token)))
            })
            .collect();
        for (app, token) in &expired {
            self.kill_one(app, token, "expired");
        }
        expired.len()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub fn record(id: &str, la: f64, ttl: f64) -> Record {
        Record::new(id, "ip", None, ttl, la)
    }

    #[test]
    fn ip_and_d_share_one_text() {
        let mut r = Record::new("u", "1.2.3.4", Some("{\"a\":1}"), 30.0, 0.0);
        assert_eq!((r.ip(), r.d()), ("1.2.3.4", Some("{\"a\":1}")));
        r.set_d(None);
        assert_eq!((r.ip(), r.d()), ("1.2.3.4", None));
        r.set_d(Some("{\"é\":\"😀\"}"));
        assert_eq!((r.ip(), r.d()), ("1.2.3.4", Some("{\"é\":\"😀\"}")));
        let unicode = Record::new("u", "😀", None, 30.0, 0.0);
        assert_eq!((unicode.ip(), unicode.d()), ("😀", None));
    }

    #[test]
    fn live_while_idle_is_within_ttl_and_before_the_end() {
        let mut r = record("u", 1000.0, 30.0);
        assert!(r.live(1030.0).is_some());
        assert!(r.live(1031.0).is_none());
        r.ends = Some(1010.0);
        assert!(r.live(1009.0).is_some());
        assert!(r.live(1010.0).is_none());
        r.no_resave = true;
        r.ends = None;
        let s = r.view(1010.0).unwrap();
        assert_eq!((s.ttl, s.idle), (20.0, 10.0));
    }

    #[test]
    fn the_id_goes_with_its_last_session_and_the_app_with_its_last_id() {
        let mut space = Space::default();
        space.insert("app", Arc::from("T1"), record("u", 1000.0, 30.0));
        space.insert("app", Arc::from("T2"), record("u", 1000.0, 60.0));
        assert!(space.kill_one("app", "T1", "killed"));
        assert!(!space.kill_one("app", "T1", "killed"));
        assert_eq!(space.apps["app"].users["u"].tokens.len(), 1);
        assert_eq!(space.wipe(1030.0), 0);
        assert_eq!(space.wipe(1060.0), 1);
        assert!(space.apps.is_empty());
    }

    #[test]
    fn events_go_to_every_listener_while_the_call_makes_them() {
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&heard);
        let listener: SessionListener = Arc::new(move |event: SessionEvent| {
            if let Ok(mut heard) = sink.lock() {
                heard.push((event.kind, event.id, event.handle));
            }
        });
        let mut space = Space::default();
        space.listen(&listener);
        space.insert("app", Arc::from("T1"), record("u", 1000.0, 30.0));
        space.insert("app", Arc::from("T2"), record("u", 1000.0, 30.0));
        space.kill_one("app", "T1", "killed");
        space.emitting = true;
        space.kill_one("app", "T2", "killed");
        let heard = heard.lock().map(|heard| heard.clone()).unwrap_or_default();
        assert_eq!(
            heard,
            vec![("killed".to_owned(), "u".to_owned(), handle::of("T2"))]
        );
    }

    #[test]
    fn adopt_moves_a_plain_session_to_its_name_once() {
        let mut space = Space::default();
        space.insert("app", Arc::from("T"), record("u", 1000.0, 30.0));
        space.adopt("app", "T", "S");
        assert!(space.record("app", "T").is_none());
        assert!(space
            .record("app", "S")
            .is_some_and(|r| r.hashed && r.active == 1000.0));
        assert_eq!(
            space.apps["app"].users["u"].tokens,
            vec![Arc::<str>::from("S")]
        );
        // A marked session is not moved again under another name.
        space.adopt("app", "S", "X");
        assert!(space.record("app", "X").is_none());
    }

    #[test]
    fn touch_moves_the_scores_and_caps_the_expiry_at_the_end() {
        let mut space = Space::default();
        let mut r = record("u", 1000.0, 30.0);
        r.ends = Some(1040.0);
        space.insert("app", Arc::from("T"), r);
        space.touch("app", "T", 30.0, 1020.0);
        let r = space.record("app", "T").unwrap();
        assert_eq!((r.active, r.expires, r.la), (1020.0, 1040.0, 1000.0));
        assert_eq!(space.apps["app"].users["u"].active, 1020.0);
    }
}
