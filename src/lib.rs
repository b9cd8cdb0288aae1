//! redis-sessions-rs: the engine of a drop-in replacement for the npm package
//! `redis-sessions`, on the same Redis keys. The Node binding is the `node`
//! feature; everything else is plain Rust, tested without Node.
//!
//! The modules (this is the one list of them; CONTRIBUTING.md points here):
//!
//! - Operations: `operations` (the table of operations: each one's name,
//!   fields, keys and answer; the engine's dispatch and the binding's methods
//!   are made from it), `fields` (the fields of an options object and the
//!   check of each).
//! - Arguments and options: `validate` (argument rules and the reference's
//!   messages), `js` (JavaScript number and string semantics), `config`
//!   (constructor options into settings), `target` (where to connect:
//!   standalone, Sentinel or Cluster; TLS and credentials), `settings` (how
//!   every connection is opened: timeouts, keepalive; the one struct a
//!   connection option is added to), `error` (`SessionError`, the `name` and
//!   message JavaScript sees, and what a Redis failure says about the
//!   connection), `redact` (no password or quoted data in messages and
//!   `Debug` output).
//! - Data: `keys` (the reference's key layout), `layout` (which keys hold a
//!   session: the reference's, or cluster mode's buckets), `token`, `data`
//!   (`d` as `JSON.stringify` writes it), `session` (decoding a hash), `reply`
//!   (reading script replies), `clock`, `handle` (device handles: a
//!   session's one-way short name, and kill by handle's arguments), `sid`
//!   (express-session ids: the token of a sid, the id of an anonymous session),
//!   `stored` (`hashTokens`: the name a session is stored under, its token or
//!   a one-way hash of it), `events` (session events: their messages on
//!   `ns:events`).
//! - Redis: `scripts` and `lua/` (one atomic script per operation, with the
//!   one function that builds its KEYS and ARGV),
//!   `source` (opening redis-rs clients for a target with the settings),
//!   `hosted` (with `REDIS_SESSIONS_NODE_SOCKETS`, a standalone Redis without
//!   TLS through the host's socket: Node's, driven from the JavaScript thread;
//!   framing and matching replies),
//!   `connection` (the shared connection, reconnecting, failovers), `store`
//!   (the methods), `store/migrate` (copying a standalone deployment into a
//!   cluster; its script is `lua/import.lua`), `store/rotate` and
//!   `store/touch` (the two methods of issue 17 whose scripts are
//!   `lua/rotate.lua` and `lua/touch_session.lua`), `store/express` (the
//!   express store's `createWithToken` and `moveToId`: `lua/create_token.lua`,
//!   `lua/move_to_id.lua`), `store/target` (the session a call names by its
//!   token: its stored name and its bucket's keys), `cache` and `subscriber` (what
//!   the in-process cache must forget, and its invalidation over pub/sub;
//!   with `events`, the session events heard there too), `sharded` (in
//!   cluster mode on Redis 7, the events over sharded pub/sub, one channel
//!   per bucket), `wipe`. A script's
//!   optional last argument is `lua/flags.lua`'s (hashTokens' lookup, the
//!   events channel; sent only when on); `lua/adopt.lua` is
//!   `hashTokens: 'migrate'`'s move.
//! - Memory (`memory: true`): `memory/` runs every operation of the table
//!   over an in-process store instead of Redis (`mod`: the instance, the
//!   process's namespaces and the dispatch; `space`: one namespace's data;
//!   `session` and `listing`: the operations' logic; `d`: set's merge;
//!   `cache`: the cache on JavaScript's clock).
//! - `node/` (the `node` feature): the napi-rs binding. `mod` (the
//!   `NativeSessions` class), `args` and `options` (reading JavaScript
//!   arguments and options), `convert` (results and errors as JavaScript
//!   values), `settle` (answering Promises from the engine's tasks, and
//!   running a hosted connection's operations on the JavaScript thread),
//!   `wire` (the hosted connection's Node socket),
//!   `invalidate` (handing the cache's invalidations to JavaScript),
//!   `runtime` (the engine's tokio runtime).
//!
//! Outside `src/`: `index.js` (the facade: callbacks or Promises, bound
//! methods, events), `cache-hits.js` (the cache's answers, kept in
//! JavaScript), `diagnostics.js` (what the facade publishes on
//! `node:diagnostics_channel`), `realm.js` (answers copied into a vm
//! context's own realm, as jest runs tests), `index.d.ts`, `express.js` (the express-session store;
//! `express.mjs`, `express.d.ts`), `bin/migrate-to-cluster.js`, `__test__/`
//! (node:test suites against redis-servers they start; `helpers/` starts
//! them), `tests/` (the engine's property tests), `npm/` (one package per
//! prebuilt platform binary), `benchmark/`, `demo/`.

// Without the Node binding nothing calls the engine, so dead code is checked
// with it: `cargo clippy --all-targets --features node`.
#![cfg_attr(
    not(feature = "node"),
    allow(
        dead_code,
        unused_imports,
        reason = "the engine's callers are in the `node` feature"
    )
)]

// `pub` only for what tests/properties.rs reads; the rest is `pub(crate)`, so
// that rustc reports what nothing uses.
pub(crate) mod cache;
mod clock;
pub(crate) mod config;
pub(crate) mod connection;
pub mod data;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod fields;
pub(crate) mod handle;
pub(crate) mod hosted;
pub mod js;
pub mod keys;
pub(crate) mod layout;
pub(crate) mod memory;
pub(crate) mod operations;
pub(crate) mod redact;
mod reply;
mod scripts;
pub mod session;
pub(crate) mod settings;
mod sharded;
pub(crate) mod sid;
mod source;
pub(crate) mod store;
pub(crate) mod stored;
mod subscriber;
pub(crate) mod target;
pub(crate) mod token;
pub mod validate;
pub(crate) mod wipe;

#[cfg(feature = "node")]
mod node;

pub(crate) use config::{Config, RawOptions};
pub use error::{Result, SessionError};
pub use session::Session;
pub(crate) use store::Store;
pub use validate::{Arg, Args, DataArg, Style};
