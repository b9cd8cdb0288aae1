//! The session a call names by its token: where each session-scoped
//! operation (get, set, touch, kill, rotate, moveToId, createWithToken) starts.

use super::Store;
use crate::keys::Keys;

/// A session by its stored name and the keys of the bucket that name is in.
pub(super) struct Target<'s> {
    /// The token, or with `hashTokens` its one-way name.
    pub stored: String,
    pub keys: &'s Keys,
}

impl Store {
    /// The session of `token`; `None` in cluster mode when the token names
    /// no bucket (no session can have it).
    pub(super) fn target(&self, token: &str) -> Option<Target<'_>> {
        let stored = self.names.stored(token);
        let keys = self.layout.for_token(&stored)?;
        Some(Target { stored, keys })
    }
}
