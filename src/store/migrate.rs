//! Copying sessions from the reference's layout (a standalone Redis) into
//! cluster mode's, for moving a deployment to Redis Cluster. A cluster token
//! names its bucket in its first two characters, so each session gets its old
//! token with those two replaced.
//!
//! A run may be repeated (to pick up sessions created at the source since),
//! so each copy leaves a record on the cluster, beside the session in its
//! bucket: a later run skips what an earlier one copied, since users may have
//! logged out of it or changed it on the cluster since, and never writes over
//! a session that is there. A session the scan returns twice is copied once.

use std::sync::LazyLock;

use futures_util::future::try_join_all;
use redis::Script;

use super::Store;
use crate::clock::now_secs;
use crate::error::{Result, SessionError};
use crate::js::{number_to_string, to_number};
use crate::keys::{self, Keys};
use crate::layout::Layout;

/// How many `SESSIONS` entries one step reads.
const STEP: usize = 500;

/// Not among the scripts loaded on every connection: only this command uses it.
static IMPORT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../lua/import.lua")));

/// The latest time `EXAT` takes everywhere (the end of year 9999).
const LATEST_EXPIRY: f64 = 253_402_300_799.0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub app: String,
    pub old: String,
    pub new: String,
}

/// What one step did, and the cursor of the next ("0" when done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub cursor: String,
    /// Copied by this step.
    pub moved: Vec<Moved>,
    /// Copied by an earlier run, so left alone.
    pub skipped: usize,
    /// Not copied: a session was at its new key on the cluster already.
    pub present: usize,
}

/// What importing one session did.
enum Imported {
    Copied(String),
    CopiedBefore,
    Present,
}

/// The key that says this source session was copied: in the bucket of its
/// id, so the import script reads it and writes the session in one slot.
fn record_key(keys: &Keys, app: &str, old_token: &str) -> String {
    format!("{}{app}:_migrated:{old_token}", keys.prefix())
}

/// Until when the record of a session that expires at `expires` must live:
/// the source session can be copied while it lives, and a run that sees it
/// live later moves the record's expiry later. Never in the past, which
/// `EXAT` would refuse or take as "delete now".
fn record_expiry(expires: &str, now: f64) -> String {
    let expires = expires.parse::<f64>().unwrap_or(f64::INFINITY);
    let expiry = expires.ceil().max(now + 1.0).min(LATEST_EXPIRY);
    number_to_string(if expiry.is_nan() {
        LATEST_EXPIRY
    } else {
        expiry
    })
}

type Fields = Vec<(String, String)>;

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The reference's rule, as in `session::decode` and `load_live` in Lua: a
/// session lives while its idle time is within its ttl. One whose last
/// activity is not a finite number cannot be indexed, so it is not copied.
fn is_live(fields: &Fields, now: f64) -> bool {
    let la = to_number(field(fields, "la"));
    field(fields, "id").is_some() && la.is_finite() && to_number(field(fields, "ttl")) >= now - la
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
                let imported = target.import(app, token, id, fields, expires, now).await?;
                Ok::<_, SessionError>((*app, *token, imported))
            });
        let mut step = Step {
            cursor: next,
            moved: Vec::new(),
            skipped: 0,
            present: 0,
        };
        for (app, old, imported) in try_join_all(copies).await? {
            match imported {
                Imported::Copied(new) => step.moved.push(Moved {
                    app: app.to_owned(),
                    old: old.to_owned(),
                    new,
                }),
                Imported::CopiedBefore => step.skipped += 1,
                Imported::Present => step.present += 1,
            }
        }
        Ok(step)
    }

    /// Writes a session as it was, with its indexes, under its token marked
    /// with its bucket, unless it was copied before or its key is taken.
    async fn import(
        &self,
        app: &str,
        old: &str,
        id: &str,
        fields: &Fields,
        expires: &str,
        now: f64,
    ) -> Result<Imported> {
        let keys = self.layout.for_id(id);
        let mut token = old.to_owned();
        self.layout.mark_token(&mut token, id);
        let la = number_to_string(to_number(field(fields, "la")));
        let mut invocation = IMPORT.prepare_invoke();
        invocation
            .key(record_key(keys, app, old))
            .key(keys.session(app, &token))
            .key(keys.app_sessions(app))
            .key(keys.app_users(app))
            .key(keys.all_sessions())
            .key(keys.user_sessions(app, id))
            .arg(record_expiry(expires, now))
            .arg(expires)
            .arg(la)
            .arg(&token)
            .arg(id)
            .arg(app);
        for (name, value) in fields {
            invocation.arg(name).arg(value);
        }
        let outcome: i64 = self
            .exec(async |conn| invocation.invoke_async(conn).await)
            .await?;
        Ok(match outcome {
            1 => Imported::Copied(token),
            0 => Imported::CopiedBefore,
            _ => Imported::Present,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_lives_until_the_session_could_expire_and_never_in_the_past() {
        assert_eq!(record_expiry("1700003600", 1_700_000_000.0), "1700003600");
        assert_eq!(record_expiry("1700003600.2", 1_700_000_000.0), "1700003601");
        assert_eq!(record_expiry("1699999000", 1_700_000_000.0), "1700000001");
        assert_eq!(record_expiry("inf", 1_700_000_000.0), "253402300799");
        assert_eq!(record_expiry("garbage", 1_700_000_000.0), "253402300799");
    }

    #[test]
    fn the_record_shares_the_slot_of_the_session() {
        let layout = Layout::cluster("rs");
        let keys = layout.for_id("alice");
        let record = record_key(keys, "app", &"T".repeat(64));
        assert!(record.starts_with(keys.prefix()));
        assert_eq!(
            record,
            format!("{}app:_migrated:{}", keys.prefix(), "T".repeat(64))
        );
    }
}
