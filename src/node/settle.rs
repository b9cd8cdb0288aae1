//! Settles the Promises of all of an instance's operations through one
//! threadsafe function, woken once per batch of completions.
//!
//! napi-rs's `spawn_future` creates a threadsafe function (a libuv handle)
//! for every call and wakes the event loop once per call; at thousands of
//! calls a second that was most of the Node CPU per operation.
//!
//! With a hosted connection (`crate::hosted`) the operations themselves run
//! here too, on the JavaScript thread (`spawn_local`): polled when called,
//! again when the socket's data wakes them, so that a call one at a time
//! never waits for another thread. What other threads must have done on
//! this one (write to the socket, open one) is `post`ed.
//!
//! The function is built at an instance's first call and released by `close`
//! (quit) as soon as nothing is in flight, so that after `quit()` the
//! instance holds no libuv handle (jest's `--detectOpenHandles` lists any
//! it finds). A call after `close` builds a new one, released again when it
//! settles.

use std::cell::Cell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use futures_util::FutureExt;
use napi::bindgen_prelude::{FnArgs, FunctionRef, JsValue, Unknown};
use napi::threadsafe_function::{
    ThreadsafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode,
};
use napi::{sys, CleanupEnvHook, Env, JsError, Result, Status};

use super::convert::{self, Cacheable, Output};
use crate::operations::Reply;
use crate::{SessionError, Style};

/// A promise's resolver, settled only on the JavaScript thread that made it.
struct Deferred(sys::napi_deferred);

// SAFETY: the handle is only carried through the queue by other threads; it is
// used (settled) solely in `settle`, on the JavaScript thread that created it.
unsafe impl Send for Deferred {}

type Outcome = std::result::Result<Output, SessionError>;
type Completion = (Deferred, Outcome, Style);

type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

/// Runs on the JavaScript thread before a batch of answers is settled.
type BeforeSettling = Arc<dyn Fn(&Env) + Send + Sync>;

/// The JavaScript cache's `fill(token, stamp, answer, secondsLeft)`.
pub type FillArgs<'a> = FnArgs<(String, f64, Option<Unknown<'a>>, f64)>;
type Fill = FunctionRef<FillArgs<'static>, ()>;

/// Work another thread needs done on the JavaScript thread.
pub type Job = Box<dyn FnOnce(&Env) + Send>;

type LocalFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

thread_local! {
    /// Set while this thread runs an instance's tasks: a task woken then is
    /// run in the same pass, with no wake-up of the event loop.
    static RUNNING: Cell<bool> = const { Cell::new(false) };
}

/// An operation run on the JavaScript thread; woken from any thread.
struct Task {
    future: Mutex<Option<LocalFuture>>,
    /// Woken since its poll began: polled again, even if the wake was
    /// consumed by a pass run from inside that poll (JavaScript calling in).
    notified: AtomicBool,
    shared: Arc<Shared>,
}

impl std::task::Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notified.store(true, Ordering::Release);
        lock(&self.shared.ready).push(Arc::clone(self));
        if !RUNNING.get() {
            // Unheard only once the instance is gone: its calls have settled.
            let _ = self.shared.poke();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct Shared {
    done: Mutex<Vec<Completion>>,
    /// Tasks to poll, and jobs to run, on the JavaScript thread.
    ready: Mutex<Vec<Arc<Task>>>,
    jobs: Mutex<Vec<Job>>,
    /// A wake-up is on its way: no other is needed until it has run.
    poked: AtomicBool,
    /// The JavaScript environment has ended (a worker thread exited): nothing
    /// is posted, and nothing calls into JavaScript, any more.
    gone: AtomicBool,
    /// What to do when it ends (`Handle::at_environment_end`).
    at_end: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
    /// Operations started and not yet settled; changed only on the JavaScript thread.
    in_flight: AtomicUsize,
    closed: AtomicBool,
    /// Referenced (keeping Node alive) only while operations are in flight.
    wake: Mutex<Option<Arc<Wake>>>,
    /// The cache's hooks, JavaScript functions held strongly: let go with the
    /// threadsafe function, so that a quit instance can be collected.
    hooks: Mutex<Hooks>,
}

#[derive(Default, Clone)]
struct Hooks {
    before_settling: Option<BeforeSettling>,
    fill: Option<Arc<Fill>>,
}

impl Shared {
    fn hooks(&self) -> MutexGuard<'_, Hooks> {
        self.hooks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) -> MutexGuard<'_, Option<Arc<Wake>>> {
        self.wake.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Has the JavaScript thread run `drain` soon; false when it cannot
    /// (the instance has quit, or its environment is shutting down).
    fn poke(&self) -> bool {
        if self.gone.load(Ordering::Acquire) {
            return false;
        }
        if self.poked.swap(true, Ordering::AcqRel) {
            return true;
        }
        let called = match self.wake().as_ref() {
            Some(wake) => wake.call((), ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok,
            None => false,
        };
        if !called {
            self.poked.store(false, Ordering::Release);
        }
        called
    }

    /// Lets the threadsafe function go once closed and idle; the last clone
    /// dropped releases it, and Node closes its handle.
    fn release_if_idle(&self) -> bool {
        let idle = self.in_flight.load(Ordering::Acquire) == 0;
        if idle && self.closed.load(Ordering::Acquire) {
            drop(self.wake().take());
            drop(std::mem::take(&mut *self.hooks()));
        }
        idle
    }
}

pub struct Settler {
    shared: Arc<Shared>,
    /// With a hosted connection: the hook that ends it with the environment,
    /// removed if this instance goes first.
    cleanup: Option<(sys::napi_env, CleanupEnvHook<Weak<Shared>>)>,
}

impl Settler {
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared::default()),
            cleanup: None,
        }
    }

    /// Has `hook` run on the JavaScript thread before every batch of
    /// answers is settled (the cache's invalidations); set once.
    pub fn before_settling(&self, hook: impl Fn(&Env) + Send + Sync + 'static) {
        self.shared.hooks().before_settling = Some(Arc::new(hook));
    }

    /// Has every `Output::Cacheable` answer handed to `fill` as it settles;
    /// set once. Done here rather than in a `then` of the Promise: a chained
    /// Promise per read kept enough short-lived objects alive across
    /// scavenges that V8 doubled its young generation (the soak test saw it).
    pub fn on_fill(&self, fill: Fill) {
        self.shared.hooks().fill = Some(Arc::new(fill));
    }

    fn wake(&self, env: &Env) -> Result<Arc<Wake>> {
        let mut slot = self.shared.wake();
        if let Some(wake) = slot.as_ref() {
            return Ok(Arc::clone(wake));
        }
        let drained = Arc::clone(&self.shared);
        let noop = env.create_function_from_closure::<(), (), _>("settle", |_| Ok(()))?;
        let wake = Arc::new(
            noop.build_threadsafe_function::<()>()
                .weak::<true>()
                .callee_handled::<false>()
                .build_callback(move |ctx: ThreadsafeCallContext<()>| {
                    drain(&ctx.env, &drained);
                    Ok(())
                })?,
        );
        *slot = Some(Arc::clone(&wake));
        Ok(wake)
    }

    /// Runs `work` on the runtime; the returned Promise settles with its output.
    pub fn spawn<'env, F>(&self, env: &'env Env, style: Style, work: F) -> Result<Unknown<'env>>
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        let runtime = match super::runtime::get() {
            Ok(runtime) => runtime,
            Err(err) => return self.settled(env, style, Err(err)),
        };
        let (wake, deferred, promise) = self.begin(env)?;
        let shared = Arc::clone(&self.shared);
        super::dispatch::run(runtime, async move {
            completing(&shared, deferred, style, work).await;
            drop(wake);
            let _ = shared.poke();
        });
        Ok(promise)
    }

    /// Runs `work` here, on the JavaScript thread: polled at once (so that
    /// its request is written before this call returns) and whenever it is
    /// woken; the returned Promise settles with its output.
    pub fn spawn_local<'env, F>(
        &self,
        env: &'env Env,
        style: Style,
        work: F,
    ) -> Result<Unknown<'env>>
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        let runtime = match super::runtime::get() {
            Ok(runtime) => runtime,
            Err(err) => return self.settled(env, style, Err(err)),
        };
        let (_wake, deferred, promise) = self.begin(env)?;
        let shared = Arc::clone(&self.shared);
        let task = Arc::new(Task {
            future: Mutex::new(Some(Box::pin(async move {
                completing(&shared, deferred, style, work).await;
            }))),
            notified: AtomicBool::new(false),
            shared: Arc::clone(&self.shared),
        });
        lock(&self.shared.ready).push(task);
        let _inside = runtime.enter();
        run_tasks(&self.shared);
        // Settled from the event loop, not within this call, as on the runtime.
        if !lock(&self.shared.done).is_empty() {
            let _ = self.shared.poke();
        }
        Ok(promise)
    }

    /// A call begins: its Promise, and the threadsafe function referenced
    /// (keeping Node alive) while any call is in flight.
    fn begin<'env>(&self, env: &'env Env) -> Result<(Arc<Wake>, Deferred, Unknown<'env>)> {
        let wake = self.wake(env)?;
        let (deferred, promise) = promise(env)?;
        if self.shared.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            // The status may be ignored: Node fails this call only for a null
            // function, and `wake` holds a live one.
            // SAFETY: on the JavaScript thread, with the function this instance owns.
            unsafe { sys::napi_ref_threadsafe_function(env.raw(), wake.raw()) };
        }
        Ok((wake, deferred, promise))
    }

    /// What a hosted connection's socket needs of this instance.
    pub fn handle(&self) -> Handle {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Builds the threadsafe function now, so that `post` works before the first call.
    /// Also ends what waits on the JavaScript thread when its environment
    /// ends (a worker thread exiting with calls in flight): otherwise those
    /// tasks, never polled again, would keep their instance alive.
    pub fn prepare(&mut self, env: &Env) -> Result<()> {
        self.wake(env)?;
        if self.cleanup.is_none() {
            let hook = env.add_env_cleanup_hook(Arc::downgrade(&self.shared), environment_ended)?;
            self.cleanup = Some((env.raw(), hook));
        }
        Ok(())
    }

    /// A Promise already settled with `outcome`.
    pub fn settled<'env>(
        &self,
        env: &'env Env,
        style: Style,
        outcome: Outcome,
    ) -> Result<Unknown<'env>> {
        let (deferred, promise) = promise(env)?;
        let fill = self.shared.hooks().fill.clone();
        settle(env, deferred, outcome, style, fill.as_deref());
        Ok(promise)
    }

    /// No more calls are expected: release the threadsafe function as soon
    /// as the operations in flight have settled.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.release_if_idle();
    }
}

impl Drop for Settler {
    fn drop(&mut self) {
        self.close();
        // Dropped by its instance's finalizer, on the JavaScript thread of that
        // env. With calls still in flight (the environment may be ending) the
        // hook stays, to end them; it does nothing once they are gone.
        let idle = self.shared.in_flight.load(Ordering::Acquire) == 0;
        if let (Some((env, hook)), true) = (self.cleanup.take(), idle) {
            if !self.shared.gone.load(Ordering::Acquire) {
                let _ = Env::from_raw(env).remove_env_cleanup_hook(hook);
            }
        }
    }
}

/// The environment's cleanup hook: what waits is ended and let go, without
/// calling into JavaScript (Node is tearing it down).
fn environment_ended(shared: Weak<Shared>) {
    let Some(shared) = shared.upgrade() else {
        return;
    };
    shared.gone.store(true, Ordering::Release);
    for end in std::mem::take(&mut *lock(&shared.at_end)) {
        end();
    }
    drop(std::mem::take(&mut *lock(&shared.ready)));
    drop(std::mem::take(&mut *lock(&shared.jobs)));
    drop(std::mem::take(&mut *lock(&shared.done)));
}

fn promise(env: &Env) -> Result<(Deferred, Unknown<'_>)> {
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: a live env on its own thread; both out-pointers are valid.
    let status = unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::new(
            Status::from(status),
            "could not create a Promise",
        ));
    }
    // SAFETY: `promise` was just created in this env.
    Ok((Deferred(deferred), unsafe {
        Unknown::from_raw_unchecked(env.raw(), promise)
    }))
}

fn settle(env: &Env, deferred: Deferred, outcome: Outcome, style: Style, fill: Option<&Fill>) {
    let value = match (outcome, fill) {
        (Ok(Output::Cacheable(cacheable)), Some(fill)) => fill_cache(env, *cacheable, style, fill),
        (outcome, _) => outcome
            .map_err(|err| convert::error(env, &err))
            .and_then(|output| convert::output(env, output, style)),
    };
    // The status is ignored: Node frees the deferred whether or not it could
    // settle the Promise (it cannot while the environment shuts down), and no
    // caller is left to tell.
    match value {
        // SAFETY: on the JavaScript thread that created `deferred`, which is settled exactly once.
        Ok(value) => unsafe { sys::napi_resolve_deferred(env.raw(), deferred.0, value.raw()) },
        Err(err) => {
            // SAFETY: a live env, on its own thread.
            let reason = unsafe { JsError::from(err).into_value(env.raw()) };
            // SAFETY: on the JavaScript thread that created `deferred`, which is settled exactly once.
            unsafe { sys::napi_reject_deferred(env.raw(), deferred.0, reason) }
        }
    };
}

/// The answer of a cacheable `get`, handed to the cache first: a session
/// with the seconds it has left; anything else frees the cache's place.
fn fill_cache<'env>(
    env: &'env Env,
    cacheable: Cacheable,
    style: Style,
    fill: &Fill,
) -> Result<Unknown<'env>> {
    let Cacheable {
        result,
        token,
        stamp,
    } = cacheable;
    let left = match &result {
        Ok(Reply::Session(Some(session))) => crate::cache::seconds_left(session),
        _ => 0.0,
    };
    let value = result
        .map_err(|err| convert::error(env, &err))
        .and_then(|reply| convert::output(env, Output::Reply(reply), style));
    if let Ok(fill) = fill.borrow_back(env) {
        // The facade's own function, which does not throw; were it to, the
        // Promise must still settle.
        // SAFETY: the answer was made in this env and is passed on within
        // this call; the 'static of `FillArgs` only names the type of the
        // stored function's arguments.
        let answer = value
            .as_ref()
            .ok()
            .map(|answer| unsafe { Unknown::from_raw_unchecked(env.raw(), answer.raw()) });
        let _ = fill.call(FnArgs::from((token, stamp, answer, left)));
    }
    value
}

/// The settler's side for a hosted connection's socket.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// Has `end` run when the JavaScript environment ends.
    pub fn at_environment_end(&self, end: Box<dyn FnOnce() + Send>) {
        lock(&self.shared.at_end).push(end);
    }

    /// Whether the JavaScript environment has ended: then nothing may call into it.
    pub fn is_gone(&self) -> bool {
        self.shared.gone.load(Ordering::Acquire)
    }

    /// Has `job` run on the JavaScript thread soon. False when the instance
    /// has quit (its threadsafe function is gone) or its environment is
    /// shutting down: then it never runs.
    pub fn post(&self, job: Job) -> bool {
        lock(&self.shared.jobs).push(job);
        self.shared.poke()
    }

    /// On the JavaScript thread, within a call from JavaScript: runs `f`,
    /// then whatever it woke, and settles what ended.
    pub fn run_here(&self, env: &Env, f: impl FnOnce()) {
        let was = RUNNING.replace(true);
        f();
        RUNNING.set(was);
        drain(env, &self.shared);
    }
}

/// Runs `work`, a panic in it being an error, and queues its outcome to be settled.
async fn completing<F>(shared: &Shared, deferred: Deferred, style: Style, work: F)
where
    F: Future<Output = Outcome>,
{
    let outcome = AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(SessionError::Internal("the operation panicked".to_owned())));
    lock(&shared.done).push((deferred, outcome, style));
}

/// Polls the ready tasks, and the ones they wake, until none is left.
fn run_tasks(shared: &Shared) {
    let was = RUNNING.replace(true);
    loop {
        let ready = std::mem::take(&mut *lock(&shared.ready));
        if ready.is_empty() {
            break;
        }
        for task in ready {
            let taken = lock(&task.future).take();
            let Some(mut future) = taken else {
                continue;
            };
            task.notified.store(false, Ordering::Release);
            let waker = Waker::from(Arc::clone(&task));
            if future.as_mut().poll(&mut Context::from_waker(&waker)) == Poll::Pending {
                *lock(&task.future) = Some(future);
                if task.notified.load(Ordering::Acquire) {
                    lock(&shared.ready).push(Arc::clone(&task));
                }
            }
        }
    }
    RUNNING.set(was);
}

/// On the JavaScript thread: runs what was posted and the woken tasks, then
/// settles every completed operation.
fn drain(env: &Env, shared: &Shared) {
    shared.poked.store(false, Ordering::Release);
    loop {
        let jobs = std::mem::take(&mut *lock(&shared.jobs));
        let idle = jobs.is_empty() && lock(&shared.ready).is_empty();
        if idle {
            break;
        }
        let was = RUNNING.replace(true);
        for job in jobs {
            job(env);
        }
        RUNNING.set(was);
        match super::runtime::get() {
            Ok(runtime) => {
                let _inside = runtime.enter();
                run_tasks(shared);
            }
            Err(_) => break,
        }
    }
    let done = std::mem::take(&mut *shared.done.lock().unwrap_or_else(PoisonError::into_inner));
    let hooks = shared.hooks().clone();
    if let Some(hook) = &hooks.before_settling {
        hook(env);
    }
    for (deferred, outcome, style) in done {
        shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        settle(env, deferred, outcome, style, hooks.fill.as_deref());
    }
    if shared.release_if_idle() {
        if let Some(wake) = shared.wake().as_ref() {
            // The status may be ignored: Node fails this call only for a null
            // function, and `wake` is a live one.
            // SAFETY: on the JavaScript thread; nothing in flight, so Node may exit.
            unsafe { sys::napi_unref_threadsafe_function(env.raw(), wake.raw()) };
        }
    }
}
