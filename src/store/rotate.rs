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
        let Some(keys) = self.layout.for_token(token) else {
            return Ok(None);
        };
        let mut new_token = token::create(now_millis())?;
        self.layout.mark_token_like(&mut new_token, token);
        let channel = self.layout.base().cache_channel();
        let invocation = scripts::rotate(keys, app, token, &new_token, now_secs(), &channel);
        let value: redis::Value = self
            .exec(async |conn| invocation.invoke_async(conn).await)
            .await?;
        self.forget(app, token);
        Ok((reply::int(&value, "rotate")? == 1).then_some(new_token))
    }
}
