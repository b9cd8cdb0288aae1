//! One pub/sub connection per instance, for what it listens to: the cache
//! channel `ns:cache` (the cache forgets each `APP:NAME` heard, from this or
//! any other instance or program; while unsubscribed the cache is off, so it
//! never serves what it may have missed) and, with `events`, the
//! events channel `ns:events` (each event heard goes to JavaScript; while
//! unsubscribed events are missed: delivery is at most once).
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
use crate::events::{self, SessionEvent};

const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
const HEALTH_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Where session events go (JavaScript's `'session'`).
pub type SessionListener = Arc<dyn Fn(SessionEvent) + Send + Sync>;

/// What to subscribe to: each a channel and what hears it.
#[derive(Default)]
pub struct Subscriptions {
    pub cache: Option<(String, Arc<Invalidations>)>,
    pub events: Option<(String, SessionListener)>,
}

impl Subscriptions {
    fn channels(&self) -> Vec<&str> {
        let cache = self.cache.as_ref().map(|(channel, _)| channel.as_str());
        let events = self.events.as_ref().map(|(channel, _)| channel.as_str());
        cache.into_iter().chain(events).collect()
    }

    fn set_serving(&self, serving: bool) {
        if let Some((_, cache)) = &self.cache {
            cache.set_serving(serving);
        }
    }

    fn hear(&self, channel: &str, payload: &str) {
        match (&self.cache, &self.events) {
            (Some((name, cache)), _) if name == channel => cache.forget_stored(payload),
            (_, Some((name, listener))) if name == channel => {
                if let Some(event) = events::parse(payload) {
                    listener(event);
                }
            }
            _ => {}
        }
    }
}

/// Starts on the current tokio runtime.
pub fn start(conn: Arc<Connection>, subscriptions: Subscriptions) -> AbortHandle {
    tokio::spawn(async move {
        let mut delay = RETRY_MIN;
        loop {
            let connect = async {
                let mut pubsub = conn.client().await?.get_async_pubsub().await?;
                pubsub.subscribe(subscriptions.channels()).await?;
                crate::Result::Ok(pubsub)
            };
            if let Ok(Ok(pubsub)) = tokio::time::timeout(conn.connect_timeout(), connect).await {
                delay = RETRY_MIN;
                subscriptions.set_serving(true);
                let (sink, messages) = pubsub.split();
                listen(sink, messages, &subscriptions, conn.ping_deadline()).await;
                subscriptions.set_serving(false);
                // The shared connection goes the same way to the same Redis.
                conn.suspect_current();
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX);
        }
    })
    .abort_handle()
}

/// Hands on each message until the subscription ends or stops answering.
async fn listen(
    mut sink: PubSubSink,
    mut messages: PubSubStream,
    subscriptions: &Subscriptions,
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
                if let Ok(payload) = std::str::from_utf8(message.get_payload_bytes()) {
                    subscriptions.hear(message.get_channel_name(), payload);
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
