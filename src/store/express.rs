//! The two operations of the express-session store (`express.js`):
//! `createWithToken` and `moveToId`, one atomic script each, in the bucket
//! the token names.
//!
//! In cluster mode a session named by its sid lives, with all its own index
//! entries (`_sessions`, `SESSIONS`, `_users` and its id's `us:ID`), in the
//! bucket its token names, which its id's bucket need not be: then the token
//! is also added to `us:ID` in the id's bucket, where `soid`, `killsoid` and
//! kill by handle look, and which they follow to the token's bucket. It is
//! added before the script runs, so that a failure leaves no session its user
//! cannot find (the caller's next save tries again), and again after it, in
//! case a listing removed it between the two as the entry of a session not
//! there yet. That entry may outlive the session (killed or wiped in its own
//! bucket, or moved to another id): readers check the session is live and
//! still the id's, `soid` removes the entries of sessions gone, and
//! `killsoid` clears the list. `rotate` (`store/rotate`) keeps this listing
//! too, after its script.

use super::target::Target;
use super::Store;
use crate::clock::now_secs;
use crate::data::{self, JsText};
use crate::error::Result;
use crate::js::number_to_string;
use crate::operations::input;
use crate::session::MARKER;
use crate::{reply, scripts};

impl Store {
    /// The token when the session was created; `None` when a session already
    /// has it (or, in cluster mode, when the token names no bucket).
    pub async fn create_with_token(
        &self,
        input: input::CreateWithToken<'_>,
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
        let Some(Target { stored, keys }) = self.target(token) else {
            return Ok(None);
        };
        let now = now_secs();
        let kept: Vec<(JsText, data::Value)> = entries
            .iter()
            .filter(|(_, v)| *v != data::Value::Null)
            .cloned()
            .collect();
        let mut fields: Vec<(&str, String)> = vec![
            ("id", id.to_owned()),
            ("r", "1".to_owned()),
            ("w", "1".to_owned()),
            ("ip", ip.to_owned()),
            ("la", now.to_string()),
            ("ttl", number_to_string(ttl)),
        ];
        if !kept.is_empty() {
            fields.push(("d", data::stringify(&kept)));
        }
        if self.names.hashing.is_on() {
            fields.push((MARKER, "1".to_owned()));
        }
        let expires = number_to_string(now as f64 + ttl);
        self.list_in_ids_bucket(app, &stored, id).await?;
        let flags = self.flags();
        let invocation = scripts::create_with_token(
            keys,
            app,
            &stored,
            id,
            now,
            &expires,
            &fields,
            flags.as_deref(),
        );
        let value: redis::Value = self
            .exec(async |conn| invocation.invoke_async(conn).await)
            .await?;
        if reply::int(&value, "createWithToken")? != 1 {
            return Ok(None);
        }
        self.list_again(app, &stored, id).await;
        Ok(Some(token.to_owned()))
    }

    /// The id's bucket's entry in cluster mode (see the module's comment); nothing otherwise.
    async fn list_in_ids_bucket(&self, app: &str, stored: &str, id: &str) -> Result<()> {
        if let Some(user_keys) = self.layout.elsewhere_from_id(stored, id) {
            let mut add = redis::cmd("SADD");
            add.arg(user_keys.user_sessions(app, id)).arg(stored);
            self.exec(async |conn| add.query_async::<i64>(conn).await)
                .await?;
        }
        Ok(())
    }

    /// The entry again after the script: the session is there now, and the
    /// entry added before it almost surely still is, so a failure here is not
    /// the caller's (whose write succeeded) and is left to that first entry.
    async fn list_again(&self, app: &str, stored: &str, id: &str) {
        let _ = self.list_in_ids_bucket(app, stored, id).await;
    }

    /// 1 when the live session is now the id's, 0 when there is none.
    pub async fn move_to_id(&self, input: input::MoveToId<'_>) -> Result<i64> {
        let input::MoveToId { app, token, id, .. } = input;
        let Some(Target { stored, keys }) = self.target(token) else {
            return Ok(0);
        };
        let channel = self.layout.base().cache_channel();
        self.list_in_ids_bucket(app, &stored, id).await?;
        let flags = self.lookup_flags();
        let move_it = || async {
            let invocation = scripts::move_to_id(
                keys,
                app,
                &stored,
                id,
                now_secs(),
                &channel,
                flags.as_deref(),
            );
            self.exec(async |conn| invocation.invoke_async::<i64>(conn).await)
                .await
        };
        let moved = self
            .by_token(keys, app, token, &stored, |moved| *moved != 1, move_it)
            .await;
        self.forget(app, token);
        if moved.as_ref().is_ok_and(|moved| *moved == 1) {
            self.list_again(app, &stored, id).await;
        }
        moved
    }
}
