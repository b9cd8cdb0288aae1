//! A Redis connection whose socket the host's event loop drives: Node's
//! `net.Socket` reads and writes, this module frames the commands and
//! matches each reply to its request, and the operation itself runs on the
//! JavaScript thread (`node/settle.rs`).
//!
//! Why: through redis-rs on the engine's thread, a call one at a time costs
//! three thread sleep/wake cycles (JavaScript wakes the engine's thread,
//! Redis wakes it, it wakes JavaScript) where a JavaScript client pays one
//! (Redis wakes JavaScript). On a small machine those wake-ups were most of
//! a call's time and CPU (`benchmark/NOTES.md`).
//!
//! Opt-in (`REDIS_SESSIONS_NODE_SOCKETS`): it costs less CPU one call at a
//! time and more at a hundred in flight, where every request is its own
//! write (README, How it works).
//!
//! Used for a standalone Redis over plain TCP or a Unix socket; TLS,
//! Sentinel and Cluster keep redis-rs's connections. What the host must do
//! is the `Wire` and `Dialer` traits: the engine holds no napi type.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value, ValueCodec};
use tokio::sync::oneshot;
use tokio_util::codec::Decoder;

/// Where the host should connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Tcp { host: String, port: u16 },
    Unix { path: String },
}

/// The host's socket, seen from the engine. Either method may be called
/// from any thread; the host does the work on its own.
pub trait Wire: Send + Sync {
    /// Writes what `Hosted::take_outgoing` holds, now or soon.
    fn flush(&self);
    /// Closes the socket; its end is then reported through `Hosted::ended`.
    fn close(&self);
    /// Has the host's thread call `Hosted::turned` when it is free, or at
    /// once if it never will be again (its environment has ended).
    fn heartbeat(&self);
}

/// Opens the host's sockets.
pub trait Dialer: Send + Sync {
    /// Opens a socket to `address` that reports to `to` (`connected`,
    /// `received`, `ended`), with TCP keepalive after `keep_alive` idle.
    fn dial(&self, address: &Address, keep_alive: Duration, to: &Arc<Hosted>) -> Arc<dyn Wire>;
}

/// One request's place in line: the replies it skips (a transaction's
/// queued answers), the ones it wants, and who waits for them. A request
/// whose caller gave up (timed out) keeps its place, so that its replies,
/// when they come, are not taken for the next one's.
struct Pending {
    skip: usize,
    want: usize,
    got: Vec<Value>,
    skipped_error: Option<Value>,
    waiter: Option<oneshot::Sender<RedisResult<Vec<Value>>>>,
    deadline: Instant,
}

#[derive(Default)]
struct State {
    outgoing: Vec<u8>,
    pending: VecDeque<Pending>,
    buffer: BytesMut,
    codec: ValueCodec,
    /// Why the socket is gone, once it is.
    ended: Option<String>,
    /// Whoever waits for the socket to connect.
    connecting: Option<oneshot::Sender<Result<(), String>>>,
}

pub struct Hosted {
    state: Mutex<State>,
    wire: Mutex<Option<Arc<dyn Wire>>>,
    command_timeout: Duration,
    /// When the host's thread last said it was free (`Wire::heartbeat`): a
    /// request is only late once the host could have read its reply.
    turned: Mutex<Option<Instant>>,
}

/// A lost connection, as redis-rs reports one (`is_connection_dropped`).
fn dropped(why: &str) -> RedisError {
    io::Error::new(io::ErrorKind::ConnectionReset, why.to_owned()).into()
}

fn timed_out(timeout: Duration) -> RedisError {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no answer from Redis within {} ms", timeout.as_millis()),
    )
    .into()
}

type Answer = (
    oneshot::Sender<RedisResult<Vec<Value>>>,
    RedisResult<Vec<Value>>,
);

impl Hosted {
    fn new(command_timeout: Duration) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wire: Mutex::new(None),
            command_timeout,
            turned: Mutex::new(None),
        }
    }

    /// The host's thread was free now (`Wire::heartbeat`).
    pub fn turned(&self) {
        *self.turned.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wire(&self) -> Option<Arc<dyn Wire>> {
        self.wire
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Opens a socket through `dialer` and waits until it is connected (the
    /// caller bounds the wait), then authenticates and selects `db`.
    pub async fn open(
        dialer: &dyn Dialer,
        address: &Address,
        keep_alive: Duration,
        command_timeout: Duration,
        credentials: &redis::RedisConnectionInfo,
    ) -> RedisResult<HostedConn> {
        let hosted = Arc::new(Self::new(command_timeout));
        let (connected, connecting) = oneshot::channel();
        hosted.state().connecting = Some(connected);
        let wire = dialer.dial(address, keep_alive, &hosted);
        *hosted.wire.lock().unwrap_or_else(PoisonError::into_inner) = Some(wire);
        // Closes the socket if this future is dropped (the connect timeout) or fails.
        let guard = CloseOnDrop(Some(Arc::clone(&hosted)));
        match connecting.await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => return Err(refused(&why)),
            Err(_) => return Err(dropped("the socket was dropped while connecting")),
        }
        tokio::spawn(expire_late_requests(Arc::downgrade(&hosted)));
        let mut conn = HostedConn {
            hosted: Arc::clone(&hosted),
            db: credentials.db(),
            _closes: Arc::new(CloseOnDrop(Some(Arc::clone(&hosted)))),
        };
        if let Some(password) = credentials.password() {
            authenticate(&mut conn, credentials.username(), password).await?;
        }
        if credentials.db() != 0 {
            redis::cmd("SELECT")
                .arg(credentials.db())
                .query_async::<()>(&mut conn)
                .await?;
        }
        let mut guard = guard;
        guard.0 = None;
        Ok(conn)
    }

    /// The host calls this when the socket has connected.
    pub fn connected(&self) {
        if let Some(waiter) = self.state().connecting.take() {
            let _ = waiter.send(Ok(()));
        }
    }

    /// What to write now, for the host's `Wire::flush`.
    pub fn take_outgoing(&self) -> Vec<u8> {
        std::mem::take(&mut self.state().outgoing)
    }

    /// The host hands over what the socket read: every complete reply
    /// answers its request, in order.
    pub fn received(&self, bytes: &[u8]) {
        let mut answers = Vec::new();
        let broken = {
            let mut state = self.state();
            state.buffer.extend_from_slice(bytes);
            loop {
                let State { buffer, codec, .. } = &mut *state;
                match codec.decode(buffer) {
                    Ok(Some(value)) => state.answer(value, &mut answers),
                    Ok(None) => break None,
                    Err(err) => break Some(format!("unreadable reply from Redis: {err}")),
                }
            }
        };
        for (waiter, answer) in answers {
            let _ = waiter.send(answer);
        }
        if let Some(why) = broken {
            self.ended(&why);
            self.close();
        }
    }

    /// The host calls this when the socket failed or closed: every request
    /// waiting fails, and so does every later one on this connection.
    pub fn ended(&self, why: &str) {
        let (waiters, connecting) = {
            let mut state = self.state();
            if state.ended.is_none() {
                state.ended = Some(why.to_owned());
            }
            let waiters: Vec<_> = state
                .pending
                .drain(..)
                .filter_map(|mut pending| pending.waiter.take())
                .collect();
            (waiters, state.connecting.take())
        };
        if let Some(connecting) = connecting {
            let _ = connecting.send(Err(why.to_owned()));
        }
        for waiter in waiters {
            let _ = waiter.send(Err(dropped(why)));
        }
    }

    pub fn is_ended(&self) -> bool {
        self.state().ended.is_some()
    }

    /// Closes the socket; what is still waiting fails.
    pub fn close(&self) {
        self.ended("the connection was closed");
        if let Some(wire) = self.wire() {
            wire.close();
        }
    }

    /// Queues `bytes` (`skip + want` commands) and waits for `want` replies.
    async fn request(&self, bytes: &[u8], skip: usize, want: usize) -> RedisResult<Vec<Value>> {
        if want == 0 {
            // Nothing to wait for; a place in line would take someone else's reply.
            return Err((redis::ErrorKind::Client, "a request that wants no reply").into());
        }
        let (waiter, answer) = oneshot::channel();
        {
            let mut state = self.state();
            if let Some(why) = &state.ended {
                return Err(dropped(why));
            }
            state.outgoing.extend_from_slice(bytes);
            state.pending.push_back(Pending {
                skip,
                want,
                got: Vec::with_capacity(want),
                skipped_error: None,
                waiter: Some(waiter),
                deadline: Instant::now() + self.command_timeout,
            });
        }
        match self.wire() {
            Some(wire) => wire.flush(),
            None => return Err(dropped("the socket is not open")),
        }
        match answer.await {
            Ok(answer) => answer,
            Err(_) => Err(dropped("the connection was dropped")),
        }
    }

    /// Whether a request waiting for its reply is past its deadline.
    fn has_late(&self, now: Instant) -> bool {
        self.state()
            .pending
            .iter()
            .any(|pending| pending.waiter.is_some() && pending.deadline <= now)
    }

    /// Fails the requests whose time was up a `margin` before the host's
    /// thread was last free: a reply that had come would have been read by
    /// then, so a thread busy for longer than the timeout (a long
    /// synchronous task) fails nothing Redis answered. Their places stay in line.
    fn expire(&self, margin: Duration) {
        let turned = *self.turned.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(before) = turned.and_then(|turned| turned.checked_sub(margin)) else {
            return;
        };
        let late: Vec<_> = {
            let mut state = self.state();
            state
                .pending
                .iter_mut()
                .take_while(|pending| pending.deadline <= before)
                .filter_map(|pending| pending.waiter.take())
                .collect()
        };
        for waiter in late {
            let _ = waiter.send(Err(timed_out(self.command_timeout)));
        }
    }
}

impl State {
    fn answer(&mut self, value: Value, answers: &mut Vec<Answer>) {
        let Some(front) = self.pending.front_mut() else {
            // Nothing asked for it (a push on a RESP2 connection cannot
            // happen): ignored rather than taken for a later request's.
            return;
        };
        if front.skip > 0 {
            front.skip -= 1;
            if matches!(value, Value::ServerError(_)) && front.skipped_error.is_none() {
                front.skipped_error = Some(value);
            }
            return;
        }
        front.got.push(value);
        if front.got.len() < front.want {
            return;
        }
        let Some(mut done) = self.pending.pop_front() else {
            return;
        };
        if let Some(waiter) = done.waiter.take() {
            let answer = match done.skipped_error.take() {
                Some(error) => error.extract_error().map(|_| Vec::new()),
                None => Ok(std::mem::take(&mut done.got)),
            };
            answers.push((waiter, answer));
        }
    }
}

/// AUTH as redis-rs does it: a refusal is its `AuthenticationFailed`, and a
/// Redis older than 6 (no ACL users) is asked again with the password alone.
async fn authenticate(
    conn: &mut HostedConn,
    username: Option<&str>,
    password: &str,
) -> RedisResult<()> {
    let mut auth = redis::cmd("AUTH");
    if let Some(username) = username {
        auth.arg(username);
    }
    auth.arg(password);
    let reply = conn.req_packed_command(&auth).await?;
    let Value::ServerError(refusal) = reply else {
        return Ok(());
    };
    let too_old = refusal
        .details()
        .is_some_and(|details| details.contains("wrong number of arguments for 'auth' command"));
    if too_old && username.is_some() {
        return Box::pin(authenticate(conn, None, password)).await;
    }
    Err((
        redis::ErrorKind::AuthenticationFailed,
        "Password authentication failed",
    )
        .into())
}

/// A refused or failed connect, as redis-rs reports one (`is_connection_refusal` or dropped).
fn refused(why: &str) -> RedisError {
    let kind = if why.contains("ECONNREFUSED") || why.contains("ENOENT") {
        io::ErrorKind::ConnectionRefused
    } else {
        io::ErrorKind::ConnectionReset
    };
    io::Error::new(kind, why.to_owned()).into()
}

struct CloseOnDrop(Option<Arc<Hosted>>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(hosted) = self.0.take() {
            hosted.close();
        }
    }
}

/// Checks the connection's requests against their deadline while it lives:
/// a tick on the engine's thread rather than a timer per request, whose
/// registration from the JavaScript thread would wake the engine's thread.
async fn expire_late_requests(hosted: Weak<Hosted>) {
    let every = match hosted.upgrade() {
        Some(hosted) => tick_for(hosted.command_timeout),
        None => return,
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(hosted) = hosted.upgrade() else {
            return;
        };
        if hosted.is_ended() {
            return;
        }
        hosted.expire(every);
        if hosted.has_late(Instant::now()) {
            if let Some(wire) = hosted.wire() {
                wire.heartbeat();
            }
        }
    }
}

/// A tenth of the timeout, from 10 ms to 100 ms: a late request fails within
/// about two of them after its deadline (one for the host's heartbeat).
fn tick_for(command_timeout: Duration) -> Duration {
    (command_timeout / 10).clamp(Duration::from_millis(10), Duration::from_millis(100))
}

/// The engine's handle on a hosted connection; the socket closes when the
/// last one is dropped, whoever drops it (an aborted task included).
#[derive(Clone)]
pub struct HostedConn {
    hosted: Arc<Hosted>,
    db: i64,
    _closes: Arc<CloseOnDrop>,
}

impl HostedConn {
    pub fn close(&self) {
        self.hosted.close();
    }

    pub fn has_ended(&self) -> bool {
        self.hosted.is_ended()
    }

    /// Why its socket ended, once it has.
    pub fn end(&self) -> Option<String> {
        self.hosted.state().ended.clone()
    }
}

impl ConnectionLike for HostedConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut replies = self.hosted.request(&cmd.get_packed_command(), 0, 1).await?;
            Ok(replies.pop().unwrap_or(Value::Nil))
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            self.hosted
                .request(&pipeline.get_packed_pipeline(), offset, count)
                .await
        })
    }

    fn get_db(&self) -> i64 {
        self.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wire that keeps what was written.
    #[derive(Default)]
    struct Recorded {
        written: Mutex<Vec<u8>>,
        hosted: Mutex<Option<Arc<Hosted>>>,
        closed: Mutex<bool>,
    }

    impl Wire for Recorded {
        fn flush(&self) {
            if let Some(hosted) = self.hosted.lock().unwrap().as_ref() {
                let bytes = hosted.take_outgoing();
                self.written.lock().unwrap().extend(bytes);
            }
        }
        fn close(&self) {
            *self.closed.lock().unwrap() = true;
        }
        fn heartbeat(&self) {}
    }

    fn hosted(timeout: Duration) -> (Arc<Hosted>, Arc<Recorded>) {
        let hosted = Arc::new(Hosted::new(timeout));
        let wire = Arc::new(Recorded::default());
        *wire.hosted.lock().unwrap() = Some(Arc::clone(&hosted));
        *hosted.wire.lock().unwrap() = Some(wire.clone() as Arc<dyn Wire>);
        (hosted, wire)
    }

    fn conn(hosted: &Arc<Hosted>) -> HostedConn {
        HostedConn {
            hosted: Arc::clone(hosted),
            db: 0,
            _closes: Arc::new(CloseOnDrop(None)),
        }
    }

    /// Sends `cmd` from a task of its own, once it has its place in line.
    async fn sent<T: redis::FromRedisValue + Send + 'static>(
        hosted: &Arc<Hosted>,
        cmd: Cmd,
    ) -> tokio::task::JoinHandle<RedisResult<T>> {
        let queued = hosted.state().pending.len();
        let mut c = conn(hosted);
        let task = tokio::spawn(async move { cmd.query_async::<T>(&mut c).await });
        while hosted.state().pending.len() == queued {
            tokio::task::yield_now().await;
        }
        task
    }

    fn get(key: &str) -> Cmd {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        cmd
    }

    #[tokio::test]
    async fn replies_answer_requests_in_order_even_split_across_reads() {
        let (hosted, wire) = hosted(Duration::from_secs(5));
        let first = sent::<String>(&hosted, get("a")).await;
        let second = sent::<String>(&hosted, get("b")).await;
        assert!(String::from_utf8_lossy(&wire.written.lock().unwrap()).contains("GET"));
        hosted.received(b"$3\r\nfo");
        hosted.received(b"o\r\n$3\r\nbar\r\n");
        assert_eq!(first.await.unwrap().unwrap(), "foo");
        assert_eq!(second.await.unwrap().unwrap(), "bar");
    }

    #[tokio::test]
    async fn a_server_error_is_the_callers_error_and_the_line_goes_on() {
        let (hosted, _wire) = hosted(Duration::from_secs(5));
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha.arg("x").arg(0);
        let failing = sent::<Value>(&hosted, evalsha).await;
        hosted.received(b"-NOSCRIPT No matching script.\r\n");
        let err = failing.await.unwrap().unwrap_err();
        assert_eq!(
            err.kind(),
            redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
        );
        let next = sent::<String>(&hosted, redis::cmd("PING")).await;
        hosted.received(b"+PONG\r\n");
        assert_eq!(next.await.unwrap().unwrap(), "PONG");
    }

    #[tokio::test]
    async fn a_pipeline_gets_its_replies_past_the_skipped_ones() {
        let (hosted, _wire) = hosted(Duration::from_secs(5));
        let mut c = conn(&hosted);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg("k")
            .arg(1)
            .ignore()
            .cmd("GET")
            .arg("k");
        let run = tokio::spawn(async move { pipe.query_async::<(String,)>(&mut c).await });
        while hosted.state().pending.is_empty() {
            tokio::task::yield_now().await;
        }
        hosted.received(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\n1\r\n");
        assert_eq!(run.await.unwrap().unwrap(), ("1".to_owned(),));
    }

    #[tokio::test]
    async fn a_late_request_times_out_and_its_reply_is_not_taken_for_the_next() {
        let (hosted, _wire) = hosted(Duration::from_millis(50));
        let late = sent::<String>(&hosted, get("a")).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        // The host's thread has not been free since the deadline: nothing fails yet.
        hosted.expire(Duration::ZERO);
        assert!(hosted.state().pending[0].waiter.is_some());
        hosted.turned();
        hosted.expire(Duration::ZERO);
        let err = late.await.unwrap().unwrap_err();
        assert!(err.is_timeout(), "{err}");
        let next = sent::<String>(&hosted, get("b")).await;
        hosted.received(b"$4\r\nlate\r\n$4\r\nnext\r\n");
        assert_eq!(next.await.unwrap().unwrap(), "next");
    }

    #[tokio::test]
    async fn an_ended_socket_fails_what_waits_and_what_comes_after() {
        let (hosted, _wire) = hosted(Duration::from_secs(5));
        let waiting = sent::<String>(&hosted, get("a")).await;
        hosted.ended("read ECONNRESET");
        let err = waiting.await.unwrap().unwrap_err();
        assert!(err.is_connection_dropped(), "{err}");
        let err = redis::cmd("PING")
            .query_async::<String>(&mut conn(&hosted))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("ECONNRESET"), "{err}");
    }

    #[tokio::test]
    async fn garbage_from_the_server_ends_the_connection() {
        let (hosted, wire) = hosted(Duration::from_secs(5));
        let waiting = sent::<String>(&hosted, get("a")).await;
        hosted.received(b"?what\r\n");
        assert!(waiting.await.unwrap().is_err());
        assert!(*wire.closed.lock().unwrap());
    }

    #[test]
    fn ticks_stay_between_ten_and_a_hundred_ms() {
        assert_eq!(tick_for(Duration::from_secs(5)), Duration::from_millis(100));
        assert_eq!(
            tick_for(Duration::from_millis(300)),
            Duration::from_millis(30)
        );
        assert_eq!(
            tick_for(Duration::from_millis(20)),
            Duration::from_millis(10)
        );
    }
}
