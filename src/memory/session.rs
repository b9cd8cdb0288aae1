//! The operations on one session, in memory: what `create.lua` (and
//! create's MULTI), `get.lua`, `set.lua`, `touch_session.lua`, `rotate.lua`,
//! `kill.lua` and `kill_handle.lua` do in Redis.

use std::sync::Arc;

use super::space::{Record, Space};
use super::{d, Now, Sessions};
use crate::data::{self, Value};
use crate::error::{Result, SessionError};
use crate::handle::{self, SessionRef};
use crate::keys;
use crate::operations::input;
use crate::session::Session;
use crate::token;

/// A counter at the largest integer: Redis's `HINCRBY` would fail, so the
/// scripts refuse it first (`check_counter`).
fn counted(value: i64, name: &str) -> Result<i64> {
    value.checked_add(1).ok_or_else(|| {
        SessionError::Redis(format!(
            "session has a {name} that is the largest integer and cannot count further"
        ))
    })
}

/// The creation time a token ends with (base 36 milliseconds), or 0.
fn created(token: &str) -> u64 {
    token
        .get(56..)
        .and_then(|time| u64::from_str_radix(time, 36).ok())
        .unwrap_or(0)
}

/// `create.lua`'s choice: the id's live sessions other than `keep`, beyond
/// `max - 1`, least recently active first, then earliest created, then lowest token.
fn beyond_max(space: &Space, app: &str, id: &str, keep: &str, max: f64, now: f64) -> Vec<Arc<str>> {
    let Some(entry) = space.apps.get(app) else {
        return Vec::new();
    };
    let Some(user) = entry.users.get(id) else {
        return Vec::new();
    };
    let mut others: Vec<(f64, u64, &Arc<str>)> = user
        .tokens
        .iter()
        .filter(|token| &***token != keep)
        .filter_map(|token| {
            let record = entry.sessions.get(token)?;
            record.live(now)?;
            Some((record.la, created(token), token))
        })
        .collect();
    let excess = others.len() as f64 - (max - 1.0);
    if excess <= 0.0 {
        return Vec::new();
    }
    others.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then_with(|| a.2.cmp(b.2))
    });
    others
        .into_iter()
        .take(excess as usize)
        .map(|(_, _, token)| Arc::clone(token))
        .collect()
}

/// A live session that a read, set or touch refreshes, as `load_live` (and
/// `load_read`) find it.
struct Used {
    /// The name it is stored under.
    name: String,
    /// The counters as stored, which a session's `Session` view holds as numbers.
    r: i64,
    w: i64,
    /// The session before this call; its ttl is the one a refresh keeps (for
    /// `no_resave`, what is left of it).
    before: Session,
}

impl Sessions {
    /// The live session a caller names by `token`, with what a refresh of it starts from.
    fn used(&self, space: &mut Space, app: &str, token: &str, now: Now) -> Option<Used> {
        let name = self.name(space, app, token);
        let record = self.named(space, app, &name, now)?;
        Some(Used {
            name,
            r: record.r,
            w: record.w,
            before: record.view(now.secs)?,
        })
    }

    pub fn create(&self, input: input::Create<'_>, now: Now) -> Result<String> {
        let input::Create {
            app,
            id,
            ip,
            ttl,
            d: entries,
            no_resave,
            max,
            max_age,
            ..
        } = input;
        let token = token::create(now.millis())?;
        let name: Arc<str> = self.names.stored(&token).into();
        let kept: Vec<_> = entries
            .iter()
            .filter(|(_, value)| *value != Value::Null)
            .cloned()
            .collect();
        let d = (!kept.is_empty()).then(|| data::stringify(&kept));
        let mut record = Record::new(id, ip, d.as_deref(), ttl, now.secs);
        record.no_resave = no_resave;
        record.hashed = self.names.hashing.is_on();
        if let Some(seconds) = max_age {
            let ends = now.secs + seconds;
            record.ends = Some(ends);
            record.expires = record.expires.min(ends);
        }
        let mut space = self.lock(now);
        space.insert(app, Arc::clone(&name), record);
        space.emit("created", app, id, &name, None);
        if let Some(max) = max {
            for victim in beyond_max(&space, app, id, &name, max, now.secs) {
                space.kill_one(app, &victim, "evicted");
            }
        }
        Ok(token)
    }

    /// `get`, named as the Redis store's method; here the cache is asked
    /// first (the binding asks it in Redis mode), then the store, counting this read.
    pub fn get_uncached(&self, input: input::Get<'_>, now: Now) -> Result<Option<Session>> {
        let input::Get { app, token, .. } = input;
        // By the stored name, as the namespace tells caches what to forget.
        let key = keys::cache_key(app, &self.names.stored(token));
        if let Some(hit) = self
            .cache
            .as_ref()
            .and_then(|cache| cache.hit(&key, now.ms))
        {
            return Ok(Some(hit));
        }
        self.admit()?;
        let mut space = self.lock(now);
        let outcome = self.read(&mut space, app, token, now);
        if let Some(cache) = &self.cache {
            // Under the store's lock, so no set or kill falls between the read and the fill.
            cache.fill(&key, outcome.as_ref().ok().and_then(Option::as_ref), now.ms);
        }
        outcome
    }

    /// `get.lua`: the session `token` names as it was before this read; with
    /// `touchAfter`, a read within that many seconds of the last touch writes nothing.
    fn read(&self, space: &mut Space, app: &str, token: &str, now: Now) -> Result<Option<Session>> {
        let Some(used) = self.used(space, app, token, now) else {
            return Ok(None);
        };
        let token = used.name.as_str();
        let r = counted(used.r, "r")?;
        let touch_after = self.touch_after;
        if touch_after > 0.0 && used.before.idle < touch_after && used.before.ttl > touch_after {
            return Ok(Some(used.before));
        }
        space.touch(app, token, used.before.ttl, now.secs);
        if let Some(record) = space.record_mut(app, token) {
            record.r = r;
            if used.before.idle > 1.0 {
                record.la = now.secs;
            }
        }
        Ok(Some(used.before))
    }

    /// `set.lua`: `d` merged key by key; the session after the update.
    pub fn set(&self, input: input::Set<'_>, now: Now) -> Result<Option<Session>> {
        let input::Set {
            app,
            token,
            d: patch,
            ..
        } = input;
        let mut space = self.lock(now);
        let Some(used) = self.used(&mut space, app, token, now) else {
            return Ok(None);
        };
        let token = used.name.as_str();
        let w = counted(used.w, "w")?;
        let merged =
            d::merge(used.before.d.as_deref(), patch).map_err(SessionError::CorruptSession)?;
        let mut session = used.before;
        space.touch(app, token, session.ttl, now.secs);
        if let Some(record) = space.record_mut(app, token) {
            record.w = w;
            if session.idle > 1.0 {
                record.la = now.secs;
            }
            record.set_d(merged.as_deref());
        }
        space.publish(app, token);
        session.w = w as f64;
        session.d = merged;
        Ok(Some(session))
    }

    /// `touch_session.lua`: get's refresh and count, and with a ttl a new idle
    /// timeout from now (for `no_resave`, a new fixed expiry).
    pub fn touch(&self, input: input::Touch<'_>, now: Now) -> Result<Option<Session>> {
        let input::Touch {
            app,
            token,
            ttl: new_ttl,
            ..
        } = input;
        let mut space = self.lock(now);
        let Some(used) = self.used(&mut space, app, token, now) else {
            return Ok(None);
        };
        let token = used.name.as_str();
        let r = counted(used.r, "r")?;
        space.touch(app, token, new_ttl.unwrap_or(used.before.ttl), now.secs);
        if let Some(record) = space.record_mut(app, token) {
            record.r = r;
            if let Some(new_ttl) = new_ttl {
                record.ttl = new_ttl;
                record.la = now.secs;
            } else if used.before.idle > 1.0 {
                record.la = now.secs;
            }
        }
        if new_ttl.is_some() {
            space.publish(app, token);
        }
        Ok(Some(Session {
            ttl: new_ttl.unwrap_or(used.before.ttl),
            ..used.before
        }))
    }

    /// `rotate.lua`: the session whole under a new token, its scores kept.
    pub fn rotate(&self, input: input::Rotate<'_>, now: Now) -> Result<Option<String>> {
        let input::Rotate { app, token, .. } = input;
        let mut space = self.lock(now);
        let name = self.name(&mut space, app, token);
        let token = name.as_str();
        if self.named(&space, app, token, now).is_none() {
            return Ok(None);
        }
        let new_token = token::create(now.millis())?;
        let new_name: Arc<str> = self.names.stored(&new_token).into();
        let Some(entry) = space.apps.get_mut(app) else {
            return Ok(None);
        };
        if entry.sessions.contains_key(&new_name) {
            return Err(SessionError::Redis(
                "a session already has the new token".to_owned(),
            ));
        }
        let Some(record) = entry.sessions.remove(token) else {
            return Ok(None);
        };
        if let Some(user) = entry.users.get_mut(&record.id) {
            for held in user.tokens.iter_mut().filter(|held| &***held == token) {
                *held = Arc::clone(&new_name);
            }
        }
        let id = Arc::clone(&record.id);
        entry.sessions.insert(Arc::clone(&new_name), record);
        space.publish(app, token);
        space.emit("rotated", app, &id, &new_name, Some(token));
        Ok(Some(new_token))
    }

    /// `kill.lua` by token, `kill_handle.lua` by id and handle.
    pub fn kill(&self, input: input::Kill<'_>, now: Now) -> Result<i64> {
        let app = input.app;
        let mut space = self.lock(now);
        let token = match input.session {
            SessionRef::Token(token) => {
                let name = self.name(&mut space, app, token);
                if self.named(&space, app, &name, now).is_none() {
                    return Ok(0);
                }
                Arc::from(name)
            }
            SessionRef::Handle { id, handle } => {
                let found = space
                    .apps
                    .get(app)
                    .and_then(|entry| entry.users.get(id))
                    .and_then(|user| {
                        user.tokens.iter().find(|token| {
                            handle::of(token) == handle
                                && space
                                    .live(app, token, now.secs)
                                    .is_some_and(|record| &*record.id == id)
                        })
                    })
                    .cloned();
                match found {
                    Some(token) => token,
                    None => return Ok(0),
                }
            }
        };
        Ok(i64::from(space.kill_one(app, &token, "killed")))
    }
}

#[cfg(test)]
mod tests {
    use super::super::space::tests::record;
    use super::*;

    #[test]
    fn max_kills_the_least_recently_active_then_the_earliest_created() {
        let mut space = Space::default();
        let token = |random: char, time: u64| {
            let mut token: String = std::iter::repeat_n(random, 55).collect();
            token.push('Z');
            token.push_str(&format!("{:0>8}", radix36(time)));
            Arc::<str>::from(token)
        };
        let (old, early, late, new) = (token('a', 5), token('b', 1), token('c', 2), token('d', 9));
        space.insert("app", Arc::clone(&old), record("u", 900.0, 3600.0));
        space.insert("app", Arc::clone(&late), record("u", 1000.0, 3600.0));
        space.insert("app", Arc::clone(&early), record("u", 1000.0, 3600.0));
        space.insert("app", Arc::clone(&new), record("u", 1000.0, 3600.0));
        assert_eq!(created(&early), 1);
        assert_eq!(
            beyond_max(&space, "app", "u", &new, 4.0, 1000.0),
            Vec::<Arc<str>>::new()
        );
        assert_eq!(
            beyond_max(&space, "app", "u", &new, 2.0, 1000.0),
            vec![old, early]
        );
        // An idled-out session is not counted.
        assert_eq!(
            beyond_max(&space, "app", "u", &new, 3.0, 5000.0),
            Vec::<Arc<str>>::new()
        );
    }

    fn radix36(mut n: u64) -> String {
        let mut digits = Vec::new();
        loop {
            digits.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
            n /= 36;
            if n == 0 {
                break;
            }
        }
        digits.iter().rev().collect()
    }
}
