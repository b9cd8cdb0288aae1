//! Keeping secrets out of messages and `Debug` output: passwords in URLs, and
//! the values Redis quotes in its error replies. Shown as redis-rs shows the
//! password of a `RedisConnectionInfo`: `<redacted>`.

use std::fmt;

pub const REDACTED: &str = "<redacted>";

/// Query parameters that carry a password (redis-rs reads `pass` in
/// `redis+unix:` URLs).
const SECRET_PARAMS: [&str; 2] = ["pass", "password"];

/// `url` with its password replaced: `user:<redacted>@host`, and a userinfo
/// without `:` (which some clients read as a password) as `<redacted>@host`.
/// Works on text that is not a valid URL too: it is quoted in the errors
/// that say a URL is bad.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at_checked(authority_end).unwrap_or((rest, ""));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:{REDACTED}@{host}"),
            None => format!("{REDACTED}@{host}"),
        },
        None => authority.to_owned(),
    };
    format!("{scheme}{authority}{}", redact_query(tail))
}

/// The path, query and fragment with the values of `SECRET_PARAMS` replaced.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, format!("#{fragment}")),
        None => (query, String::new()),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.contains(&name.to_ascii_lowercase().as_str()) => {
                format!("{name}={REDACTED}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}{fragment}", pairs.join("&"))
}

/// What a Redis reply error says, without what it quotes. Redis quotes the
/// arguments it was given (`unknown command 'HSET', with args beginning with:
/// 'ns:app:TOKEN' 'd' '{...}'`) and Lua quotes names and values in its
/// messages, so the text stops at the first opening quote; the code and the
/// reason before it stay. Not quotes: an apostrophe inside a word (`can't`),
/// and the quotes redis-rs puts around a code it does not know (`"NOAUTH":`).
pub fn unquoted(text: &str) -> String {
    let mut kept = String::new();
    let mut rest = text;
    while let Some((at, quote)) = opening_quote(rest) {
        let (before, quoted) = rest.split_at_checked(at).unwrap_or((rest, ""));
        kept.push_str(before);
        let inside = quoted.get(quote.len_utf8()..).unwrap_or_default();
        match inside.split_once(quote) {
            Some((code, after)) if is_error_code(code) && after.starts_with(':') => {
                kept.push_str(code);
                rest = after;
            }
            _ => return kept.trim_end_matches(TRAILING).to_owned(),
        }
    }
    kept.push_str(rest);
    kept.trim_end_matches(TRAILING).to_owned()
}

/// What is left dangling where a message is cut.
const TRAILING: [char; 5] = [' ', ',', ':', '(', '['];

/// Where the first quote that is not an apostrophe inside a word is.
fn opening_quote(text: &str) -> Option<(usize, char)> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let is_word = |c: Option<&(usize, char)>| c.is_some_and(|(_, c)| c.is_alphanumeric());
    chars
        .iter()
        .enumerate()
        .find(|(i, (_, c))| {
            matches!(c, '\'' | '"')
                && !(is_word(i.checked_sub(1).and_then(|p| chars.get(p)))
                    && is_word(chars.get(i + 1)))
        })
        .map(|(_, found)| *found)
}

/// A Redis error code, such as `NOAUTH` or `WRONGPASS`.
fn is_error_code(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `Debug` for an optional secret: whether it is set, never its contents.
pub struct Redacted<'a, T>(pub &'a Option<T>);

impl<T> fmt::Debug for Redacted<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => write!(f, "Some({REDACTED})"),
            None => f.write_str("None"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_keeps_everything_but_its_password() {
        for (url, shown) in [
            (
                "redis://alice:s3cret@host:6390/2",
                "redis://alice:<redacted>@host:6390/2",
            ),
            ("rediss://:s3cret@host", "rediss://:<redacted>@host"),
            ("redis://s3cret@host:1", "redis://<redacted>@host:1"),
            (
                "redis://a:b:s3cret@h/0?protocol=3",
                "redis://a:<redacted>@h/0?protocol=3",
            ),
            ("redis://a:p@ss@s3cret@h", "redis://a:<redacted>@h"),
            ("alice:s3cret@host:6379", "alice:<redacted>@host:6379"),
            (
                "redis+unix:///tmp/r.sock?db=1&pass=s3cret&user=u#x",
                "redis+unix:///tmp/r.sock?db=1&pass=<redacted>&user=u#x",
            ),
            (
                "redis://h/?PASSWORD=s3cret",
                "redis://h/?PASSWORD=<redacted>",
            ),
            ("redis://host:6379", "redis://host:6379"),
            ("", ""),
            ("redis://ü:ß@ñ", "redis://ü:<redacted>@ñ"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            assert!(!redact_url(url).contains("s3cret"));
        }
    }

    #[test]
    fn a_reply_error_stops_before_what_it_quotes() {
        assert_eq!(
            unquoted("ERR unknown command 'HSET', with args beginning with: 'rs:a:T' 'd'"),
            "ERR unknown command"
        );
        assert_eq!(
            unquoted(
                "ERR user_script:1: Script attempted to access nonexistent global variable 'x'"
            ),
            "ERR user_script:1: Script attempted to access nonexistent global variable"
        );
        assert_eq!(
            unquoted("Incompatible type - \"Could not convert\" (value was bulk-string('\"9\"'))"),
            "Incompatible type -"
        );
        for plain in [
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "READONLY You can't write against a read only replica.",
        ] {
            assert_eq!(unquoted(plain), plain);
        }
        assert_eq!(
            unquoted("\"WRONGPASS\": invalid username-password pair or user is disabled."),
            "WRONGPASS: invalid username-password pair or user is disabled."
        );
        assert_eq!(
            unquoted("Pipeline failure: [(Index 0, error: \"NOAUTH\": Authentication required.)]"),
            "Pipeline failure: [(Index 0, error: NOAUTH: Authentication required.)]"
        );
        assert_eq!(unquoted("\"ALICE\" 'x'"), "");
    }

    #[test]
    fn a_secret_shows_only_whether_it_is_set() {
        assert_eq!(
            format!("{:?}", Redacted(&Some("s3cret"))),
            "Some(<redacted>)"
        );
        assert_eq!(format!("{:?}", Redacted::<String>(&None)), "None");
    }
}
