//! The periodic wipe of expired sessions, in bounded batches, by one instance
//! of the fleet per period.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;

use crate::clock::{now_millis, now_secs};
use crate::connection::Connection;
use crate::error::Result;
use crate::layout::Layout;
use crate::scripts;

/// How many expired sessions one wipe step removes; each step is one atomic script.
const BATCH: usize = 500;

/// Starts the periodic wipe on the current tokio runtime.
/// `flags`: the scripts' optional last argument (events), `store::Flags`.
pub fn start(
    conn: Arc<Connection>,
    layout: Layout,
    every: Duration,
    flags: Option<String>,
) -> AbortHandle {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            ticks.tick().await;
            // A failed wipe is retried next period; the sessions stay invisible meanwhile.
            let _ = wipe_once(&conn, &layout, every, flags.as_deref()).await;
        }
    })
    .abort_handle()
}

/// Removes every session whose expiry has passed, bucket by bucket in
/// cluster mode. Returns how many expired entries it went through, or `None`
/// when another instance holds this period's lock.
pub async fn wipe_once(
    conn: &Connection,
    layout: &Layout,
    period: Duration,
    flags: Option<&str>,
) -> Result<Option<usize>> {
    let lock_ms = u64::try_from(period.as_millis().saturating_sub(500))
        .unwrap_or(u64::MAX)
        .max(1);
    conn.exec(async |redis| {
        let locked: Option<String> = redis::cmd("SET")
            .arg(layout.base().wipe_lock())
            .arg(now_millis())
            .arg("NX")
            .arg("PX")
            .arg(lock_ms)
            .query_async(redis)
            .await?;
        if locked.is_none() {
            return Ok(None);
        }
        let mut total = 0;
        for keys in layout.all() {
            loop {
                let channel = layout.base().cache_channel();
                let seen: usize = scripts::wipe(keys, now_secs(), &channel, BATCH, flags)
                    .invoke_async(redis)
                    .await?;
                total += seen;
                if seen < BATCH {
                    break;
                }
            }
        }
        Ok(Some(total))
    })
    .await
}
