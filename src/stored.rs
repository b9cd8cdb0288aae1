//! The name a session is stored under (option `hashTokens`): its token, or
//! a one-way function of it, so that no client token is ever at rest in
//! Redis (key names, index members, cache messages, MONITOR).
//!
//! A hashed name has a token's shape, so the reference's key layout and its
//! parsing of index members hold: 64 characters of the token alphabet. The
//! first 55 are SHA-512 over `DOMAIN` and the token, one byte per character
//! (`byte % 61`); the last 9 are the token's own `Z` and creation time in
//! base 36, which `lua/create.lua` reads to order an id's sessions (they are
//! a time, not a secret: the 55 random characters are). In cluster mode the
//! first two characters stay the token's, since they name its bucket
//! (`layout.rs`), so a session and its hashed name share a slot.
//!
//! No key: tokens carry over 300 random bits, so a plain hash cannot be
//! searched back, and every instance of a fleet computes the same name with
//! no secret to share. Changing any of this moves every hashed session: it is
//! part of the stored format.

use sha2::{Digest, Sha512};

use crate::keys::TOKEN_LEN;
use crate::token::ALPHABET;

/// Hashed before the token, so the name is no other SHA-512 of it.
const DOMAIN: &str = "redis-sessions-rs stored name\0";
/// The token's characters kept at the end: `Z` and the creation time.
const KEPT_TAIL: usize = 9;
/// A cluster token's first characters name its bucket.
const BUCKET_CHARS: usize = 2;

/// What `hashTokens` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hashing {
    /// The reference's: a session is stored under its token.
    #[default]
    Off,
    /// `true`: stored under the hashed name, marked as hashed.
    On,
    /// `'migrate'`: as `On`, and a session still stored under its token
    /// moves to its hashed name the first time the token is used.
    Migrate,
}

impl Hashing {
    pub fn is_on(self) -> bool {
        self != Self::Off
    }
}

/// How session names are made for this instance.
#[derive(Debug, Clone, Copy)]
pub struct Names {
    pub hashing: Hashing,
    /// Cluster mode: keep the token's bucket characters.
    keep_bucket: bool,
}

impl Names {
    pub fn new(hashing: Hashing, keep_bucket: bool) -> Self {
        Self {
            hashing,
            keep_bucket,
        }
    }

    /// The name this instance stores the session of `token` under.
    pub fn stored(&self, token: &str) -> String {
        if self.hashing.is_on() {
            hashed(token, self.keep_bucket)
        } else {
            token.to_owned()
        }
    }
}

/// The hashed name of `token`; a token of another shape than 64 ASCII
/// characters (validation lets none through) is hashed whole.
pub fn hashed(token: &str, keep_bucket: bool) -> String {
    let digest = Sha512::new()
        .chain_update(DOMAIN)
        .chain_update(token)
        .finalize();
    let well_formed = token.len() == TOKEN_LEN && token.is_ascii();
    let head = if keep_bucket && well_formed {
        BUCKET_CHARS
    } else {
        0
    };
    let tail = if well_formed { KEPT_TAIL } else { 0 };
    let mut name = String::with_capacity(TOKEN_LEN);
    name.push_str(token.get(..head).unwrap_or_default());
    name.extend(
        digest
            .iter()
            .skip(head)
            .take(TOKEN_LEN - head - tail)
            .filter_map(|byte| ALPHABET.get(usize::from(byte % 61)))
            .map(|&b| char::from(b)),
    );
    name.push_str(token.get(TOKEN_LEN - tail..).unwrap_or_default());
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{bucket_of_token, Layout};

    /// Pinned: every instance of a fleet, and every version, must agree.
    #[test]
    fn the_hashed_name_is_pinned() {
        let token = format!("{}Zmii4pomz", "a".repeat(55));
        let name = hashed(&token, false);
        assert_eq!(name.len(), 64);
        assert_eq!(&name[55..], "Zmii4pomz");
        assert_eq!(&name[..55], PINNED);
        assert_eq!(hashed(&token, true)[..2], token[..2]);
        assert_eq!(hashed(&token, true)[2..55], name[2..55]);
    }
    const PINNED: &str = "dx3zb8VECX2G5rsamtidTxgzXgluJsJjD6hyV9qv2nvSblTUw5Ny7o0";

    #[test]
    fn a_hashed_name_has_a_tokens_shape_and_keeps_its_bucket() {
        let layout = Layout::cluster("rs");
        for id in ["alice", "bob", "u:1"] {
            let mut token = crate::token::create(1_764_290_000_123).unwrap_or_default();
            layout.mark_token(&mut token, id);
            let name = Names::new(Hashing::On, true).stored(&token);
            assert_eq!(name.len(), 64);
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_ne!(name, token);
            assert_eq!(bucket_of_token(&name), bucket_of_token(&token));
            assert!(crate::keys::split_app_member(&format!("{name}:{id}")).is_some());
            // Not a name that a second hashing would leave alone: a stored
            // name presented as a token names another session.
            assert_ne!(Names::new(Hashing::On, true).stored(&name), name);
        }
    }

    #[test]
    fn off_keeps_the_token() {
        let token = "T".repeat(64);
        assert_eq!(Names::new(Hashing::Off, true).stored(&token), token);
        assert_ne!(Names::new(Hashing::Migrate, false).stored(&token), token);
        assert_eq!(hashed("short", false).len(), 64);
    }
}
