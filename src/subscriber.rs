//! Keeps the cache honest: subscribes to `ns:cache` and has it drop each
//! `APP:TOKEN` it hears, from this or any other instance or program. While
//! unsubscribed the cache is off, so it never serves what it may have missed.
//!
//! A subscription that was silently lost (a NAT or load balancer forgot the
//! socket) looks exactly like a quiet channel, so it is PINGed every
//! `HEALTH_CHECK_EVERY`; no answer in time counts as lost.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::task::AbortHandle;

use crate::cache::Invalidations;
use crate::connection::Connection;

const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
const HEALTH_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Starts on the current tokio runtime.
pub fn start(conn: Arc<Connection>, channel: String, cache: Arc<Invalidations>) -> AbortHandle {
    tokio::spawn(async move {
        let mut delay = RETRY_MIN;
        loop {
            let connect = async {
                let mut pubsub = conn.client().await?.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                crate::Result::Ok(pubsub)
            };
            if let Ok(Ok(pubsub)) = tokio::time::timeout(conn.connect_timeout(), connect).await {
                delay = RETRY_MIN;
                cache.set_serving(true);
                let (sink, messages) = pubsub.split();
                listen(sink, messages, &cache, conn.ping_deadline()).await;
                cache.set_serving(false);
                // The shared connection goes the same way to the same Redis.
                conn.suspect_current();
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX);
        }
    })
    .abort_handle()
}

/// Drops each key it hears until the subscription ends or stops answering.
async fn listen(
    mut sink: PubSubSink,
    mut messages: PubSubStream,
    cache: &Invalidations,
    ping_deadline: Duration,
) {
    let mut health_checks = tokio::time::interval_at(
        tokio::time::Instant::now() + HEALTH_CHECK_EVERY,
        HEALTH_CHECK_EVERY,
    );
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { return };
                if let Ok(key) = std::str::from_utf8(message.get_payload_bytes()) {
                    cache.forget(key.to_owned());
                }
            }
            _ = health_checks.tick() => {
                let pong = tokio::time::timeout(ping_deadline, sink.ping::<redis::Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}
