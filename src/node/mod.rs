//! The N-API surface: `NativeSessions`, one method per row of the table of
//! operations (`crate::operations`), each answering a Promise (a cache hit
//! answers at once), and `quit`. `index.js` adds callbacks, binding and
//! events. In memory mode (`crate::memory`) every method answers at once,
//! on the JavaScript thread, at the time JavaScript hands in.

mod args;
mod convert;
mod options;
mod runtime;
mod settle;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use napi::bindgen_prelude::{FnArgs, Function, JsValue, ObjectRef, ToNapiValue, Unknown};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, Result};
use napi_derive::napi;

use crate::connection::{ConnectionEvent, Listener};
use crate::memory::{self, Now};
use crate::operations::{for_each_operation, input, Operation};
use crate::store::CachedSession;
use crate::{Config, SessionError, Store, Style};
use args::{guarded, read_args};
use convert::Output;
use options::read_options;
use settle::Settler;

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
    /// The JavaScript object of each cache entry, so a hit returns it as the
    /// reference does instead of building it again. Valid while the engine's
    /// entry has the same generation; touched only on the JavaScript thread.
    objects: Mutex<CachedObjects>,
    settler: Settler,
}

struct CachedObjects {
    by_key: HashMap<String, (u64, ObjectRef<false>)>,
    sweep_at: usize,
}

const FIRST_SWEEP: usize = 256;

type EventCallback<'a> = Function<'a, FnArgs<(String, String)>, ()>;

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
    /// passes the environment variable REDIS_SESSIONS_MEMORY).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: Env,
        options: Unknown,
        on_event: Option<EventCallback>,
        memory: Option<bool>,
    ) -> Result<Self> {
        let mut warnings = Vec::new();
        let config = read_options(&env, &options, &mut warnings)
            .and_then(Config::from_options)
            .map(|config| Config {
                memory: config.memory || memory == Some(true),
                ..config
            });
        let (store, memory) = match config {
            Ok(config) if config.memory => (
                Err(SessionError::InvalidOptions(
                    "this instance is in memory mode: there is no Redis".to_owned(),
                )),
                Some(Arc::new(memory::Sessions::open(&config))),
            ),
            config => {
                let listener = on_event.as_ref().map(listener).transpose()?;
                let store = config
                    .and_then(|config| {
                        let _inside = runtime::get()?.enter();
                        Store::new(&config, listener)
                    })
                    .map(Arc::new);
                (store, None)
            }
        };
        Ok(Self {
            store,
            memory,
            warnings,
            objects: Mutex::new(CachedObjects {
                by_key: HashMap::new(),
                sweep_at: FIRST_SWEEP,
            }),
            settler: Settler::new(),
        })
    }

    /// What the options asked for that could not be done as asked.
    #[napi(getter, catch_unwind)]
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// Every operation of the table: reads its fields, then runs it on the
    /// runtime and settles the Promise on the JavaScript thread. `get` has
    /// its own path, for its cache.
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
        if op == Operation::Get {
            return self.get_from_cache_first(env, options, legacy);
        }
        let style = style(legacy);
        let prepared = self.store.clone().and_then(|store| {
            let args = guarded(env, "options", || read_args(options, op.fields()))?;
            Ok((store.admit()?, store, args))
        });
        self.settler.spawn(env, style, async move {
            let (_admitted, store, args) = prepared?;
            store.perform(op, &args, style).await.map(Output::Reply)
        })
    }

    /// A cache hit or a validation error answers at once, without the
    /// runtime: the session object, or a thrown error. Otherwise a Promise.
    fn get_from_cache_first<'env>(
        &self,
        env: &'env Env,
        options: &Unknown,
        legacy: bool,
    ) -> Result<Unknown<'env>> {
        let op = Operation::Get;
        let style = style(legacy);
        let store = self
            .store
            .as_ref()
            .map_err(|err| convert::error(env, err))?;
        let args = guarded(env, "options", || read_args(options, op.fields()))
            .map_err(|err| convert::error(env, &err))?;
        let cached = input::Get::check(&args, style).and_then(|input| store.get_cached(&input));
        match cached {
            Err(err) => Err(convert::error(env, &err)),
            Ok(Some(cached)) => self.cached_object(env, store, cached),
            // The arguments already read: a getter must not run twice.
            Ok(None) => {
                let admitted = store.admit().map_err(|err| convert::error(env, &err))?;
                let store = Arc::clone(store);
                self.settler.spawn(env, style, async move {
                    let _admitted = admitted;
                    store.perform(op, &args, style).await.map(Output::Reply)
                })
            }
        }
    }

    fn cached_object<'env>(
        &self,
        env: &'env Env,
        store: &Store,
        cached: CachedSession,
    ) -> Result<Unknown<'env>> {
        let mut objects = self.objects.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((generation, object)) = objects.by_key.get(&cached.key) {
            if *generation == cached.hit.generation {
                return object.get_value(env)?.into_unknown(env);
            }
        }
        let object = convert::session(env, &cached.hit.session)?;
        let reference = object.create_ref::<false>()?;
        if let Some((_, stale)) = objects
            .by_key
            .insert(cached.key, (cached.hit.generation, reference))
        {
            stale.unref(env)?;
        }
        if objects.by_key.len() > objects.sweep_at {
            let (live, stale): (HashMap<_, _>, HashMap<_, _>) = std::mem::take(&mut objects.by_key)
                .into_iter()
                .partition(|(key, (generation, _))| store.is_cached(key, *generation));
            objects.by_key = live;
            objects.sweep_at = FIRST_SWEEP.max(objects.by_key.len() + objects.by_key.len() / 4);
            for (_, (_, object)) in stale {
                object.unref(env)?;
            }
        }
        object.into_unknown(env)
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
        let answer = self.settler.spawn(env, style(legacy), async move {
            if let Some(closed) = closed {
                closed.await;
            }
            Ok(Output::Nothing)
        });
        self.settler.close();
        let objects = std::mem::take(
            &mut self
                .objects
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .by_key,
        );
        for (_, (_, object)) in objects {
            object.unref(env)?;
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
                /// An operation of the table (`crate::operations`): a Promise;
                /// `get` answers a cache hit or a validation error at once.
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
