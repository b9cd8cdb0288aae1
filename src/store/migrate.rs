//! Copying sessions from the reference's layout (a standalone Redis) into
//! cluster mode's, for moving a deployment to Redis Cluster. A cluster token
//! names its bucket in its first two characters, so each session gets its old
//! token with those two replaced: copying again writes the same keys, and a
//! session the scan returns twice is copied once.

use futures_util::future::try_join_all;

use super::Store;
use crate::clock::now_secs;
use crate::error::{Result, SessionError};
use crate::js::to_number;
use crate::keys;
use crate::layout::Layout;

/// How many `SESSIONS` entries one step reads.
const STEP: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub app: String,
    pub old: String,
    pub new: String,
}

/// What one step copied, and the cursor of the next ("0" when done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub cursor: String,
    pub moved: Vec<Moved>,
}

type Fields = Vec<(String, String)>;

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The reference's rule, as in `session::decode` and `load_live` in Lua: a
/// session lives while its idle time is within its ttl.
fn is_live(fields: &Fields, now: f64) -> bool {
    field(fields, "id").is_some()
        && to_number(field(fields, "ttl")) >= now - to_number(field(fields, "la"))
}

impl Store {
    /// Copies the live sessions of one step of `NS:SESSIONS`, from `cursor`,
    /// into `target`. Run it until the cursor is "0"; run the whole copy once.
    pub async fn migrate_step(&self, target: &Store, cursor: &str) -> Result<Step> {
        let (Layout::Standalone(keys), Layout::Cluster { .. }) = (&self.layout, &target.layout)
        else {
            return Err(SessionError::InvalidOptions(
                "sessions are copied from a standalone instance into a cluster instance".to_owned(),
            ));
        };
        let mut scan = redis::cmd("ZSCAN");
        scan.arg(keys.all_sessions())
            .arg(cursor)
            .arg("COUNT")
            .arg(STEP);
        let (next, flat): (String, Vec<String>) =
            self.exec(async |conn| scan.query_async(conn).await).await?;
        let entries: Vec<(&str, &str, &str, &str)> = flat
            .chunks_exact(2)
            .filter_map(|pair| match pair {
                [member, expires] => keys::split_global_member(member)
                    .map(|(app, token, id)| (app, token, id, expires.as_str())),
                _ => None,
            })
            .collect();
        let mut reads = redis::pipe();
        for (app, token, _, _) in &entries {
            reads.cmd("HGETALL").arg(keys.session(app, token));
        }
        let hashes: Vec<Fields> = if entries.is_empty() {
            Vec::new()
        } else {
            self.exec(async |conn| reads.query_async(conn).await)
                .await?
        };
        let now = now_secs() as f64;
        let copies = entries
            .iter()
            .zip(&hashes)
            .filter(|((_, _, id, _), fields)| {
                is_live(fields, now) && field(fields, "id") == Some(id)
            })
            .map(|((app, token, id, expires), fields)| async move {
                let new = target.import(app, token, id, fields, expires).await?;
                Ok::<_, SessionError>(Moved {
                    app: (*app).to_owned(),
                    old: (*token).to_owned(),
                    new,
                })
            });
        Ok(Step {
            cursor: next,
            moved: try_join_all(copies).await?,
        })
    }

    /// Writes a session as it was, with its indexes, under its token marked
    /// with its bucket.
    async fn import(
        &self,
        app: &str,
        old: &str,
        id: &str,
        fields: &Fields,
        expires: &str,
    ) -> Result<String> {
        let keys = self.layout.for_id(id);
        let mut token = old.to_owned();
        self.layout.mark_token(&mut token, id);
        let la = field(fields, "la").unwrap_or("0");
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(keys.session(app, &token), fields)
            .ignore()
            .zadd(keys.app_sessions(app), keys::app_member(&token, id), la)
            .ignore()
            .cmd("ZADD")
            .arg(keys.app_users(app))
            .arg("GT")
            .arg(la)
            .arg(id)
            .ignore()
            .zadd(
                keys.all_sessions(),
                keys::global_member(app, &token, id),
                expires,
            )
            .ignore()
            .sadd(keys.user_sessions(app, id), &token)
            .ignore();
        self.exec(async |conn| pipe.exec_async(conn).await).await?;
        Ok(token)
    }
}
