//! The express store's two operations in memory: what `create_token.lua`
//! and `move_to_id.lua` do in Redis.

use std::sync::Arc;

use super::space::{Record, User};
use super::{Now, Sessions};
use crate::data::{self, Value};
use crate::error::Result;
use crate::operations::input;

impl Sessions {
    /// Creates the session under the token given, unless a session (live or
    /// not) has it: then `None`, and that session is left as it is.
    pub fn create_with_token(
        &self,
        input: input::CreateWithToken<'_>,
        now: Now,
    ) -> Result<Option<String>> {
        let input::CreateWithToken {
            app,
            token,
            id,
            ip,
            ttl,
            d: entries,
            ..
        } = input;
        let mut space = self.lock(now);
        let name = self.names.stored(token);
        if space.record(app, &name).is_some() {
            return Ok(None);
        }
        let kept: Vec<_> = entries
            .iter()
            .filter(|(_, value)| *value != Value::Null)
            .cloned()
            .collect();
        let d = (!kept.is_empty()).then(|| data::stringify(&kept));
        let mut record = Record::new(id, ip, d.as_deref(), ttl, now.secs);
        record.hashed = self.names.hashing.is_on();
        space.insert(app, Arc::from(name.as_str()), record);
        space.emit("created", app, id, &name, None);
        Ok(Some(token.to_owned()))
    }

    /// Makes the live session the id's, its token, data and scores kept; the
    /// old id goes with its last session. 1, or 0 when there is no live session.
    pub fn move_to_id(&self, input: input::MoveToId<'_>, now: Now) -> Result<i64> {
        let input::MoveToId { app, token, id, .. } = input;
        let mut space = self.lock(now);
        let name = self.name(&mut space, app, token);
        let token = name.as_str();
        let Some(record) = self.named(&space, app, token, now) else {
            return Ok(0);
        };
        if &*record.id == id {
            return Ok(1);
        }
        let Some(entry) = space.apps.get_mut(app) else {
            return Ok(0);
        };
        let Some(key) = entry
            .sessions
            .get_key_value(token)
            .map(|(key, _)| Arc::clone(key))
        else {
            return Ok(0);
        };
        let Some(record) = entry.sessions.get_mut(token) else {
            return Ok(0);
        };
        let old = std::mem::replace(&mut record.id, Arc::from(id));
        let active = record.active;
        if let Some(user) = entry.users.get_mut(&old) {
            user.tokens.retain(|held| *held != key);
            if user.tokens.is_empty() {
                entry.users.remove(&old);
            }
        }
        let user = entry.users.entry(Arc::from(id)).or_insert_with(|| User {
            active,
            tokens: Vec::new(),
        });
        if user.active < active {
            user.active = active;
        }
        user.tokens.push(key);
        space.publish(app, token);
        Ok(1)
    }
}
