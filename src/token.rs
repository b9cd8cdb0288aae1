//! Session tokens: 55 characters from the OS CSPRNG, then `Z`, then the
//! creation time in milliseconds in base 36 — the reference's shape.

use rand::rngs::SysRng;
use rand::TryRng;

use crate::error::{Result, SessionError};

/// The reference's alphabet: no `Z`, which separates the timestamp.
pub const ALPHABET: &[u8; 61] = b"ABCDEFGHIJKLMNOPQRSTUVWXYabcdefghijklmnopqrstuvwxyz0123456789";
const RANDOM_LEN: usize = 55;
/// The largest multiple of 61 that fits a byte; bytes above it are redrawn so
/// every character is equally likely.
const UNBIASED_LIMIT: u8 = 61 * 4;

pub fn create(now_ms: u64) -> Result<String> {
    create_with(&mut SysRng, now_ms)
}

fn create_with(rng: &mut impl TryRng, now_ms: u64) -> Result<String> {
    let mut token = String::with_capacity(64);
    let mut bytes = [0u8; 64];
    while token.len() < RANDOM_LEN {
        // A failing generator is a fault of this machine, not of Redis.
        rng.try_fill_bytes(&mut bytes).map_err(|err| {
            SessionError::Internal(format!("no random numbers from the OS: {err}"))
        })?;
        let symbols = bytes
            .iter()
            .filter(|&&b| b < UNBIASED_LIMIT)
            .filter_map(|&b| ALPHABET.get(usize::from(b % 61)));
        for &symbol in symbols {
            if token.len() == RANDOM_LEN {
                break;
            }
            token.push(char::from(symbol));
        }
    }
    token.push('Z');
    token.push_str(&base36(now_ms));
    Ok(token)
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.extend(DIGITS.get((n % 36) as usize));
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_reference_shape() {
        let now_ms = 1_764_290_000_123;
        let token = create(now_ms).unwrap();
        assert_eq!(token.len(), 64);
        assert!(token[..55].bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(&token[55..56], "Z");
        assert_eq!(u64::from_str_radix(&token[56..], 36).unwrap(), now_ms);
    }

    #[test]
    fn base36_matches_javascript() {
        // (1764290000123).toString(36) in Node.
        assert_eq!(base36(1_764_290_000_123), "mii4pomz");
        assert_eq!(base36(0), "0");
    }

    struct BrokenRng;

    impl TryRng for BrokenRng {
        type Error = std::io::Error;
        fn try_next_u32(&mut self) -> std::result::Result<u32, Self::Error> {
            Err(std::io::Error::other("entropy source gone"))
        }
        fn try_next_u64(&mut self) -> std::result::Result<u64, Self::Error> {
            Err(std::io::Error::other("entropy source gone"))
        }
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> std::result::Result<(), Self::Error> {
            Err(std::io::Error::other("entropy source gone"))
        }
    }

    #[test]
    fn a_failing_generator_is_an_internal_error() {
        let err = create_with(&mut BrokenRng, 0).unwrap_err();
        assert_eq!(err.name(), "internalError");
        assert_eq!(
            err.to_string(),
            "internal error: no random numbers from the OS: entropy source gone"
        );
    }

    #[test]
    fn draws_every_symbol() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            seen.extend(create(0).unwrap()[..55].bytes());
        }
        assert_eq!(seen.len(), 61);
    }
}
