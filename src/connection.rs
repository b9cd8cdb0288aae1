//! One multiplexed Redis connection per instance (per node in a cluster),
//! opened on first use and reopened by redis-rs after a drop. Concurrent calls
//! share it, so their commands are pipelined onto one socket.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::config::Config;
use crate::error::{Result, SessionError};
use crate::target::Source;

/// What the connection tells its owner, once per change of state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    Connect,
    /// With what failed.
    Disconnect(String),
}

pub type Listener = Arc<dyn Fn(ConnectionEvent) + Send + Sync>;

/// A connection to one Redis, or to a cluster that routes each command by its key.
#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

pub struct Connection {
    source: Source,
    /// Where it connects, for messages.
    describe: String,
    manager_config: ConnectionManagerConfig,
    connect_timeout: std::time::Duration,
    current: Mutex<Option<Conn>>,
    /// Held while connecting; holds the failure of the last attempt, so the
    /// callers that queued behind it share it instead of each waiting a timeout.
    connecting: tokio::sync::Mutex<Option<(Instant, SessionError)>>,
    closed: AtomicBool,
    up: AtomicBool,
    /// Dropped at close, releasing whatever it holds on the other side.
    listener: Mutex<Option<Listener>>,
}

impl Connection {
    pub fn new(config: &Config, listener: Option<Listener>) -> Result<Self> {
        let source = Source::new(
            &config.target,
            config.connect_timeout,
            config.command_timeout,
        )?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.command_timeout))
            .set_number_of_retries(2)
            .set_max_delay(std::time::Duration::from_millis(500));
        Ok(Self {
            source,
            describe: config.target.describe(),
            manager_config,
            connect_timeout: config.connect_timeout,
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(None),
            closed: AtomicBool::new(false),
            up: AtomicBool::new(false),
            listener: Mutex::new(listener),
        })
    }

    fn current(&self) -> Option<Conn> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The shared connection, waiting up to the connect timeout for the first one.
    pub async fn get(&self) -> Result<Conn> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SessionError::Closed);
        }
        if let Some(manager) = self.current() {
            return Ok(manager);
        }
        let queued_at = Instant::now();
        let mut last_failure = self.connecting.lock().await;
        if let Some(manager) = self.current() {
            return Ok(manager);
        }
        if let Some((failed_at, err)) = last_failure.as_ref() {
            if *failed_at >= queued_at {
                return Err(err.clone());
            }
        }
        let connect = async {
            if let Source::Cluster { client, .. } = &self.source {
                return client.get_async_connection().await.map(Conn::Cluster);
            }
            let client = self.source.client().await?;
            ConnectionManager::new_with_config(client, self.manager_config.clone())
                .await
                .map(Conn::Single)
        };
        let outcome = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(manager)) => Ok(manager),
            Ok(Err(err)) => Err(SessionError::Connection(err.to_string())),
            Err(_) => Err(SessionError::Connection(format!(
                "no connection to {} within {} ms",
                self.describe,
                self.connect_timeout.as_millis()
            ))),
        };
        self.record(&outcome);
        let mut manager =
            outcome.inspect_err(|err| *last_failure = Some((Instant::now(), err.clone())))?;
        load_scripts(&mut manager).await;
        if self.closed.load(Ordering::Acquire) {
            return Err(SessionError::Closed);
        }
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(manager.clone());
        Ok(manager)
    }

    /// Notes what a command's outcome says about the connection, telling the
    /// listener when that changes.
    pub fn record<T>(&self, outcome: &Result<T>) {
        match outcome {
            Ok(_) => self.mark_up(),
            Err(SessionError::Connection(message)) => {
                self.forget_master();
                self.mark_down(message);
            }
            Err(SessionError::Redis(message)) if message.contains("READONLY") => {
                self.forget_master();
            }
            Err(_) => {}
        }
    }

    /// After a failover the old address leads nowhere, or to a replica:
    /// the next call asks the Sentinels again.
    fn forget_master(&self) {
        if self.source.follows_failover() {
            self.current
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
        }
    }

    fn tell(&self, event: ConnectionEvent) {
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(listener) = listener {
            listener(event);
        }
    }

    fn mark_up(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            self.tell(ConnectionEvent::Connect);
        }
    }

    fn mark_down(&self, message: &str) {
        if self.up.swap(false, Ordering::AcqRel) {
            self.tell(ConnectionEvent::Disconnect(message.to_owned()));
        }
    }

    pub fn is_connected(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// While the connection is down, pings it every `every` so the owner
    /// hears `Connect` as soon as Redis is back, with or without traffic.
    /// Also makes the first connection without waiting for a first call.
    pub async fn watch(&self, every: std::time::Duration) {
        loop {
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            if !self.is_connected() {
                if let Ok(mut manager) = self.get().await {
                    let pong: redis::RedisResult<String> =
                        redis::cmd("PING").query_async(&mut manager).await;
                    self.record(&pong.map_err(SessionError::from));
                }
            }
            tokio::time::sleep(every).await;
        }
    }

    /// A client for the current master, for connections of their own (pub/sub).
    pub async fn client(&self) -> Result<redis::Client> {
        self.source.client().await.map_err(SessionError::from)
    }

    /// Drops the connection; later calls answer `Closed`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.mark_down("quit");
        self.listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// Loads every script, so that even the first call of each is one EVALSHA.
/// Best effort: a script that is not loaded is loaded on first use.
async fn load_scripts(conn: &mut Conn) {
    match conn {
        Conn::Single(_) => {
            let mut load = redis::pipe();
            for source in crate::scripts::ALL {
                load.cmd("SCRIPT").arg("LOAD").arg(*source).ignore();
            }
            let _: redis::RedisResult<()> = load.query_async(conn).await;
        }
        // A pipeline goes to one node; a lone SCRIPT LOAD goes to every node.
        Conn::Cluster(_) => {
            for source in crate::scripts::ALL {
                let _: redis::RedisResult<Value> = redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(*source)
                    .query_async(conn)
                    .await;
            }
        }
    }
}
