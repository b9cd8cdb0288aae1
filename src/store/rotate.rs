//! `rotate`: a session moves to a new token in one atomic script (session
//! fixation: call it after sign-in and privilege changes).

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
        let stored = self.names.stored(token);
        let Some(keys) = self.layout.for_token(&stored) else {
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
            let value: redis::Value = self
                .exec(async |conn| invocation.invoke_async(conn).await)
                .await?;
            reply::int(&value, "rotate")
        };
        let moved = self
            .by_token(keys, app, token, &stored, |moved| *moved != 1, rotate)
            .await;
        self.forget(app, token);
        Ok((moved? == 1).then_some(new_token))
    }
}
