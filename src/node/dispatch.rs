//! The operations JavaScript starts, run together in one task of the runtime.
//!
//! Spawned as a task each, an operation ran alone: tokio polls the task a
//! waker schedules from the worker itself next (its LIFO slot), so the
//! connection's driver, woken by each request, ran after every one and wrote
//! it in a syscall of its own (at 100 in flight, about one `writev` per get,
//! and one `read` of Redis's). Polled here, up to `CHUNK` operations queue
//! their requests before the driver runs and writes them together.
//! `benchmark/NOTES.md` has the measurements.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

use futures_util::stream::FuturesUnordered;
use futures_util::task::AtomicWaker;
use futures_util::{FutureExt, StreamExt};
use tokio::runtime::Runtime;

type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Operations started per turn of the task. All of a burst at once (a
/// hundred) left Redis idle until the last request was ready, and set at 100
/// in flight lost a tenth of its rate; 4 to 32 kept the rate and most of the
/// saving.
const CHUNK: usize = 16;

/// What JavaScript started and the task has not yet taken.
struct Incoming {
    queue: Mutex<Vec<Work>>,
    waker: AtomicWaker,
}

static INCOMING: LazyLock<Incoming> = LazyLock::new(|| Incoming {
    queue: Mutex::new(Vec::new()),
    waker: AtomicWaker::new(),
});
/// The task is running; cleared if it ends (only by a panic), so that the
/// next call starts another instead of queueing for a task that is gone.
static STARTED: AtomicBool = AtomicBool::new(false);

fn queue() -> MutexGuard<'static, Vec<Work>> {
    INCOMING
        .queue
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Runs `work` on `runtime`, beside the other operations started.
pub fn run(runtime: &Runtime, work: impl Future<Output = ()> + Send + 'static) {
    if !STARTED.swap(true, Ordering::AcqRel) {
        runtime.spawn(operations());
    }
    let first = {
        let mut queue = queue();
        queue.push(Box::pin(work));
        queue.len() == 1
    };
    // Behind the first, the task has been woken and has not yet taken the queue.
    if first {
        INCOMING.waker.wake();
    }
}

/// Clears `STARTED` when the task ends, so that a panic outside the
/// operations' own `catch_unwind` cannot leave later calls unanswered.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        STARTED.store(false, Ordering::Release);
    }
}

/// The task: takes what was started, then polls whatever is ready. Each
/// operation runs unconstrained by tokio's budget, which is one task's: a
/// hundred operations in this one would exhaust it, and be told to wait by
/// channels and timers that are ready. So an operation must not loop on
/// futures that are always ready (none does): nothing would make it yield.
/// A panic ends its operation only (the operations catch their own; this is
/// for what runs after them).
async fn operations() {
    let _restarted_if_it_ends = Running;
    let mut running = FuturesUnordered::new();
    std::future::poll_fn(|cx| {
        INCOMING.waker.register(cx.waker());
        let more = {
            let mut queue = queue();
            let taken = queue.len().min(CHUNK);
            running.extend(
                queue
                    .drain(..taken)
                    .map(|work| tokio::task::unconstrained(AssertUnwindSafe(work).catch_unwind())),
            );
            !queue.is_empty()
        };
        while let Poll::Ready(Some(_)) = running.poll_next_unpin(cx) {}
        // A turn of its own for the rest, after the driver has written these.
        if more {
            cx.waker().wake_by_ref();
        }
        Poll::<()>::Pending
    })
    .await;
}
