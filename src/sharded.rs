//! Session events over sharded pub/sub (cluster mode, Redis 7 and later):
//! the scripts SPUBLISH each event on its bucket's channel `{NS:B:K}:events`
//! (`lua/flags.lua`), in the slot of the keys they change, so an event
//! travels to that shard's nodes only instead of to every node of the
//! cluster as a PUBLISH does. This subscribes to all 64 of them on one RESP3
//! cluster connection; redis-rs sends each SSUBSCRIBE to the master owning
//! its slot. A lost node (a killed master, before its replica takes over)
//! starts it over from the seeds, all 64 again; when a slot moves
//! (resharding, failover) its old owner drops the channel's subscribers with
//! an `sunsubscribe` push, and the channel is subscribed again, where it is
//! now.
//!
//! On Redis before 7 the scripts PUBLISH on `ns:events` as in standalone
//! mode (`subscriber.rs` listens there in every mode), and this gives up at
//! its first SSUBSCRIBE refused. Delivery is at most once, as on `ns:events`.

use std::time::Duration;

use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, Value};
use tokio::task::AbortHandle;

use crate::connection::Connection;
use crate::events;
use crate::layout::Layout;
use crate::subscriber::SessionListener;

const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Starts on the current tokio runtime; `None` outside cluster mode.
pub fn start(
    conn: std::sync::Arc<Connection>,
    layout: &Layout,
    listener: SessionListener,
) -> Option<AbortHandle> {
    if !layout.is_cluster() {
        return None;
    }
    let channels: Vec<String> = layout
        .all()
        .iter()
        .map(|keys| keys.events_channel())
        .collect();
    Some(
        tokio::spawn(async move {
            let mut delay = RETRY_MIN;
            loop {
                let (pushes, mut heard) = tokio::sync::mpsc::unbounded_channel();
                match subscribe(&conn, pushes, &channels).await {
                    Subscribed::Yes(mut pubsub) => {
                        delay = RETRY_MIN;
                        while let Some(push) = heard.recv().await {
                            match push.kind {
                                PushKind::SMessage => {
                                    if let Some(event) = text(&push, 1).and_then(events::parse) {
                                        listener(event);
                                    }
                                }
                                // The slot moved (resharding, failover): the
                                // old owner drops its subscribers. Asked
                                // again, the stale route answers MOVED and
                                // redis-rs reads the slots anew.
                                PushKind::SUnsubscribe => {
                                    if let Some(channel) = text(&push, 0) {
                                        resubscribe(&mut pubsub, channel).await;
                                    }
                                }
                                // A node is gone (a master killed, a
                                // failover coming): redis-rs would only try
                                // it again, so start over from the seeds.
                                PushKind::Disconnection => break,
                                _ => {}
                            }
                        }
                    }
                    // Redis before 7: the scripts PUBLISH, ns:events has it all.
                    Subscribed::Unsupported => return,
                    Subscribed::Failed => {}
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
            }
        })
        .abort_handle(),
    )
}

enum Subscribed {
    /// Holding the connection keeps the subscriptions (and the pushes) alive.
    Yes(ClusterConnection),
    Unsupported,
    Failed,
}

/// One SSUBSCRIBE per channel: a command's shard channels must share a slot.
async fn subscribe(
    conn: &Connection,
    pushes: tokio::sync::mpsc::UnboundedSender<PushInfo>,
    channels: &[String],
) -> Subscribed {
    let Some(Ok(mut pubsub)) = conn.sharded_pubsub(pushes).await else {
        return Subscribed::Failed;
    };
    for channel in channels {
        match pubsub.ssubscribe(channel).await {
            Ok(()) => {}
            // Unknown command: the scripts PUBLISH there.
            Err(err) if matches!(err.kind(), redis::ErrorKind::Server(_)) => {
                return Subscribed::Unsupported;
            }
            Err(_) => return Subscribed::Failed,
        }
    }
    Subscribed::Yes(pubsub)
}

/// Until the new owner of the channel's slot has it, or for about 10 s.
async fn resubscribe(pubsub: &mut ClusterConnection, channel: &str) {
    let mut delay = RETRY_MIN;
    for _ in 0..8 {
        if pubsub.ssubscribe(channel).await.is_ok() {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(RETRY_MAX);
    }
}

/// The `at`-th text of a push (a channel, a payload).
fn text(push: &PushInfo, at: usize) -> Option<&str> {
    match push.data.get(at)? {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        _ => None,
    }
}
