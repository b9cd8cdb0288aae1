//! The operations on an app's or an id's sessions, in memory: what
//! `killall.lua`, `killsoid.lua` and the reads of soid, soapp and activity
//! do in Redis; and ping.

use std::sync::Arc;

use super::space::App;
use super::{Now, Sessions};
use crate::error::Result;
use crate::handle;
use crate::operations::input;
use crate::session::Session;

/// A live session as a listing shows it, with its handle when asked.
fn listed(entry: &App, token: &Arc<str>, now: f64, handles: bool) -> Option<Session> {
    let session = entry.sessions.get(token)?.view(now)?;
    Some(Session {
        handle: handles.then(|| handle::of(token)),
        ..session
    })
}

impl Sessions {
    pub fn killall(&self, input: input::Killall<'_>, now: Now) -> Result<i64> {
        let mut space = self.lock(now);
        let Some(entry) = space.apps.remove(input.app) else {
            return Ok(0);
        };
        space.publish_app(input.app);
        for (token, record) in &entry.sessions {
            space.emit("killed", input.app, &record.id, token, None);
        }
        Ok(entry.sessions.len() as i64)
    }

    /// Every session of the id, live or not, as `killsoid.lua` deletes them;
    /// with `except`, all but the session stored under that token's name,
    /// which keeps its entry (and so its id its place among the users).
    pub fn killsoid(&self, input: input::Killsoid<'_>, now: Now) -> Result<i64> {
        let input::Killsoid {
            app, id, except, ..
        } = input;
        let kept = except.map(|token| self.names.stored(token));
        let mut space = self.lock(now);
        let Some(entry) = space.apps.get_mut(app) else {
            return Ok(0);
        };
        let Some(mut user) = entry.users.remove(id) else {
            return Ok(0);
        };
        let (stays, doomed): (Vec<Arc<str>>, Vec<Arc<str>>) = user
            .tokens
            .drain(..)
            .partition(|token| kept.as_deref() == Some(&**token));
        let killed: Vec<&Arc<str>> = doomed
            .iter()
            .filter(|token| entry.sessions.remove(*token).is_some())
            .collect();
        if !stays.is_empty() {
            user.tokens = stays;
            entry.users.insert(Arc::from(id), user);
        }
        if entry.sessions.is_empty() && entry.users.is_empty() {
            space.apps.remove(app);
        }
        for token in &doomed {
            space.publish(app, token);
        }
        for token in &killed {
            space.emit("killed", app, id, token, None);
        }
        Ok(killed.len() as i64)
    }

    pub fn soid(&self, input: input::Soid<'_>, now: Now) -> Result<Vec<Session>> {
        let input::Soid {
            app, id, handles, ..
        } = input;
        let space = self.lock(now);
        let Some(entry) = space.apps.get(app) else {
            return Ok(Vec::new());
        };
        let Some(user) = entry.users.get(id) else {
            return Ok(Vec::new());
        };
        Ok(user
            .tokens
            .iter()
            .filter_map(|token| listed(entry, token, now.secs, handles))
            .collect())
    }

    /// Used within the window, most recently first; ties in the order
    /// `ZREVRANGEBYSCORE` gives them (the higher `TOKEN:ID` first).
    pub fn soapp(&self, input: input::Soapp<'_>, now: Now) -> Result<Vec<Session>> {
        let input::Soapp {
            app,
            window,
            handles,
            ..
        } = input;
        let since = now.secs - window;
        let space = self.lock(now);
        let Some(entry) = space.apps.get(app) else {
            return Ok(Vec::new());
        };
        let mut active: Vec<(f64, &Arc<str>)> = entry
            .sessions
            .iter()
            .filter(|(_, record)| record.active >= since)
            .map(|(token, record)| (record.active, token))
            .collect();
        active.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| b.1.cmp(a.1)));
        Ok(active
            .into_iter()
            .filter_map(|(_, token)| listed(entry, token, now.secs, handles))
            .collect())
    }

    /// The app's sessions as `count.lua` counts them: each one whose
    /// `SESSIONS` score is past counts only when it is live.
    pub fn count(&self, input: input::Count<'_>, now: Now) -> Result<i64> {
        let space = self.lock(now);
        Ok(space.apps.get(input.app).map_or(0, |entry| {
            entry
                .sessions
                .values()
                .filter(|record| record.expires > now.secs || record.live(now.secs).is_some())
                .count() as i64
        }))
    }

    /// Ids used within the window, as `ZCOUNT _users` counts them.
    pub fn activity(&self, input: input::Activity<'_>, now: Now) -> Result<i64> {
        let since = now.secs - input.window;
        let space = self.lock(now);
        Ok(space.apps.get(input.app).map_or(0, |entry| {
            entry
                .users
                .values()
                .filter(|user| user.active >= since)
                .count() as i64
        }))
    }

    pub fn ping(&self, _: input::Ping<'_>, now: Now) -> Result<String> {
        drop(self.lock(now));
        Ok("PONG".to_owned())
    }
}
