//! Device handles: a short name for a session that `soid`/`soapp` show (with
//! `handles: true`) and `kill({app, id, handle})` takes, so that a "your
//! devices" page can log out one device without ever holding its token.
//!
//! A handle is the first `LENGTH` hex digits of SHA-1 over `PREFIX` and the
//! token: one-way (it cannot be turned back into the token, which has about
//! 320 random bits), and what `lua/handle.lua` computes with `redis.sha1hex`,
//! so scripts can name sessions too. The prefix keeps it apart from any other
//! SHA-1 of a token. 64 bits: for a user with k sessions, two of them share a
//! handle with odds below k²/2^65 (1 in 3.7·10^13 for 1,000 sessions); a kill
//! by handle looks only among that user's sessions. Changing any of this
//! changes every handle: it is part of the API.

use sha1::{Digest, Sha1};

use crate::error::{Result, SessionError};
use crate::validate::{self, Arg, Args};

/// Hashed before the token; `lua/handle.lua` uses the same.
const PREFIX: &str = "handle:";
/// Hex digits kept: 64 bits.
pub const LENGTH: usize = 16;

/// The handle of the session with this token.
pub fn of(token: &str) -> String {
    let digest = Sha1::new()
        .chain_update(PREFIX)
        .chain_update(token)
        .finalize();
    digest
        .iter()
        .take(LENGTH / 2)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Exactly `LENGTH` lowercase hex digits, as `of` writes them.
pub fn check(arg: &Arg) -> Result<&str> {
    let handle = match arg {
        Arg::Falsy => return Err(SessionError::MissingParameter("handle")),
        Arg::Text(handle) => handle,
    };
    let ok = handle.len() == LENGTH
        && handle
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(handle.as_str())
        .ok_or(SessionError::InvalidFormat("handle"))
}

/// The session a kill names: by its token, or by its user's id and its handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRef<'a> {
    Token(&'a str),
    Handle { id: &'a str, handle: &'a str },
}

/// A token given (truthy) is checked as the reference checks it and wins;
/// without one, a handle names the session together with the id. Neither:
/// the reference's `No token supplied`.
pub fn token_or_handle(args: &Args) -> Result<SessionRef<'_>> {
    if args.token != Arg::Falsy || args.handle == Arg::Falsy {
        return validate::token(&args.token).map(SessionRef::Token);
    }
    Ok(SessionRef::Handle {
        id: validate::id(&args.id)?,
        handle: check(&args.handle)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf 'handle:aaa…a' | sha1sum` (64 `a`s): 5ed525047bd658652a5d…
    #[test]
    fn a_handle_is_the_start_of_sha1_over_the_prefix_and_token() {
        assert_eq!(of(&"a".repeat(64)), "5ed525047bd65865");
        assert_eq!(of(&"a".repeat(64)).len(), LENGTH);
        assert_ne!(of(&"a".repeat(64)), of(&"b".repeat(64)));
    }

    #[test]
    fn the_format_check_is_strict() {
        let message = |arg: &Arg| check(arg).err().map(|err| err.to_string());
        assert_eq!(message(&Arg::text("5ed525047bd65865")), None);
        for bad in [
            "5ED525047BD65865",
            "5ed525047bd6586",
            "5ed525047bd658650",
            "5ed525047bd6586g",
            "5ed525047bd6586\n",
            " 5ed525047bd6586",
        ] {
            assert_eq!(
                message(&Arg::text(bad)).as_deref(),
                Some("Invalid handle format"),
                "{bad:?}"
            );
        }
        assert_eq!(message(&Arg::Falsy).as_deref(), Some("No handle supplied"));
    }

    #[test]
    fn a_token_wins_and_neither_is_no_token() {
        let handle = "5ed525047bd65865";
        let token = "t".repeat(64);
        let message = |args: &Args| token_or_handle(args).err().map(|err| err.to_string());
        let mut args = Args::default();
        assert_eq!(message(&args).as_deref(), Some("No token supplied"));
        args.id = Arg::text("u1");
        assert_eq!(message(&args).as_deref(), Some("No token supplied"));
        args.handle = Arg::text(handle);
        assert_eq!(
            token_or_handle(&args).ok(),
            Some(SessionRef::Handle { id: "u1", handle })
        );
        args.token = Arg::text("short");
        assert_eq!(message(&args).as_deref(), Some("Invalid token format"));
        args.token = Arg::text(token.clone());
        assert_eq!(token_or_handle(&args).ok(), Some(SessionRef::Token(&token)));
        args.token = Arg::Falsy;
        args.id = Arg::Falsy;
        assert_eq!(message(&args).as_deref(), Some("No id supplied"));
        args.id = Arg::text("a\nb");
        assert_eq!(message(&args).as_deref(), Some("Invalid id format"));
        args.id = Arg::text("u1");
        args.handle = Arg::text("XYZ");
        assert_eq!(message(&args).as_deref(), Some("Invalid handle format"));
    }
}
