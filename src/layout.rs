//! Which keys hold a session: the reference's, or in cluster mode one of
//! `BUCKETS` groups, each under its own hash tag.
//!
//! Cluster layout: an id belongs to bucket `crc16(id) % BUCKETS`, so a user's
//! sessions and indexes share a slot and `soid`/`killsoid` stay one call; the
//! first two characters of a token name its bucket, so `get`/`set`/`kill`
//! reach one slot in one round trip; app-wide answers gather every bucket.
//! Each bucket's keys are the reference's under the prefix `{NS:B:K}:`, where
//! `K` is the smallest number that puts bucket `B` in the `B`-th of `BUCKETS`
//! equal slot ranges, so the buckets spread evenly over masters that split
//! the slots evenly. Changing any of this moves every session: it is part of
//! the stored format.

use crate::keys::Keys;
use crate::token::ALPHABET;

pub const BUCKETS: usize = 64;
const SLOTS: usize = 16384;

#[derive(Debug, Clone)]
pub enum Layout {
    Standalone(Keys),
    Cluster {
        /// `NS:`, for the cache channel and the wipe lock.
        base: Keys,
        buckets: Vec<Keys>,
    },
}

/// Redis Cluster's key hash: CRC16/XMODEM over the whole text.
fn crc16(text: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(text)
}

fn bucket_prefix(namespace: &str, bucket: usize) -> String {
    let (low, high) = (bucket * SLOTS / BUCKETS, (bucket + 1) * SLOTS / BUCKETS);
    (0u32..)
        .map(|k| format!("{namespace}:{bucket}:{k}"))
        .find(|tag| (low..high).contains(&usize::from(crc16(tag.as_bytes()) % SLOTS as u16)))
        .map_or_else(
            || format!("{{{namespace}:{bucket}}}:"),
            |tag| format!("{{{tag}}}:"),
        )
}

pub fn bucket_of_id(id: &str) -> usize {
    usize::from(crc16(id.as_bytes())) % BUCKETS
}

/// The bucket a token names, if it names one.
pub fn bucket_of_token(token: &str) -> Option<usize> {
    let digit = |i: usize| {
        let c = token.as_bytes().get(i)?;
        ALPHABET.iter().position(|a| a == c)
    };
    let bucket = digit(0)? * ALPHABET.len() + digit(1)?;
    (bucket < BUCKETS).then_some(bucket)
}

/// Writes `bucket` into the first two characters of a token.
pub fn mark_bucket(token: &mut String, bucket: usize) {
    let symbol = |i: usize| ALPHABET.get(i).map_or('A', |&b| char::from(b));
    let code: String = [
        symbol(bucket / ALPHABET.len()),
        symbol(bucket % ALPHABET.len()),
    ]
    .into_iter()
    .collect();
    if token.is_char_boundary(2) {
        token.replace_range(..2, &code);
    }
}

impl Layout {
    pub fn standalone(namespace: &str) -> Self {
        Self::Standalone(Keys::new(namespace))
    }

    pub fn cluster(namespace: &str) -> Self {
        Self::Cluster {
            base: Keys::new(namespace),
            buckets: (0..BUCKETS)
                .map(|b| Keys::with_prefix(bucket_prefix(namespace, b)))
                .collect(),
        }
    }

    /// `NS:` keys that are not a session's: the cache channel, the wipe lock.
    pub fn base(&self) -> &Keys {
        match self {
            Self::Standalone(keys) => keys,
            Self::Cluster { base, .. } => base,
        }
    }

    /// Every group of keys, for app-wide answers and the wipe.
    pub fn all(&self) -> &[Keys] {
        match self {
            Self::Standalone(keys) => std::slice::from_ref(keys),
            Self::Cluster { buckets, .. } => buckets,
        }
    }

    pub fn for_id(&self, id: &str) -> &Keys {
        match self {
            Self::Standalone(keys) => keys,
            Self::Cluster { buckets, base } => buckets.get(bucket_of_id(id)).unwrap_or(base),
        }
    }

    /// In cluster mode, when a session with this token, whose hash and own
    /// index entries are all in the token's bucket, is not in its id's bucket:
    /// the id's bucket, where `soid` and `killsoid` look, must also list it
    /// (a session the express store names by its sid).
    pub fn elsewhere_from_id(&self, token: &str, id: &str) -> Option<&Keys> {
        match self {
            Self::Standalone(_) => None,
            Self::Cluster { .. } => {
                (bucket_of_token(token) != Some(bucket_of_id(id))).then(|| self.for_id(id))
            }
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster { .. })
    }

    /// `None`: no session can have this token in this layout.
    pub fn for_token(&self, token: &str) -> Option<&Keys> {
        match self {
            Self::Standalone(keys) => Some(keys),
            Self::Cluster { buckets, .. } => buckets.get(bucket_of_token(token)?),
        }
    }

    /// Makes a fresh token name the bucket of `id`.
    pub fn mark_token(&self, token: &mut String, id: &str) {
        if let Self::Cluster { .. } = self {
            mark_bucket(token, bucket_of_id(id));
        }
    }

    /// Makes a fresh token name the bucket `like` names, so that the session
    /// of either token is in the same slot (rotate).
    pub fn mark_token_like(&self, token: &mut String, like: &str) {
        if let (Self::Cluster { .. }, Some(bucket)) = (self, bucket_of_token(like)) {
            mark_bucket(token, bucket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_is_redis_cluster_hash() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b"foo") % 16384, 12182);
    }

    #[test]
    fn buckets_spread_over_equal_slot_ranges() {
        let Layout::Cluster { buckets, .. } = Layout::cluster("rs") else {
            panic!("cluster layout expected");
        };
        for (b, keys) in buckets.iter().enumerate() {
            let prefix = keys.prefix();
            assert!(prefix.starts_with(&format!("{{rs:{b}:")) && prefix.ends_with("}:"));
            let tag = &prefix[1..prefix.len() - 2];
            let slot = usize::from(crc16(tag.as_bytes()) % 16384);
            assert_eq!(slot * BUCKETS / SLOTS, b, "{prefix}");
        }
    }

    /// The layout is a stored format: deployments depend on these exact names.
    #[test]
    fn the_layout_is_pinned() {
        let layout = Layout::cluster("rs");
        assert_eq!(layout.all()[5].prefix(), "{rs:5:133}:");
        assert_eq!(bucket_of_id("alice"), usize::from(crc16(b"alice")) % 64);
        assert_eq!(layout.base().cache_channel(), "rs:cache");
        assert_eq!(layout.base().wipe_lock(), "rs:_wipelock");
        assert_eq!(bucket_of_token(&format!("BC{}", "x".repeat(62))), Some(63));
        assert_eq!(bucket_of_token(&format!("BD{}", "x".repeat(62))), None);
    }

    #[test]
    fn a_token_carries_the_bucket_of_its_id() {
        let layout = Layout::cluster("rs");
        for id in ["alice", "bob", "user:42", "ü", ""] {
            let mut token = crate::token::create(1_700_000_000_000).unwrap();
            layout.mark_token(&mut token, id);
            assert_eq!(token.len(), 64);
            assert_eq!(bucket_of_token(&token), Some(bucket_of_id(id)));
            assert_eq!(
                layout.for_token(&token).unwrap().prefix(),
                layout.for_id(id).prefix()
            );
        }
        assert_eq!(bucket_of_token(&"z".repeat(64)), None);
    }

    #[test]
    fn a_rotated_token_keeps_the_bucket_of_the_old_one() {
        let layout = Layout::cluster("rs");
        let mut old = crate::token::create(1_700_000_000_000).unwrap();
        layout.mark_token(&mut old, "alice");
        let mut new = crate::token::create(1_700_000_000_001).unwrap();
        layout.mark_token_like(&mut new, &old);
        assert_ne!(new, old);
        assert_eq!(bucket_of_token(&new), bucket_of_token(&old));
        assert_eq!(
            layout.for_token(&new).unwrap().session("app", "T"),
            layout.for_token(&old).unwrap().session("app", "T")
        );
        let mut unmarked = "a".repeat(64);
        Layout::standalone("rs").mark_token_like(&mut unmarked, &old);
        assert_eq!(unmarked, "a".repeat(64));
    }

    #[test]
    fn a_token_from_elsewhere_is_listed_in_its_ids_bucket() {
        let layout = Layout::cluster("rs");
        let mut home = crate::token::create(1_700_000_000_000).unwrap();
        layout.mark_token(&mut home, "alice");
        assert!(layout.elsewhere_from_id(&home, "alice").is_none());
        let mut away = home.clone();
        mark_bucket(&mut away, (bucket_of_id("alice") + 1) % BUCKETS);
        assert_eq!(
            layout.elsewhere_from_id(&away, "alice").map(Keys::prefix),
            Some(layout.for_id("alice").prefix())
        );
        assert!(Layout::standalone("rs")
            .elsewhere_from_id(&away, "alice")
            .is_none());
    }

    #[test]
    fn standalone_is_the_reference() {
        let layout = Layout::standalone("rs");
        assert_eq!(layout.for_id("x").session("app", "T"), "rs:app:T");
        assert_eq!(layout.all().len(), 1);
        let mut token = "a".repeat(64);
        layout.mark_token(&mut token, "x");
        assert_eq!(token, "a".repeat(64));
    }
}
