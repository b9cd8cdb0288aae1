//! One multiplexed Redis connection per instance (per node in a cluster),
//! opened on first use. Standalone, redis-rs reopens it after a drop; behind
//! Sentinel or in a cluster a failed command makes the next call open a new
//! one, since the old address may lead to a dead or demoted node. Concurrent
//! calls share it, so their commands are pipelined onto one socket.
//!
//! A command that times out is no proof the connection is lost (Redis may be
//! busy), but a half-open one (a NAT or load balancer forgot it) times out
//! forever and redis-rs never reopens it. So the watcher then checks it with
//! a PING and replaces it when that gets no answer either.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::config::Config;
use crate::error::{Result, SessionError};
use crate::hosted::Dialer;
use crate::source::{Link, Source};

/// What the connection tells its owner, once per change of state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    Connect,
    /// With what failed.
    Disconnect(String),
}

pub type Listener = Arc<dyn Fn(ConnectionEvent) + Send + Sync>;

/// The longest a health-check PING may take before its connection counts as
/// dead; shorter when the command timeout is.
const PING_DEADLINE_MAX: Duration = Duration::from_secs(1);

/// The shared connection, numbered so that a failure seen on an older one
/// does not throw away its replacement.
#[derive(Clone)]
pub struct Conn {
    link: Link,
    generation: u64,
}

impl Conn {
    /// Closes a hosted connection's socket; redis-rs closes its own when dropped.
    fn close(&self) {
        if let Link::Hosted(conn) = &self.link {
            conn.close();
        }
    }

    fn has_ended(&self) -> bool {
        matches!(&self.link, Link::Hosted(conn) if conn.has_ended())
    }

    /// Why a hosted connection's socket ended, once it has.
    fn end(&self) -> Option<String> {
        match &self.link {
            Link::Hosted(conn) => conn.end(),
            _ => None,
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.link {
            Link::Single(conn) => conn.req_packed_command(cmd),
            Link::Cluster(conn) => conn.req_packed_command(cmd),
            Link::Hosted(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.link {
            Link::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Link::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
            Link::Hosted(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Single(conn) => conn.get_db(),
            Link::Cluster(conn) => conn.get_db(),
            Link::Hosted(conn) => conn.get_db(),
        }
    }
}

pub struct Connection {
    source: Source,
    /// Where it connects, for messages.
    describe: String,
    current: Mutex<Option<Conn>>,
    /// A connection a command timed out on, for the watcher to check.
    suspect: Mutex<Option<Conn>>,
    wake_watcher: tokio::sync::Notify,
    generations: AtomicU64,
    /// Held while connecting; holds the failure of the last attempt, so the
    /// callers that queued behind it share it instead of each waiting a timeout.
    connecting: tokio::sync::Mutex<Option<(Instant, SessionError)>>,
    closed: AtomicBool,
    up: AtomicBool,
    /// Dropped at close, releasing whatever it holds on the other side.
    listener: Mutex<Option<Listener>>,
}

impl Connection {
    /// With a `dialer`, a standalone Redis without TLS is reached through
    /// the host's sockets (`hosted.rs`).
    pub fn new(
        config: &Config,
        listener: Option<Listener>,
        dialer: Option<Arc<dyn Dialer>>,
    ) -> Result<Self> {
        Ok(Self {
            source: Source::new(&config.target, config.connection, dialer)?,
            describe: config.target.describe(),
            current: Mutex::new(None),
            suspect: Mutex::new(None),
            wake_watcher: tokio::sync::Notify::new(),
            generations: AtomicU64::new(0),
            connecting: tokio::sync::Mutex::new(None),
            closed: AtomicBool::new(false),
            up: AtomicBool::new(false),
            listener: Mutex::new(listener),
        })
    }

    /// The shared connection, unless there is none or its socket has ended
    /// (a hosted one does not reopen itself: the next call opens another).
    fn current(&self) -> Option<Conn> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .filter(|conn| !conn.has_ended())
    }

    /// The shared connection, waiting up to the connect timeout for the first one.
    pub async fn get(&self) -> Result<Conn> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SessionError::Closed);
        }
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        // Boxed: opening a connection is a future of kilobytes that every
        // operation's future would otherwise carry (and copy) on every call.
        Box::pin(self.open()).await
    }

    async fn open(&self) -> Result<Conn> {
        let queued_at = Instant::now();
        let mut last_failure = self.connecting.lock().await;
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        if let Some((failed_at, err)) = last_failure.as_ref() {
            if *failed_at >= queued_at {
                return Err(err.clone());
            }
        }
        let connect_timeout = self.connect_timeout();
        let outcome = match tokio::time::timeout(connect_timeout, self.source.connect()).await {
            Ok(Ok(link)) => Ok(Conn {
                link,
                generation: self.generations.fetch_add(1, Ordering::AcqRel) + 1,
            }),
            Ok(Err(err)) => Err(SessionError::Connection(err.to_string())),
            Err(_) => Err(SessionError::Connection(format!(
                "no connection to {} within {} ms",
                self.describe,
                connect_timeout.as_millis()
            ))),
        };
        self.record(None, &outcome);
        let mut conn =
            outcome.inspect_err(|err| *last_failure = Some((Instant::now(), err.clone())))?;
        load_scripts(&mut conn).await;
        if self.closed.load(Ordering::Acquire) {
            return Err(SessionError::Closed);
        }
        let replaced = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(conn.clone());
        if let Some(replaced) = replaced {
            replaced.close();
        }
        Ok(conn)
    }

    /// Runs one exchange on the shared connection, noting what it says about it.
    pub async fn exec<T>(
        &self,
        exchange: impl AsyncFnOnce(&mut Conn) -> redis::RedisResult<T>,
    ) -> Result<T> {
        let mut conn = self.get().await?;
        let outcome = exchange(&mut conn).await;
        if outcome.as_ref().is_err_and(redis::RedisError::is_timeout) {
            self.suspect(conn);
            return outcome.map_err(SessionError::from);
        }
        let outcome = outcome.map_err(SessionError::from);
        self.record(Some(&conn), &outcome);
        outcome
    }

    /// Has the watcher check `conn` at once.
    fn suspect(&self, conn: Conn) {
        *self.suspect.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn);
        self.wake_watcher.notify_one();
    }

    /// Has the watcher check the current connection, when another one to the
    /// same Redis (the cache's subscriber) stopped answering.
    pub fn suspect_current(&self) {
        if let Some(conn) = self.current() {
            self.suspect(conn);
        }
    }

    /// How long a call waits for a connection, whatever redis-rs retries meanwhile.
    pub fn connect_timeout(&self) -> Duration {
        self.source.settings().connect_timeout
    }

    /// How long a health-check PING may take.
    pub fn ping_deadline(&self) -> Duration {
        self.source
            .settings()
            .command_timeout
            .min(PING_DEADLINE_MAX)
    }

    /// PINGs `conn`; when that fails or gets no answer in time, replaces it,
    /// so the next call opens a new connection.
    async fn check(&self, mut conn: Conn) {
        if !self.is_current(conn.generation) {
            return;
        }
        let ping = redis::cmd("PING");
        let pong = ping.query_async::<Value>(&mut conn);
        let ping_deadline = self.ping_deadline();
        let failure = match tokio::time::timeout(ping_deadline, pong).await {
            Ok(Ok(_)) => None,
            Ok(Err(err)) => match SessionError::from(err) {
                SessionError::Connection(message) => Some(message),
                // A refusal (NOAUTH, LOADING) still comes from a live connection.
                _ => None,
            },
            Err(_) => Some(format!(
                "no answer from {} to PING within {} ms",
                self.describe,
                ping_deadline.as_millis()
            )),
        };
        if let Some(message) = failure {
            if self.drop_current(conn.generation) {
                self.mark_down(&message);
            }
        }
    }

    fn is_current(&self, generation: u64) -> bool {
        self.current()
            .is_some_and(|conn| conn.generation == generation)
    }

    /// Drops the current connection if it is still that generation's.
    fn drop_current(&self, generation: u64) -> bool {
        let dropped = {
            let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            if current
                .as_ref()
                .is_some_and(|conn| conn.generation == generation)
            {
                current.take()
            } else {
                None
            }
        };
        match dropped {
            Some(dropped) => {
                dropped.close();
                true
            }
            None => false,
        }
    }

    /// Notes what a command's outcome on `used` says about the connection,
    /// telling the listener when that changes. A failure on a connection that
    /// was already replaced says nothing about the current one.
    pub fn record<T>(&self, used: Option<&Conn>, outcome: &Result<T>) {
        match outcome {
            Ok(_) => self.mark_up(),
            Err(SessionError::Connection(message)) => {
                if used.is_none_or(|conn| self.forget_current(conn.generation)) {
                    self.mark_down(message);
                }
            }
            Err(_) => {}
        }
    }

    /// Behind Sentinel or in a cluster, drops the connection that failed, so
    /// the next call asks again where the master is or which node serves
    /// which slots. False when a newer connection has replaced it already.
    fn forget_current(&self, generation: u64) -> bool {
        let (forgotten, failed) = {
            let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            match current.as_ref() {
                Some(conn) if conn.generation != generation => (false, None),
                Some(_) if self.source.replaces_failed_links() => (true, current.take()),
                Some(_) => (true, None),
                None => (!self.source.replaces_failed_links(), None),
            }
        };
        // Closed once the lock is let go: a hosted socket's close calls into JavaScript.
        if let Some(failed) = failed {
            failed.close();
        }
        forgotten
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

    /// Whether its socket is the host's (`crate::hosted`).
    pub fn is_hosted(&self) -> bool {
        self.source.is_hosted()
    }

    pub fn is_connected(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// While the connection is down, pings it every `every` so the owner
    /// hears `Connect` as soon as Redis is back, with or without traffic.
    /// Also makes the first connection without waiting for a first call, and
    /// checks at once a connection that a command timed out on.
    pub async fn watch(&self, every: Duration) {
        loop {
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            let suspect = self
                .suspect
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(conn) = suspect {
                self.check(conn).await;
            }
            self.notice_end();
            if !self.is_connected() {
                let _ = self
                    .exec(async |conn| redis::cmd("PING").query_async::<Value>(conn).await)
                    .await;
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = self.wake_watcher.notified() => {}
            }
        }
    }

    /// A hosted connection whose socket ended while idle (Redis restarted,
    /// its `timeout`, a load balancer) is let go and said to be down; the
    /// watcher then reopens it, as redis-rs does its own.
    fn notice_end(&self) {
        let ended = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|conn| Some((conn.generation, conn.end()?)));
        if let Some((generation, why)) = ended {
            if self.drop_current(generation) {
                self.mark_down(&why);
            }
        }
    }

    /// A client for the current master, for connections of their own (pub/sub).
    pub async fn client(&self) -> Result<redis::Client> {
        self.source.client().await.map_err(SessionError::from)
    }

    /// In cluster mode, a connection for sharded pub/sub (`sharded.rs`).
    pub async fn sharded_pubsub(
        &self,
        pushes: tokio::sync::mpsc::UnboundedSender<redis::PushInfo>,
    ) -> Option<Result<redis::cluster_async::ClusterConnection>> {
        let conn = self.source.sharded_pubsub(pushes).await?;
        Some(conn.map_err(SessionError::from))
    }

    /// Drops the connection; later calls answer `Closed`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.source.close();
        let current = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(conn) = current {
            conn.close();
        }
        self.suspect
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
    match conn.link {
        Link::Single(_) | Link::Hosted(_) => {
            let mut load = redis::pipe();
            for source in crate::scripts::ALL {
                load.cmd("SCRIPT").arg("LOAD").arg(*source).ignore();
            }
            let _: redis::RedisResult<()> = load.query_async(conn).await;
        }
        // A pipeline goes to one node; a lone SCRIPT LOAD goes to every node.
        Link::Cluster(_) => {
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
