//! The N-API surface: `NativeSessions`, one method per row of the table of
//! operations (`crate::operations`), each answering a Promise, and `quit`.
//! `index.js` adds callbacks, binding and events, and answers cache hits
//! itself (`cache-hits.js`), told what to forget by `invalidate`. In memory mode (`crate::memory`) every method answers at once,
//! on the JavaScript thread, at the time JavaScript hands in.

mod args;
mod convert;
mod dispatch;
mod invalidate;
mod options;
mod runtime;
mod settle;
mod wire;

use std::sync::Arc;

use napi::bindgen_prelude::{FnArgs, Function, JsValue, Object, ToNapiValue, Unknown};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, Result};
use napi_derive::napi;

use crate::connection::{ConnectionEvent, Listener};
use crate::events::SessionEvent;
use crate::memory::{self, Now};
use crate::operations::{for_each_operation, Operation};
use crate::subscriber::SessionListener;
use crate::{Config, SessionError, Store, Style};
use args::{guarded, read_args};
use convert::{Cacheable, Output};
use invalidate::InvalidateCallback;
use options::read_options;
use settle::{FillArgs, Settler};

// Every method returns `Result<...>` spelled out, never through an alias:
// napi-rs throws an `Err` only from a return type it can see is a `Result`,
// and returns the error as a value otherwise.
#[napi]
pub struct NativeSessions {
    /// A constructor given bad options still builds: every call then answers
    /// the options error, as an error, never a synchronous throw.
    /// In memory mode, an error saying there is no Redis (migrateStep answers it).
    store: std::result::Result<Arc<Store>, SessionError>,
    /// The in-memory engine, which then answers every operation.
    memory: Option<Arc<memory::Sessions>>,
    warnings: Vec<String>,
    settler: Settler,
    /// With a hosted connection (`crate::hosted`): opens its sockets.
    dialer: Option<Arc<wire::NodeDialer>>,
}

type EventCallback<'a> = Function<'a, FnArgs<(String, String)>, ()>;
/// `(type, app, id, handle, previous)`: a session event (`crate::events`).
type SessionCallback<'a> = Function<'a, FnArgs<SessionArgs>, ()>;
type SessionArgs = (String, String, String, String, Option<String>);

/// Hands session events to JavaScript without keeping Node alive: an
/// instance that only listens does not hold the process open.
fn session_listener(callback: &SessionCallback) -> Result<SessionListener> {
    let tsfn = callback
        .build_threadsafe_function()
        .weak::<true>()
        .callee_handled::<false>()
        .build()?;
    Ok(Arc::new(move |event: SessionEvent| {
        let args: SessionArgs = (
            event.kind,
            event.app,
            event.id,
            event.handle,
            event.previous,
        );
        tsfn.call(FnArgs::from(args), ThreadsafeFunctionCallMode::NonBlocking);
    }))
}

/// Hands connection events to JavaScript without keeping Node alive.
fn listener(callback: &EventCallback) -> Result<Listener> {
    let tsfn = callback
        .build_threadsafe_function()
        .weak::<true>()
        .callee_handled::<false>()
        .build()?;
    Ok(Arc::new(move |event: ConnectionEvent| {
        let args = match event {
            ConnectionEvent::Connect => ("connect".to_owned(), String::new()),
            ConnectionEvent::Disconnect(message) => ("disconnect".to_owned(), message),
        };
        tsfn.call(FnArgs::from(args), ThreadsafeFunctionCallMode::NonBlocking);
    }))
}

fn style(legacy: bool) -> Style {
    if legacy {
        Style::Callback
    } else {
        Style::Promise
    }
}

#[napi]
impl NativeSessions {
    /// `memory`: the in-memory engine whatever the options say (index.js
    /// passes the environment variable REDIS_SESSIONS_MEMORY). `net`: Node's
    /// `net` module, through which a standalone Redis without TLS is reached
    /// (`crate::hosted`); without it, redis-rs's connection. With
    /// `cachetime` on Redis, `on_invalidate` and `on_fill` are the
    /// JavaScript cache's (`cache-hits.js`); memory mode keeps its cache in
    /// the engine, on the JavaScript clock (`crate::memory`).
    #[napi(constructor, catch_unwind)]
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per thing index.js hands in, as napi-rs maps them"
    )]
    pub fn new(
        env: Env,
        options: Unknown,
        on_event: Option<EventCallback>,
        memory: Option<bool>,
        on_invalidate: Option<InvalidateCallback>,
        on_fill: Option<Function<FillArgs<'static>, ()>>,
        on_session: Option<SessionCallback>,
        net: Option<Object>,
    ) -> Result<Self> {
        let mut warnings = Vec::new();
        let mut settler = Settler::new();
        let mut dialer = None;
        let config = read_options(&env, &options, &mut warnings)
            .and_then(Config::from_options)
            .map(|config| Config {
                memory: config.memory || memory == Some(true),
                ..config
            });
        let (store, memory) = match config {
            Ok(config) if config.memory => {
                // The one warning is about the connection a `client` option
                // made us open: in memory mode there is none.
                warnings.clear();
                let events = match &on_session {
                    Some(callback) if config.events => Some(session_listener(callback)?),
                    _ => None,
                };
                (
                    Err(SessionError::InvalidOptions(
                        "this instance is in memory mode: there is no Redis".to_owned(),
                    )),
                    Some(Arc::new(memory::Sessions::open(&config, events))),
                )
            }
            config => {
                let listener = on_event.as_ref().map(listener).transpose()?;
                let session_listener = on_session.as_ref().map(session_listener).transpose()?;
                if let Some(net) = &net {
                    settler.prepare(&env)?;
                    dialer = Some(Arc::new(wire::NodeDialer::new(
                        &env,
                        net,
                        settler.handle(),
                    )?));
                }
                let engine_dialer = dialer
                    .clone()
                    .map(|dialer| dialer as Arc<dyn crate::hosted::Dialer>);
                let store = config
                    .and_then(|config| {
                        let _inside = runtime::get()?.enter();
                        Store::new(&config, listener, session_listener, engine_dialer)
                    })
                    .map(Arc::new);
                (store, None)
            }
        };
        let feed = store.as_ref().ok().and_then(|store| store.invalidations());
        // Only with a cache: these hold the facade's functions (and so the
        // instance) until quit.
        if let (Some(feed), Some(callback)) = (feed, &on_invalidate) {
            settler.before_settling(invalidate::connect(&env, feed, callback)?);
            if let Some(fill) = on_fill {
                settler.on_fill(fill.create_ref()?);
            }
        }
        Ok(Self {
            store,
            memory,
            warnings,
            settler,
            dialer,
        })
    }

    /// With `cachetime` on Redis, the cache's settings for `cache-hits.js`:
    /// `[seconds, most entries]`; `null` without, and in memory mode.
    #[napi(getter, catch_unwind, ts_return_type = "[number, number] | null")]
    pub fn cache(&self) -> Option<Vec<f64>> {
        let feed = self.store.as_ref().ok()?.invalidations()?;
        Some(vec![feed.time.as_secs_f64(), feed.max as f64])
    }

    /// `get` for the JavaScript cache: a Promise of the answer, which is
    /// first handed to the constructor's `onFill` with `token` and `stamp`
    /// (the cache's place for this read) and the seconds the session has left.
    #[napi(catch_unwind, ts_return_type = "Promise<unknown>")]
    pub fn get_cacheable<'env>(
        &self,
        env: &'env Env,
        options: Unknown,
        legacy: bool,
        token: String,
        stamp: f64,
    ) -> Result<Unknown<'env>> {
        let op = Operation::Get;
        let style = style(legacy);
        let prepared = self.store.clone().and_then(|store| {
            let args = guarded(env, "options", || read_args(&options, op.fields()))?;
            Ok((store.admit()?, store, args))
        });
        self.spawn(env, style, async move {
            let result = match prepared {
                Ok((_admitted, store, args)) => store.perform(op, &args, style).await,
                Err(err) => Err(err),
            };
            Ok(Output::Cacheable(Box::new(Cacheable {
                result,
                token,
                stamp,
            })))
        })
    }

    /// What the options asked for that could not be done as asked.
    #[napi(getter, catch_unwind)]
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// Runs `work` where this instance's connection is driven: on the
    /// JavaScript thread for a hosted one, else on the engine's runtime.
    fn spawn<'env, F>(&self, env: &'env Env, style: Style, work: F) -> Result<Unknown<'env>>
    where
        F: std::future::Future<Output = std::result::Result<Output, SessionError>> + Send + 'static,
    {
        if self.store.as_ref().is_ok_and(|store| store.is_hosted()) {
            self.settler.spawn_local(env, style, work)
        } else {
            self.settler.spawn(env, style, work)
        }
    }

    /// Every operation of the table: reads its fields, then runs it on the
    /// runtime and settles the Promise on the JavaScript thread.
    fn operate<'env>(
        &self,
        env: &'env Env,
        options: &Unknown,
        legacy: bool,
        op: Operation,
        now: Option<f64>,
    ) -> Result<Unknown<'env>> {
        if let Some(memory) = &self.memory {
            return in_memory(env, memory, options, legacy, op, now);
        }
        let style = style(legacy);
        let prepared = self.store.clone().and_then(|store| {
            let args = guarded(env, "options", || read_args(options, op.fields()))?;
            Ok((store.admit()?, store, args))
        });
        self.spawn(env, style, async move {
            let (_admitted, store, args) = prepared?;
            store.perform(op, &args, style).await.map(Output::Reply)
        })
    }

    /// Stops the wiper, refuses later calls, closes the connection once the
    /// calls made before have ended, and lets go of every libuv handle once
    /// they have settled. Resolves even for an instance built from bad
    /// options: there is nothing to close.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn quit<'env>(
        &self,
        env: &'env Env,
        _options: Unknown,
        legacy: bool,
    ) -> Result<Unknown<'env>> {
        if let Some(memory) = &self.memory {
            memory.quit();
            return ().into_unknown(env);
        }
        let closed = self.store.as_ref().ok().map(|store| store.quit());
        let answer = self.spawn(env, style(legacy), async move {
            if let Some(closed) = closed {
                closed.await;
            }
            Ok(Output::Nothing)
        });
        self.settler.close();
        if let Some(dialer) = &self.dialer {
            dialer.release(env);
        }
        answer
    }

    /// One step of copying this standalone instance's sessions into the
    /// cluster instance `target` (the migrate-to-cluster command).
    #[napi(
        catch_unwind,
        ts_return_type = "Promise<{ cursor: string; moved: [string, string, string][]; skipped: number; present: number }>"
    )]
    pub fn migrate_step<'env>(
        &self,
        env: &'env Env,
        target: &NativeSessions,
        cursor: String,
    ) -> Result<Unknown<'env>> {
        let stores = self.store.clone().and_then(|from| {
            let to = target.store.clone()?;
            Ok(((from.admit()?, to.admit()?), from, to))
        });
        self.settler.spawn(env, Style::Promise, async move {
            let (_admitted, from, to) = stores?;
            from.migrate_step(&to, &cursor).await.map(Output::Migrated)
        })
    }

    /// The handle `soid`/`soapp` show for the session of `token` on this
    /// instance: of its stored name, which `hashTokens` makes a hash of it.
    #[napi(catch_unwind)]
    pub fn handle_of_token(&self, token: String) -> String {
        if let Some(memory) = &self.memory {
            return crate::handle::of(&memory.stored_name(&token));
        }
        match &self.store {
            Ok(store) => crate::handle::of(&store.stored_name(&token)),
            // Bad options: no instance names its sessions.
            Err(_) => crate::handle::of(&token),
        }
    }

    #[napi(getter, catch_unwind)]
    pub fn connected(&self) -> bool {
        match &self.memory {
            Some(memory) => memory.is_connected(),
            None => self.store.as_ref().is_ok_and(|s| s.is_connected()),
        }
    }

    /// Whether this instance runs on the in-memory engine.
    #[napi(getter, catch_unwind)]
    pub fn memory(&self) -> bool {
        self.memory.is_some()
    }

    /// Empties the in-memory store of one namespace, or of all.
    #[napi(catch_unwind)]
    pub fn reset_memory(namespace: Option<String>) {
        memory::reset(namespace.as_deref());
    }

    /// The behaviour scenario's view of a namespace in memory: its Redis
    /// keys as JSON. A test hook, not part of `RedisSessions`.
    #[napi(catch_unwind)]
    pub fn memory_keys(namespace: String) -> String {
        memory::keys_of(&namespace)
    }

    /// The behaviour scenario's change of a session's `la` (`key` its hash)
    /// or `_sessions` score (`field` its member). A test hook.
    #[napi(catch_unwind)]
    pub fn memory_edit(namespace: String, key: String, field: String, value: f64) -> bool {
        memory::edit(&namespace, &key, &field, value)
    }

    /// Throws `error` as an uncaught exception, from anywhere (a Promise's
    /// reaction included): how a callback's own exception reaches
    /// `uncaughtException` in memory mode, where the facade cannot use
    /// `process.nextTick` (fake timers replace it).
    #[napi(catch_unwind)]
    pub fn raise(env: Env, error: Unknown) {
        // SAFETY: both handles belong to this call's environment, on its thread.
        let _status = unsafe { napi::sys::napi_fatal_exception(env.raw(), error.raw()) };
    }
}

/// An operation in memory mode: its answer at once, or its error thrown.
fn in_memory<'env>(
    env: &'env Env,
    memory: &memory::Sessions,
    options: &Unknown,
    legacy: bool,
    op: Operation,
    now: Option<f64>,
) -> Result<Unknown<'env>> {
    let style = style(legacy);
    let answer = guarded(env, "options", || read_args(options, op.fields()))
        .and_then(|args| memory.perform(op, &args, style, Now::from_js(now)));
    match answer {
        Ok(reply) => convert::output(env, Output::Reply(reply), style),
        Err(err) => Err(convert::error(env, &err)),
    }
}

/// The token of the session whose express-session id is `sid` (`crate::sid`).
#[napi(catch_unwind)]
#[cfg_attr(test, allow(dead_code, reason = "called from JavaScript alone"))]
pub fn token_for_sid(sid: String) -> String {
    crate::sid::token_for(&sid)
}

/// The id the express store gives a session without a user (`crate::sid`).
#[napi(catch_unwind)]
#[cfg_attr(test, allow(dead_code, reason = "called from JavaScript alone"))]
pub fn anonymous_id(token: String) -> String {
    crate::sid::anonymous_id(&token)
}

/// The handle of the session with this token, as `soid` shows it with `handles: true`.
#[napi(catch_unwind)]
#[cfg_attr(test, allow(dead_code, reason = "called from JavaScript alone"))]
pub fn handle_of_token(token: String) -> String {
    crate::handle::of(&token)
}

/// One napi method per row of the table of operations, each with the row's
/// documentation; and the table's names, from which `index.js` makes the
/// methods of `RedisSessions`.
macro_rules! napi_operations {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $op:ident [$($field:ident: $kind:ident),*]
            $scope:ident -> $reply:ident $(($label:literal))? = $method:ident;
    )*) => {
        #[napi]
        impl NativeSessions {
            /// The names of the operations, in the table's order.
            #[napi(catch_unwind)]
            pub fn operations() -> Vec<&'static str> {
                Operation::ALL.iter().map(|op| op.name()).collect()
            }

            // The rows' doc comments are not repeated here: napi-rs would
            // print them into binding.d.ts as the raw strings macro_rules makes.
            $(
                /// An operation of the table (`crate::operations`): a Promise
                /// (in memory mode the answer itself).
                #[napi(catch_unwind, ts_return_type = "unknown")]
                /// `now`: `Date.now()`, handed in only in memory mode.
                #[allow(non_snake_case, reason = "named as in JavaScript: createWithToken")]
                pub fn $name<'env>(
                    &self,
                    env: &'env Env,
                    options: Unknown,
                    legacy: bool,
                    now: Option<f64>,
                ) -> Result<Unknown<'env>> {
                    self.operate(env, &options, legacy, Operation::$op, now)
                }
            )*
        }
    };
}

for_each_operation!(napi_operations);
