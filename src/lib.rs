//! redis-sessions-rs: the engine of a drop-in replacement for the npm package
//! `redis-sessions`, on the same Redis keys. The Node binding is the `node`
//! feature; everything else is plain Rust, tested without Node.

pub mod cache;
mod clock;
pub mod config;
pub mod connection;
pub mod data;
pub mod error;
pub mod js;
pub mod keys;
pub mod layout;
pub mod redact;
mod reply;
mod scripts;
pub mod session;
pub mod store;
mod subscriber;
pub mod target;
pub mod token;
pub mod validate;
pub mod wipe;

#[cfg(feature = "node")]
mod node;

pub use config::{Config, RawOptions};
pub use error::{Result, SessionError};
pub use session::Session;
pub use store::Store;
pub use validate::{Arg, Args, DataArg, Style};
