//! `touch`: a touching `get` that may also give the session a new idle
//! timeout, in one atomic script.

use super::target::Target;
use super::Store;
use crate::clock::now_secs;
use crate::error::Result;
use crate::operations::input;
use crate::session::{self, Session};
use crate::{reply, scripts};

impl Store {
    /// The session as `get` answers it (`r` and `idle` before this touch),
    /// with its new ttl when one was given.
    pub async fn touch(&self, input: input::Touch<'_>) -> Result<Option<Session>> {
        let input::Touch {
            app, token, ttl, ..
        } = input;
        let Some(Target { stored, keys }) = self.target(token) else {
            return Ok(None);
        };
        let now = now_secs();
        let channel = self.layout.base().cache_channel();
        let flags = self.lookup_flags();
        let touch = || async {
            let invocation =
                scripts::touch(keys, app, &stored, now, ttl, &channel, flags.as_deref());
            let value: redis::Value = self
                .exec(async |conn| invocation.invoke_async(conn).await)
                .await?;
            reply::fields(&value, "touch")
        };
        let touched = self
            .by_token(keys, app, token, &stored, Option::is_none, touch)
            .await;
        if ttl.is_some() {
            self.forget(app, token);
        }
        let Some(fields) = touched? else {
            return Ok(None);
        };
        let session = session::decode(&fields, now as f64)?;
        Ok(session.map(|session| Session {
            ttl: ttl.unwrap_or(session.ttl),
            ..session
        }))
    }
}
