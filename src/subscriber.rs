//! Keeps the cache honest: subscribes to `ns:cache` and drops each
//! `APP:TOKEN` it hears, from this or any other instance or program. While
//! unsubscribed the cache is off, so it never serves what it may have missed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::task::AbortHandle;

use crate::cache::SessionCache;
use crate::connection::Connection;

const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Starts on the current tokio runtime.
pub fn start(
    conn: Arc<Connection>,
    channel: String,
    cache: Arc<SessionCache>,
    connect_timeout: Duration,
) -> AbortHandle {
    tokio::spawn(async move {
        let mut delay = RETRY_MIN;
        loop {
            let connect = async {
                let mut pubsub = conn.client().await?.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                crate::Result::Ok(pubsub)
            };
            if let Ok(Ok(pubsub)) = tokio::time::timeout(connect_timeout, connect).await {
                delay = RETRY_MIN;
                cache.set_serving(true);
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    if let Ok(key) = std::str::from_utf8(message.get_payload_bytes()) {
                        cache.remove(key);
                    }
                }
                cache.set_serving(false);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX);
        }
    })
    .abort_handle()
}
