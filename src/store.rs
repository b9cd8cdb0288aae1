//! The engine: every method of redis-sessions over one shared connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedRwLockReadGuard, RwLock};
use tokio::task::AbortHandle;

use crate::cache::Invalidations;
use crate::clock::{now_millis, now_secs};
use crate::config::Config;
use crate::connection::{Conn, Connection, Listener};
use crate::data::{self, JsText};
use crate::error::{Result, SessionError};
use crate::handle::{self, SessionRef};
use crate::js::number_to_string;
use crate::keys::{self, Keys};
use crate::layout::Layout;
use crate::operations::input;
use crate::reply;
use crate::scripts;
use crate::session::{self, Session, D_FIELD, FIELDS, MARKER};
use crate::sharded;
use crate::stored::{Hashing, Names};
use crate::subscriber;
use crate::token;
use crate::wipe;
use futures_util::future::try_join_all;
use target::Target;

mod express;
mod migrate;
mod rotate;
mod target;
mod touch;
pub use migrate::Step;

/// How many sessions one killall step removes; each step is one atomic script.
const KILLALL_BATCH: usize = 1000;
/// How often a lost connection is retried without traffic.
const RECONNECT_EVERY: Duration = Duration::from_millis(500);

/// The optional last argument of the scripts (`lua/flags.lua`).
pub struct Flags {
    /// The session is named by its hashed name: a marked session is accepted.
    pub hashed: bool,
    /// The events channel, when events are on.
    pub events: Option<String>,
    /// Cluster mode: on Redis 7, events go on each bucket's shard channel.
    pub sharded: bool,
}

impl Flags {
    /// `None` when nothing is on: then no script gets one more argument.
    pub fn text(&self) -> Option<String> {
        if !self.hashed && self.events.is_none() {
            return None;
        }
        let lookup = if self.hashed { 'h' } else { 'p' };
        let publish = if self.sharded { 'S' } else { 'P' };
        Some(match &self.events {
            Some(channel) => format!("{lookup}{publish}{channel}"),
            None => lookup.to_string(),
        })
    }
}

pub struct Store {
    layout: Layout,
    /// The name each session is stored under: its token, or its hash.
    names: Names,
    /// `events`: the channel scripts publish session events to.
    events: Option<String>,
    conn: Arc<Connection>,
    /// With `cachetime`: what the JavaScript cache must forget (`cache.rs`).
    cache: Option<Arc<Invalidations>>,
    /// `touchAfter`: seconds after a touch during which `get` writes nothing; 0 is off.
    touch_after: u64,
    /// The wiper, the cache subscriber and the connection watcher.
    background: Mutex<Vec<AbortHandle>>,
    /// Read-held by every admitted operation until it ends: `quit` takes it
    /// for writing to wait for them before it closes the connection.
    operations: Arc<RwLock<()>>,
    quitting: AtomicBool,
}

/// An operation admitted before `quit`: the connection stays open while it lives.
pub struct Admitted {
    _running: OwnedRwLockReadGuard<()>,
}

impl Store {
    /// Starts the background tasks, so it must run inside a tokio runtime.
    /// `session_listener` hears session events when `config.events` is on.
    pub fn new(
        config: &Config,
        listener: Option<Listener>,
        session_listener: Option<subscriber::SessionListener>,
        dialer: Option<Arc<dyn crate::hosted::Dialer>>,
    ) -> Result<Self> {
        // Checked here so the spawns below cannot panic.
        tokio::runtime::Handle::try_current()
            .map_err(|err| SessionError::Internal(format!("no async runtime: {err}")))?;
        let layout = if config.target.is_cluster() {
            Layout::cluster(&config.namespace)
        } else {
            Layout::standalone(&config.namespace)
        };
        let conn = Arc::new(Connection::new(config, listener, dialer)?);
        let mut background = Vec::new();
        let watched = Arc::clone(&conn);
        background
            .push(tokio::spawn(async move { watched.watch(RECONNECT_EVERY).await }).abort_handle());
        if let Some(every) = config.wipe_every {
            let flags = Flags {
                hashed: false,
                events: config.events.then(|| layout.base().events_channel()),
                sharded: layout.is_cluster(),
            };
            background.push(wipe::start(
                Arc::clone(&conn),
                layout.clone(),
                every,
                flags.text(),
            ));
        }
        let cache = config.cache_time.map(|ttl| {
            let invalidations = Invalidations::new(ttl, config.cache_max);
            Arc::new(if config.hashing.is_on() {
                invalidations.with_hashed_names()
            } else {
                invalidations
            })
        });
        let subscriptions = subscriber::Subscriptions {
            cache: cache
                .as_ref()
                .map(|cache| (layout.base().cache_channel(), Arc::clone(cache))),
            events: config
                .events
                .then_some(session_listener)
                .flatten()
                .map(|listener| (layout.base().events_channel(), listener)),
        };
        if let Some((_, listener)) = &subscriptions.events {
            let sharded = sharded::start(Arc::clone(&conn), &layout, Arc::clone(listener));
            background.extend(sharded);
        }
        if subscriptions.cache.is_some() || subscriptions.events.is_some() {
            background.push(subscriber::start(Arc::clone(&conn), subscriptions));
        }
        Ok(Self {
            names: Names::new(config.hashing, config.target.is_cluster()),
            events: config.events.then(|| layout.base().events_channel()),
            layout,
            conn,
            cache,
            touch_after: config.touch_after,
            background: Mutex::new(background),
            operations: Arc::new(RwLock::new(())),
            quitting: AtomicBool::new(false),
        })
    }

    /// Admits an operation called now, on the caller's thread: one admitted
    /// before `quit` runs to its end, as the reference queues QUIT behind the
    /// commands before it; one called after `quit` answers `Closed`.
    pub fn admit(&self) -> Result<Admitted> {
        if self.quitting.load(Ordering::Acquire) {
            return Err(SessionError::Closed);
        }
        Arc::clone(&self.operations)
            .try_read_owned()
            .map(|running| Admitted { _running: running })
            .map_err(|_| SessionError::Closed)
    }

    /// Runs `work` on every group of keys at once: the one group of the
    /// reference's layout, or every bucket of the cluster layout.
    async fn each_bucket<'a, T, Fut>(&'a self, work: impl FnMut(&'a Keys) -> Fut) -> Result<Vec<T>>
    where
        Fut: std::future::Future<Output = Result<T>>,
    {
        try_join_all(self.layout.all().iter().map(work)).await
    }

    async fn exec<T>(
        &self,
        exchange: impl AsyncFnOnce(&mut Conn) -> redis::RedisResult<T>,
    ) -> Result<T> {
        self.conn.exec(exchange).await
    }

    /// With `cachetime`: the cache's settings and what it must forget.
    pub fn invalidations(&self) -> Option<&Arc<Invalidations>> {
        self.cache.as_ref()
    }

    /// Tells the cache to forget the session of `token` (the client's: the
    /// cache keys by it).
    fn forget(&self, app: &str, token: &str) {
        if let Some(cache) = &self.cache {
            cache.forget(keys::cache_key(app, token));
        }
    }

    /// As `forget`, for a session a script named by its stored name.
    fn forget_stored(&self, app: &str, stored: &str) {
        if let Some(cache) = &self.cache {
            cache.forget_stored(&keys::cache_key(app, stored));
        }
    }

    /// The flags of this instance's scripts that may make an event.
    fn flags(&self) -> Option<String> {
        Flags {
            hashed: self.names.hashing.is_on(),
            events: self.events.clone(),
            sharded: self.layout.is_cluster(),
        }
        .text()
    }

    /// The flags of the scripts that make no event (get, set, touch,
    /// moveToId): with events on and hashTokens off, none, so events cost
    /// them nothing.
    fn lookup_flags(&self) -> Option<String> {
        Flags {
            hashed: self.names.hashing.is_on(),
            events: None,
            sharded: false,
        }
        .text()
    }

    /// hashTokens 'migrate': after a miss by the hashed name, moves a session
    /// still stored under its token to that name, in one script; `true` when
    /// the hashed name holds a session now (moved by this call or by one that
    /// raced it), and the caller asks again. The token goes to Redis only
    /// here, on a miss, as the key it is already stored under.
    async fn adopted(&self, keys: &Keys, app: &str, token: &str, stored: &str) -> Result<bool> {
        if self.names.hashing != Hashing::Migrate {
            return Ok(false);
        }
        let invocation = scripts::adopt(keys, app, stored, token);
        let moved: i64 = self
            .exec(async |conn| invocation.invoke_async(conn).await)
            .await?;
        Ok(moved == 1)
    }

    /// Runs a session's script by its stored name, and in 'migrate' mode once
    /// more when `missed` says it found nothing and an old session moved.
    async fn by_token<T, Fut>(
        &self,
        keys: &Keys,
        app: &str,
        token: &str,
        stored: &str,
        missed: impl Fn(&T) -> bool,
        run: impl Fn() -> Fut,
    ) -> Result<T>
    where
        Fut: std::future::Future<Output = Result<T>>,
    {
        let answer = run().await?;
        if missed(&answer) && self.adopted(keys, app, token, stored).await? {
            return run().await;
        }
        Ok(answer)
    }

    /// The name the session of `token` is stored under (`stored`): the
    /// token, or with `hashTokens` its one-way name.
    pub fn stored_name(&self, token: &str) -> String {
        self.names.stored(token)
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_connected()
    }

    /// Without `max`, one MULTI writing what the reference writes (with
    /// `maxAge`, one field more and an expiry score capped at its end); with
    /// `max`, one script that also kills the id's sessions beyond it.
    pub async fn create(&self, input: input::Create<'_>) -> Result<String> {
        let input::Create {
            app,
            id,
            ip,
            ttl,
            d: entries,
            no_resave,
            max,
            max_age,
            ..
        } = input;
        let keys = self.layout.for_id(id);
        let mut token = token::create(now_millis())?;
        self.layout.mark_token(&mut token, id);
        let stored = self.names.stored(&token);
        let now = now_secs();
        let now_text = now.to_string();
        let ttl_text = number_to_string(ttl);
        let kept: Vec<(JsText, data::Value)> = entries
            .iter()
            .filter(|(_, v)| *v != data::Value::Null)
            .cloned()
            .collect();

        let hash = keys.session(app, &stored);
        let mut fields: Vec<(&str, String)> = vec![
            ("id", id.to_owned()),
            ("r", "1".to_owned()),
            ("w", "1".to_owned()),
            ("ip", ip.to_owned()),
            ("la", now_text.clone()),
            ("ttl", ttl_text),
        ];
        if !kept.is_empty() {
            fields.push(("d", data::stringify(&kept)));
        }
        if no_resave {
            fields.push(("no_resave", "1".to_owned()));
        }
        if self.names.hashing.is_on() {
            fields.push((MARKER, "1".to_owned()));
        }
        let idle_expiry = now as f64 + ttl;
        let expires = match max_age {
            Some(seconds) => {
                let ends = now as f64 + seconds;
                fields.push(("ends", number_to_string(ends)));
                number_to_string(idle_expiry.min(ends))
            }
            None => number_to_string(idle_expiry),
        };
        // With events, create is the script too: its 'created' is published
        // with the write (a MULTI cannot hold a PUBLISH in cluster mode).
        if max.is_some() || self.events.is_some() {
            let channel = self.layout.base().cache_channel();
            let max_text = max.map(number_to_string).unwrap_or_default();
            let flags = self.flags();
            let invocation = scripts::create(
                keys,
                app,
                &stored,
                id,
                now,
                &expires,
                &max_text,
                &channel,
                &fields,
                flags.as_deref(),
            );
            let killed: Vec<String> = self
                .exec(async |conn| invocation.invoke_async(conn).await)
                .await?;
            for victim in &killed {
                self.forget_stored(app, victim);
            }
            return Ok(token);
        }
        let mut pipe = redis::pipe();
        pipe.atomic()
            .zadd(
                keys.app_sessions(app),
                keys::app_member(&stored, id),
                &now_text,
            )
            .ignore()
            .zadd(keys.app_users(app), id, &now_text)
            .ignore()
            .zadd(
                keys.all_sessions(),
                keys::global_member(app, &stored, id),
                expires,
            )
            .ignore()
            .sadd(keys.user_sessions(app, id), &stored)
            .ignore()
            .hset_multiple(&hash, &fields)
            .ignore();
        self.exec(async |conn| pipe.exec_async(conn).await).await?;
        Ok(token)
    }

    /// Reads and counts a session: what the JavaScript cache could not answer.
    pub async fn get_uncached(&self, input: input::Get<'_>) -> Result<Option<Session>> {
        let input::Get { app, token, .. } = input;
        let now = now_secs();
        let flags = self.lookup_flags();
        let Some(Target { stored, keys }) = self.target(token) else {
            return Ok(None);
        };
        if let (Some(cache), true) = (&self.cache, self.names.hashing.is_on()) {
            cache.remember(&keys::cache_key(app, &stored), &keys::cache_key(app, token));
        }
        let read = || async {
            if let Some(answer) = self.read_inside_window(keys, app, &stored, now).await? {
                return Ok(answer);
            }
            let invocation =
                scripts::get(keys, app, &stored, now, self.touch_after, flags.as_deref());
            let value: redis::Value = self
                .exec(async |conn| invocation.invoke_async(conn).await)
                .await?;
            match reply::fields(&value, "get")? {
                Some(fields) => session::decode(&fields, now as f64),
                None => Ok(None),
            }
        };
        self.by_token(keys, app, token, &stored, Option::is_none, read)
            .await
    }

    /// With `touchAfter`, a get reads the session with a plain HMGET first:
    /// inside the window the get script would write nothing and answer these
    /// same fields, so they are the answer, at a fraction of a script's cost
    /// to Redis (`benchmark/NOTES.md`). `None` (the script decides) for a
    /// session due a touch, and for anything the script reads otherwise than
    /// `session::decode`: a garbled read counter, ttl or last access, or a
    /// hashed session's marker without `hashTokens`.
    async fn read_inside_window(
        &self,
        keys: &Keys,
        app: &str,
        stored: &str,
        now: u64,
    ) -> Result<Option<Option<Session>>> {
        if self.touch_after == 0 {
            return Ok(None);
        }
        let mut read = redis::cmd("HMGET");
        read.arg(keys.session(app, stored)).arg(&FIELDS[..]);
        let value: redis::Value = self.exec(async |conn| read.query_async(conn).await).await?;
        let Some(fields) = reply::fields(&value, "get")? else {
            return Ok(None);
        };
        session::inside_window(
            &fields,
            now as f64,
            self.touch_after as f64,
            self.names.hashing.is_on(),
        )
    }

    pub async fn set(&self, input: input::Set<'_>) -> Result<Option<Session>> {
        let input::Set {
            app,
            token,
            d: patch,
            ..
        } = input;
        let Some(Target { stored, keys }) = self.target(token) else {
            return Ok(None);
        };
        let now = now_secs();
        let channel = self.layout.base().cache_channel();
        let flags = self.lookup_flags();
        let write = || async {
            let invocation =
                scripts::set(keys, app, &stored, now, &channel, patch, flags.as_deref());
            let value: redis::Value = self
                .exec(async |conn| invocation.invoke_async(conn).await)
                .await?;
            reply::fields(&value, "set")
        };
        let written = self
            .by_token(keys, app, token, &stored, Option::is_none, write)
            .await;
        self.forget(app, token);
        let Some(mut fields) = written? else {
            return Ok(None);
        };
        let new_d = fields.get_mut(FIELDS.len() + 1).and_then(Option::take);
        let new_w = fields.get(FIELDS.len()).cloned().flatten();
        fields.truncate(FIELDS.len());
        if let Some(d) = fields.get_mut(D_FIELD) {
            *d = new_d;
        }
        let Some(mut session) = session::decode(&fields, now as f64)? else {
            return Ok(None);
        };
        session.w = crate::js::to_number(new_w.as_deref());
        Ok(Some(session))
    }

    pub async fn kill(&self, input: input::Kill<'_>) -> Result<i64> {
        let app = input.app;
        let token = match input.session {
            SessionRef::Token(token) => token,
            SessionRef::Handle { id, handle } => return self.kill_by_handle(app, id, handle).await,
        };
        let Some(Target { stored, keys }) = self.target(token) else {
            return Ok(0);
        };
        let channel = self.layout.base().cache_channel();
        let flags = self.flags();
        let kill = || async {
            let invocation =
                scripts::kill(keys, app, &stored, now_secs(), &channel, flags.as_deref());
            self.exec(async |conn| invocation.invoke_async::<i64>(conn).await)
                .await
        };
        let killed = self
            .by_token(keys, app, token, &stored, |killed| *killed == 0, kill)
            .await;
        self.forget(app, token);
        killed
    }

    /// One script over the id's tokens: the one whose handle matches is
    /// killed as `kill` kills, and the script names it so the cache drops it.
    /// In cluster mode, a session of the id listed from another bucket
    /// (`store/express`) is killed by the same script in its own bucket.
    async fn kill_by_handle(&self, app: &str, id: &str, handle: &str) -> Result<i64> {
        let keys = self.layout.for_id(id);
        let killed = self.kill_by_handle_in(keys, app, id, handle).await?;
        if killed == 1 || !self.layout.is_cluster() {
            return Ok(killed);
        }
        let elsewhere = self.tokens_elsewhere(keys, app, id).await?;
        match elsewhere.iter().find(|token| handle::of(token) == handle) {
            Some(token) => match self.layout.for_token(token) {
                Some(home) => self.kill_by_handle_in(home, app, id, handle).await,
                None => Ok(0),
            },
            None => Ok(0),
        }
    }

    async fn kill_by_handle_in(
        &self,
        keys: &Keys,
        app: &str,
        id: &str,
        handle: &str,
    ) -> Result<i64> {
        let channel = self.layout.base().cache_channel();
        let flags = self.flags();
        let invocation = scripts::kill_by_handle(
            keys,
            app,
            id,
            handle,
            now_secs(),
            &channel,
            flags.as_deref(),
        );
        let killed: Option<String> = self
            .exec(async |conn| invocation.invoke_async(conn).await)
            .await?;
        Ok(match killed {
            Some(stored) => {
                self.forget_stored(app, &stored);
                1
            }
            None => 0,
        })
    }

    /// The tokens of the id's `us:ID` (in `keys`, its bucket) whose sessions
    /// live in another bucket: cluster mode's second entries (`store/express`).
    async fn tokens_elsewhere(&self, keys: &Keys, app: &str, id: &str) -> Result<Vec<String>> {
        let mut members = redis::cmd("SMEMBERS");
        members.arg(keys.user_sessions(app, id));
        let tokens: Vec<String> = self
            .exec(async |conn| members.query_async(conn).await)
            .await?;
        Ok(tokens
            .into_iter()
            .filter(|token| self.layout.elsewhere_from_id(token, id).is_some())
            .collect())
    }

    /// One script in the id's bucket. With `except`, the session of that
    /// token is left as it is, in the same script.
    pub async fn killsoid(&self, input: input::Killsoid<'_>) -> Result<i64> {
        let input::Killsoid {
            app, id, except, ..
        } = input;
        let keys = self.layout.for_id(id);
        let kept = except.map(|token| self.names.stored(token));
        // Cluster mode: first the id's sessions listed from other buckets
        // (`store/express`), each in its own bucket if it is still the id's:
        // one script per bucket, so not one atomic step (README, cluster mode).
        let mut elsewhere = 0;
        if self.layout.is_cluster() {
            for token in self.tokens_elsewhere(keys, app, id).await? {
                if kept.as_deref() == Some(token.as_str()) {
                    continue;
                }
                if let Some(home) = self.layout.for_token(&token) {
                    elsewhere += self
                        .kill_by_handle_in(home, app, id, &handle::of(&token))
                        .await?;
                }
            }
        }
        let channel = self.layout.base().cache_channel();
        let flags = self.flags();
        let invocation =
            scripts::killsoid(keys, app, id, &channel, kept.as_deref(), flags.as_deref());
        let killed: i64 = self
            .exec(async |conn| invocation.invoke_async(conn).await)
            .await?;
        let killed = killed + elsewhere;
        if let Some(cache) = &self.cache {
            cache.forget_app(app, Some(id));
        }
        Ok(killed)
    }

    /// Kills in atomic batches, so a huge app never blocks Redis for long;
    /// in cluster mode every bucket at once.
    pub async fn killall(&self, input: input::Killall<'_>) -> Result<i64> {
        let app = input.app;
        let counts = self.each_bucket(|keys| self.killall_in(keys, app)).await;
        if let Some(cache) = &self.cache {
            cache.forget_app(app, None);
        }
        Ok(counts?.into_iter().sum())
    }

    async fn killall_in(&self, keys: &Keys, app: &str) -> Result<i64> {
        let channel = self.layout.base().cache_channel();
        let flags = self.flags();
        let invocation = scripts::killall(keys, app, &channel, KILLALL_BATCH, flags.as_deref());
        let mut total = 0;
        loop {
            let value: redis::Value = self
                .exec(async |conn| invocation.invoke_async(conn).await)
                .await?;
            if let Some(cache) = &self.cache {
                cache.forget_app(app, None);
            }
            let (removed, seen) = reply::pair(&value, "killall")?;
            total += removed;
            if seen < KILLALL_BATCH as i64 {
                return Ok(total);
            }
        }
    }

    pub async fn soid(&self, input: input::Soid<'_>) -> Result<Vec<Session>> {
        let input::Soid {
            app, id, handles, ..
        } = input;
        let keys = self.layout.for_id(id);
        let now = now_secs();
        let mut members = redis::cmd("SMEMBERS");
        members.arg(keys.user_sessions(app, id));
        let tokens: Vec<String> = self
            .exec(async |conn| members.query_async(conn).await)
            .await?;
        let rows = self
            .read_rows(keys, app, tokens.iter().map(String::as_str), now, handles)
            .await?;
        if !self.layout.is_cluster() {
            return Ok(rows.into_iter().flatten().collect());
        }
        // Cluster mode: a token listed from another bucket (`store/express`)
        // may name a session gone since, or moved to another id. The gone ones
        // leave the list here, so that it does not grow with every device a
        // user ever had; a moved one stays (it may move back and be listed
        // again meanwhile), and killsoid clears the list.
        let mut sessions = Vec::new();
        let mut gone = Vec::new();
        for (token, row) in tokens.iter().zip(rows) {
            match row {
                Some(session) if session.id == id => sessions.push(session),
                None if self.layout.elsewhere_from_id(token, id).is_some() => gone.push(token),
                _ => {}
            }
        }
        if !gone.is_empty() {
            let mut remove = redis::cmd("SREM");
            remove.arg(keys.user_sessions(app, id)).arg(&gone);
            // The listing is right either way; a removal that failed is retried by the next one.
            let _ = self
                .exec(async |conn| remove.query_async::<i64>(conn).await)
                .await;
        }
        Ok(sessions)
    }

    /// Most recently used first, as `ZREVRANGEBYSCORE` orders `_sessions`;
    /// in cluster mode the buckets' answers are merged in that same order.
    pub async fn soapp(&self, input: input::Soapp<'_>) -> Result<Vec<Session>> {
        let input::Soapp {
            app,
            window,
            handles,
            ..
        } = input;
        let now = now_secs();
        let since = number_to_string(now as f64 - window);
        let parts = self
            .each_bucket(|keys| self.soapp_in(keys, app, &since, now, handles))
            .await?;
        let buckets = parts.len();
        let mut ranked = parts.concat();
        if buckets > 1 {
            ranked.sort_by(|(score_a, member_a, _), (score_b, member_b, _)| {
                score_b
                    .total_cmp(score_a)
                    .then_with(|| member_b.cmp(member_a))
            });
        }
        Ok(ranked.into_iter().map(|(_, _, session)| session).collect())
    }

    /// One bucket's live sessions in the window, with their `_sessions` score and member.
    async fn soapp_in(
        &self,
        keys: &Keys,
        app: &str,
        since: &str,
        now: u64,
        handles: bool,
    ) -> Result<Vec<(f64, String, Session)>> {
        let mut range = redis::cmd("ZREVRANGEBYSCORE");
        range
            .arg(keys.app_sessions(app))
            .arg("+inf")
            .arg(since)
            .arg("WITHSCORES");
        let members: Vec<(String, f64)> = self
            .exec(async |conn| range.query_async(conn).await)
            .await?;
        let tokens = members.iter().map(|(member, _)| {
            keys::split_app_member(member).map_or_else(
                || member.split(':').next().unwrap_or_default(),
                |(token, _)| token,
            )
        });
        let rows = self.read_rows(keys, app, tokens, now, handles).await?;
        Ok(members
            .into_iter()
            .zip(rows)
            .filter_map(|((member, score), row)| row.map(|session| (score, member, session)))
            .collect())
    }

    /// The sessions of `tokens`, in their order; `None` for a missing or dead
    /// one. A `d` that is not a JSON object is left out of its session. With
    /// `handles`, each session carries its handle. Read in one pipeline (one
    /// per bucket in cluster mode): with the read of the index before it, two
    /// exchanges as in the reference. A script doing both cost Redis more CPU
    /// on a large app (Lua's per-call overhead; measured in
    /// benchmark/NOTES.md) and blocked it for all that time.
    async fn read_rows(
        &self,
        keys: &Keys,
        app: &str,
        tokens: impl Iterator<Item = &str>,
        now: u64,
        handles: bool,
    ) -> Result<Vec<Option<Session>>> {
        // One pipeline per bucket: in cluster mode a token may live in a
        // bucket other than `keys` (`store/express`), and a pipeline must
        // stay in one slot. Otherwise there is one group, `keys`.
        let tokens: Vec<&str> = tokens.collect();
        let mut groups: Vec<(&Keys, Vec<usize>)> = Vec::new();
        for (row, token) in tokens.iter().enumerate() {
            let home = self.layout.for_token(token).unwrap_or(keys);
            match groups.iter_mut().find(|(k, _)| std::ptr::eq(*k, home)) {
                Some((_, rows)) => rows.push(row),
                None => groups.push((home, vec![row])),
            }
        }
        let read_group = |(home, rows): &(&Keys, Vec<usize>)| {
            let mut reads = redis::pipe();
            for token in rows.iter().filter_map(|&row| tokens.get(row)) {
                reads
                    .cmd("HMGET")
                    .arg(home.session(app, token))
                    .arg(&FIELDS[..]);
            }
            async move {
                self.exec(async |conn| reads.query_async::<Vec<Vec<Option<String>>>>(conn).await)
                    .await
            }
        };
        let answers = try_join_all(groups.iter().map(read_group)).await?;
        let mut fields_of_rows: Vec<Option<Vec<Option<String>>>> = vec![None; tokens.len()];
        for ((_, rows), answer) in groups.iter().zip(answers) {
            for (&row, fields) in rows.iter().zip(answer) {
                if let Some(slot) = fields_of_rows.get_mut(row) {
                    *slot = Some(fields);
                }
            }
        }
        Ok(tokens
            .iter()
            .zip(fields_of_rows)
            .map(|(token, fields)| {
                let handle = handles.then(|| handle::of(token));
                session::decode_listed(&fields?, now as f64)
                    .map(|session| Session { handle, ..session })
            })
            .collect())
    }

    /// The app's live sessions (`lua/count.lua`): one script per bucket, whose
    /// counts add up, as every session lives in one bucket.
    pub async fn count(&self, input: input::Count<'_>) -> Result<i64> {
        let app = input.app;
        let now = now_secs();
        let counts = self
            .each_bucket(|keys| {
                let invocation = scripts::count(keys, app, now);
                async move {
                    self.exec(async |conn| invocation.invoke_async::<i64>(conn).await)
                        .await
                }
            })
            .await?;
        Ok(counts.into_iter().sum())
    }

    /// Unique ids active in the window: an id lives in one bucket only, so
    /// the buckets' counts add up.
    pub async fn activity(&self, input: input::Activity<'_>) -> Result<i64> {
        let input::Activity { app, window, .. } = input;
        let since = number_to_string(now_secs() as f64 - window);
        let counts = self
            .each_bucket(|keys| {
                let mut command = redis::cmd("ZCOUNT");
                command.arg(keys.app_users(app)).arg(&since).arg("+inf");
                async move {
                    self.exec(async |conn| command.query_async::<i64>(conn).await)
                        .await
                }
            })
            .await?;
        Ok(counts.into_iter().sum())
    }

    pub async fn ping(&self, _: input::Ping<'_>) -> Result<String> {
        self.exec(async |conn| redis::cmd("PING").query_async(conn).await)
            .await
    }

    /// Whether the connection is the host's socket (`crate::hosted`).
    pub fn is_hosted(&self) -> bool {
        self.conn.is_hosted()
    }

    /// Refuses new operations and stops the background tasks at once; the
    /// future closes the connection once every admitted operation has ended.
    pub fn quit(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.quitting.store(true, Ordering::Release);
        self.stop_background();
        if let Some(cache) = &self.cache {
            cache.close();
        }
        let operations = Arc::clone(&self.operations);
        let conn = Arc::clone(&self.conn);
        async move {
            let _all_ended = operations.write_owned().await;
            conn.close();
        }
    }

    fn stop_background(&self) {
        for task in self
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop_background();
        self.conn.close();
    }
}
