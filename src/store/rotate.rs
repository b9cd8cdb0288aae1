//! `rotate`: a session moves to a new token in one atomic script (session
//! fixation: call it after sign-in and privilege changes).
//!
//! In cluster mode a session may also be listed in its id's bucket
//! (`store/express`: the express store's sessions live in their sid's bucket).
//! The script, in the token's bucket, cannot reach that listing: it answers
//! the session's id, and a second step then lists the new name there and
//! removes the old one. Not before the script, as `createWithToken` does: the
//! id is not known until then, and reading it first would cost every rotation
//! in cluster mode a round trip. A failure of that step fails the call, so the
//! new token, which that listing lacks, is never handed out.

use redis::Value;

use super::target::Target;
use super::Store;
use crate::clock::{now_millis, now_secs};
use crate::error::Result;
use crate::operations::input;
use crate::{reply, scripts, token};

impl Store {
    /// The new token, or `None` when there is no live session. The new token
    /// names the old one's bucket, so in cluster mode both hashes share a slot.
    pub async fn rotate(&self, input: input::Rotate<'_>) -> Result<Option<String>> {
        let input::Rotate { app, token, .. } = input;
        let Some(Target { stored, keys }) = self.target(token) else {
            return Ok(None);
        };
        let mut new_token = token::create(now_millis())?;
        self.layout.mark_token_like(&mut new_token, token);
        let new_stored = self.names.stored(&new_token);
        let channel = self.layout.base().cache_channel();
        let flags = self.flags();
        let rotate = || async {
            let invocation = scripts::rotate(
                keys,
                app,
                &stored,
                &new_stored,
                now_secs(),
                &channel,
                flags.as_deref(),
            );
            let value: Value = self
                .exec(async |conn| invocation.invoke_async(conn).await)
                .await?;
            rotated_id(&value)
        };
        let moved = self
            .by_token(keys, app, token, &stored, Option::is_none, rotate)
            .await;
        self.forget(app, token);
        match moved? {
            Some(id) => {
                self.relist(app, &stored, &new_stored, &id).await?;
                Ok(Some(new_token))
            }
            None => Ok(None),
        }
    }

    /// Cluster mode, when the id's bucket is not the session's: the new name
    /// listed there and the old one gone, in one MULTI.
    async fn relist(&self, app: &str, stored: &str, new_stored: &str, id: &str) -> Result<()> {
        let Some(user_keys) = self.layout.elsewhere_from_id(new_stored, id) else {
            return Ok(());
        };
        let key = user_keys.user_sessions(app, id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .sadd(&key, new_stored)
            .ignore()
            .srem(&key, stored)
            .ignore();
        self.exec(async |conn| pipe.exec_async(conn).await).await
    }
}

/// rotate.lua's answer: the session's id when it moved, `None` when there was
/// no live session (0).
fn rotated_id(value: &Value) -> Result<Option<String>> {
    match value {
        Value::Int(0) => Ok(None),
        Value::BulkString(_) | Value::SimpleString(_) => Ok(reply::text(value)),
        other => Err(reply::unexpected("rotate", other)),
    }
}
