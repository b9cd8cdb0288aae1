//! Hands the engine's cache invalidations (`crate::cache`) to the JavaScript
//! cache (`cache-hits.js`) as one call per batch: `(serving, keys, apps, ids)`.
//!
//! Two ways, one batch: a threadsafe function woken when the batch stops
//! being empty (the subscriber's messages reach JavaScript without waiting
//! for an answer), and `flush`, which the settler runs before it settles
//! anything, so that a write this instance made, or a message heard before
//! an answer arrived, is forgotten before that answer is seen.

use std::sync::Arc;

use napi::bindgen_prelude::{FnArgs, Function, FunctionRef};
use napi::threadsafe_function::{ThreadsafeCallContext, ThreadsafeFunctionCallMode};
use napi::{Env, Result};

use crate::cache::{Invalidation, Invalidations};

/// `serving` (`undefined` when unchanged), `APP:TOKEN` keys, then the apps
/// whose sessions go with the id of each (`null`: all of the app's).
type Batch = FnArgs<(Option<bool>, Vec<String>, Vec<String>, Vec<Option<String>>)>;

pub type InvalidateCallback<'a> = Function<'a, Batch, ()>;

fn batch(invalidation: Invalidation) -> Batch {
    let Invalidation {
        serving,
        keys,
        apps,
    } = invalidation;
    let (apps, ids) = apps.into_iter().unzip();
    FnArgs::from((serving, keys, apps, ids))
}

/// Delivers `feed`'s batches to `callback`; returns the flush the settler runs.
pub fn connect(
    env: &Env,
    feed: &Arc<Invalidations>,
    callback: &InvalidateCallback,
) -> Result<impl Fn(&Env) + Send + Sync + 'static> {
    let callback: Arc<FunctionRef<Batch, ()>> = Arc::new(callback.create_ref()?);
    let flush = {
        let feed = Arc::clone(feed);
        move |env: &Env| {
            if let Some(invalidation) = feed.take() {
                // The callback is the facade's own and does not throw; were it
                // to, the answers settled after it must still settle.
                if let Ok(callback) = callback.borrow_back(env) {
                    let _ = callback.call(batch(invalidation));
                }
            }
        }
    };
    let flush = Arc::new(flush);
    // Woken for the subscriber's messages; calls the facade only if the
    // batch was not already handed over by the settler meanwhile.
    let on_wake = Arc::clone(&flush);
    let noop = env.create_function_from_closure::<(), (), _>("invalidate", |_| Ok(()))?;
    let tsfn = noop
        .build_threadsafe_function::<()>()
        // The subscriber's messages must not keep Node alive.
        .weak::<true>()
        .callee_handled::<false>()
        .build_callback(move |ctx: ThreadsafeCallContext<()>| {
            on_wake(&ctx.env);
            Ok(())
        })?;
    feed.on_pending(move || {
        tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking);
    });
    Ok(move |env: &Env| flush(env))
}
