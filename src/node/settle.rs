//! Settles the Promises of all of an instance's operations through one
//! threadsafe function, woken once per batch of completions.
//!
//! napi-rs's `spawn_future` creates a threadsafe function (a libuv handle)
//! for every call and wakes the event loop once per call; at thousands of
//! calls a second that was most of the Node CPU per operation.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use napi::bindgen_prelude::{JsValue, Unknown};
use napi::threadsafe_function::{
    ThreadsafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode,
};
use napi::{sys, Env, JsError, Result, Status};

use super::convert::{self, Output};
use crate::{SessionError, Style};

/// A promise's resolver, settled only on the JavaScript thread that made it.
struct Deferred(sys::napi_deferred);

// SAFETY: the handle is only carried through the queue by other threads; it is
// used (settled) solely in `drain`, on the JavaScript thread that created it.
unsafe impl Send for Deferred {}

type Completion = (Deferred, std::result::Result<Output, SessionError>, Style);

type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

#[derive(Default)]
struct Shared {
    done: Mutex<Vec<Completion>>,
    in_flight: AtomicUsize,
    /// The threadsafe function, referenced (keeping Node alive) only while
    /// operations are in flight.
    raw_wake: AtomicPtr<sys::napi_threadsafe_function__>,
}

pub struct Settler {
    shared: Arc<Shared>,
    wake: Arc<Wake>,
}

impl Settler {
    pub fn new(env: &Env) -> Result<Self> {
        let shared = Arc::new(Shared::default());
        let drained = Arc::clone(&shared);
        let noop = env.create_function_from_closure::<(), (), _>("settle", |_| Ok(()))?;
        let wake: Wake = noop
            .build_threadsafe_function::<()>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(move |ctx: ThreadsafeCallContext<()>| {
                drain(&ctx.env, &drained);
                Ok(())
            })?;
        shared.raw_wake.store(wake.raw(), Ordering::Release);
        Ok(Self {
            shared,
            wake: Arc::new(wake),
        })
    }

    /// Runs `work` on the runtime; the returned Promise settles with its output.
    pub fn spawn<'env, F>(&self, env: &'env Env, style: Style, work: F) -> Result<Unknown<'env>>
    where
        F: Future<Output = std::result::Result<Output, SessionError>> + Send + 'static,
    {
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
        if self.shared.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            // SAFETY: on the JavaScript thread, with the function this instance owns.
            unsafe { sys::napi_ref_threadsafe_function(env.raw(), self.wake.raw()) };
        }
        let shared = Arc::clone(&self.shared);
        let wake = Arc::clone(&self.wake);
        let deferred = Deferred(deferred);
        napi::bindgen_prelude::spawn(async move {
            let outcome = AssertUnwindSafe(work)
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    Err(SessionError::Internal("the operation panicked".to_owned()))
                });
            let first = {
                let mut done = shared.done.lock().unwrap_or_else(PoisonError::into_inner);
                done.push((deferred, outcome, style));
                done.len() == 1
            };
            if first {
                wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
            }
        });
        // SAFETY: `promise` was just created in this env.
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), promise) })
    }
}

/// On the JavaScript thread: settles every completed operation.
fn drain(env: &Env, shared: &Shared) {
    let done = std::mem::take(&mut *shared.done.lock().unwrap_or_else(PoisonError::into_inner));
    for (deferred, outcome, style) in done {
        shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        let value = outcome
            .map_err(|err| convert::error(env, &err))
            .and_then(|output| convert::output(env, output, style));
        // SAFETY: on the JavaScript thread that created `deferred`, which is settled exactly once.
        unsafe {
            match value {
                Ok(value) => sys::napi_resolve_deferred(env.raw(), deferred.0, value.raw()),
                Err(err) => sys::napi_reject_deferred(
                    env.raw(),
                    deferred.0,
                    JsError::from(err).into_value(env.raw()),
                ),
            };
        }
    }
    if shared.in_flight.load(Ordering::Acquire) == 0 {
        // SAFETY: on the JavaScript thread; nothing in flight, so Node may exit.
        unsafe {
            sys::napi_unref_threadsafe_function(env.raw(), shared.raw_wake.load(Ordering::Acquire))
        };
    }
}
