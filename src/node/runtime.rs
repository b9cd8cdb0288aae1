//! The tokio runtime the engine runs on: the binding's own, of one worker
//! thread, for the life of the process.
//!
//! One worker, not napi-rs's one per core: a single JavaScript thread feeds it
//! and one connection's driver serves it, so a second worker only stole tasks
//! and woke threads: less Node CPU per get and set at 1, 100 and 1000 in
//! flight than napi-rs's runtime (`benchmark/NOTES.md` has the measurements).
//!
//! Not handed to napi-rs (`create_custom_tokio_runtime`): napi-rs ties its
//! runtime's life to the Node environments, and so handed over, the
//! worker-threads test crashed (SIGSEGV) as the workers' environments exited.
//! This one lives as long as the process; its thread does not keep Node alive.

use std::sync::LazyLock;

use tokio::runtime::{Builder, Runtime};

use crate::SessionError;

static RUNTIME: LazyLock<std::io::Result<Runtime>> = LazyLock::new(|| {
    Builder::new_multi_thread()
        .worker_threads(1)
        // So that `top -H` and profilers tell whose threads they are.
        .thread_name("redis-sessions")
        .enable_all()
        .build()
});

pub fn get() -> Result<&'static Runtime, SessionError> {
    RUNTIME
        .as_ref()
        .map_err(|err| SessionError::Internal(format!("could not start the async runtime: {err}")))
}
