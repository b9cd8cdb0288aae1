//! The binding's allocator: mimalloc, for the binding's own allocations only
//! (Node's are untouched), committing memory lazily.

// Every operation allocates a tokio task (aligned to 128 bytes) and a redis-rs
// future of over a kilobyte, both past glibc's per-thread cache, so each took
// malloc's slow path; mimalloc measured 10% less Node CPU per get and per set.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit` of mimalloc.h's `mi_option_e`, which
/// libmimalloc-sys does not name.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

#[napi_derive::module_init]
fn commit_memory_lazily() {
    // Committing arenas eagerly (mimalloc's default on Linux) raised the peak
    // RSS of 1000 gets in flight from 79 MB (glibc) to 93–99 MB; lazily, 73 MB.
    // SAFETY: options may be set at any time; this one is read when memory is committed.
    unsafe { libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0) };
}
