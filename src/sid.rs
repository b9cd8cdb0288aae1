//! express-session ids (`redis-sessions-rs/express`): what Redis holds for a
//! session instead of its sid. A sid is a bearer credential (the cookie), so
//! it is never stored: its session's token is a one-way function of it, and a
//! session without a user gets an id that is a one-way function of the token.
//!
//! The token is SHA-256 over `TOKEN_DOMAIN` and the sid, twice (block 0 and
//! 1), 64 bytes each mapped to one of `[A-Za-z0-9]`; then its first two
//! characters are made to name a cluster bucket (`layout`), chosen by the
//! digest, so the same sid has the same token in every mode and the tokens of
//! sids spread evenly over the buckets. Changing any of this loses every
//! express session: it is part of the stored format.

use sha2::{Digest, Sha256};

use crate::handle;
use crate::keys::TOKEN_LEN;
use crate::layout::{self, BUCKETS};

/// Hashed before the block number and the sid; nothing else hashes it.
const TOKEN_DOMAIN: &str = "redis-sessions-rs express-session sid v1";
/// What a token's characters are drawn from: `validate::token`'s alphabet.
const TOKEN_ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// The start of every anonymous id; `:` after it, then the token's handle.
pub const ANONYMOUS_PREFIX: &str = "anonymous";

/// The token of the session whose express-session id is `sid`.
pub fn token_for(sid: &str) -> String {
    let block = |n: u8| {
        Sha256::new()
            .chain_update(TOKEN_DOMAIN)
            .chain_update([0, n])
            .chain_update(sid)
            .finalize()
    };
    let (first, second) = (block(0), block(1));
    let mut token: String = first
        .iter()
        .chain(second.iter())
        .take(TOKEN_LEN)
        .map(|&byte| {
            let symbol = TOKEN_ALPHABET.get(usize::from(byte) % TOKEN_ALPHABET.len());
            char::from(symbol.copied().unwrap_or(b'A'))
        })
        .collect();
    let bucket = first.last().map_or(0, |&byte| usize::from(byte) % BUCKETS);
    layout::mark_bucket(&mut token, bucket);
    token
}

/// The id of a session that belongs to no user: `anonymous:HANDLE:N`, with
/// the token's handle (one-way, so it shows neither token nor sid) and the
/// smallest `N` that puts the id in the bucket the token names. One id per
/// session, so no key collects every anonymous session, and in cluster mode
/// the session's hash and its id's token set share a slot, as for `create`.
pub fn anonymous_id(token: &str) -> String {
    let handle = handle::of(token);
    let bucket = layout::bucket_of_token(token);
    (0u32..4096)
        .map(|n| format!("{ANONYMOUS_PREFIX}:{handle}:{n}"))
        .find(|id| bucket.is_none_or(|b| layout::bucket_of_id(id) == b))
        .unwrap_or_else(|| format!("{ANONYMOUS_PREFIX}:{handle}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_a_valid_token_naming_a_bucket() {
        for sid in ["", "abc", "s%3Afoo.bar", "ü", &"x".repeat(1000)] {
            let token = token_for(sid);
            assert_eq!(token.len(), TOKEN_LEN);
            assert!(crate::validate::token(&crate::Arg::text(token.clone())).is_ok());
            assert!(layout::bucket_of_token(&token).is_some(), "{token}");
            assert_eq!(token_for(sid), token);
        }
        assert_ne!(token_for("a"), token_for("b"));
    }

    /// The mapping is a stored format: deployments depend on these exact
    /// tokens. The value was computed apart, with Node's `crypto`.
    #[test]
    fn the_mapping_is_pinned() {
        assert_eq!(
            token_for("my-sid"),
            "ATO5bnsV6PkiDUGPQ9Gc502BtpMSS4STs0VFlkE8kXXpDaOTYxEMedIx7PlFLDvS"
        );
    }

    #[test]
    fn tokens_spread_over_the_buckets() {
        let mut seen = [0usize; BUCKETS];
        for n in 0..6400 {
            if let Some(b) = layout::bucket_of_token(&token_for(&n.to_string())) {
                seen[b] += 1;
            }
        }
        assert!(
            seen.iter().all(|&count| (50..150).contains(&count)),
            "{seen:?}"
        );
    }

    #[test]
    fn an_anonymous_id_shares_its_tokens_bucket() {
        for n in 0..200 {
            let token = token_for(&n.to_string());
            let id = anonymous_id(&token);
            assert!(id.starts_with(&format!("anonymous:{}:", handle::of(&token))));
            assert_eq!(
                Some(layout::bucket_of_id(&id)),
                layout::bucket_of_token(&token)
            );
            assert_eq!(anonymous_id(&token), id);
        }
    }
}
