//! A session as callers see it, decoded from the hash fields the reference reads.

use crate::data;
use crate::error::{Result, SessionError};
use crate::js::to_number;

/// The hash fields, in the order every script returns them. `ends` and
/// `hashed` are ours (create's `maxAge`: the unix second the session ends;
/// `hashTokens`' marker, `stored.rs`); the reference neither reads nor writes them.
pub const FIELDS: [&str; 10] = [
    "id",
    "r",
    "w",
    "ttl",
    "d",
    "la",
    "ip",
    "no_resave",
    "ends",
    MARKER,
];
/// Set to `1` in a session stored under its hashed name (`hashTokens`):
/// scripts that find a session by the name a caller gave as a token refuse
/// a marked one, so a stored name never works as a token.
pub const MARKER: &str = "hashed";
/// Where `d` is in `FIELDS`.
pub const D_FIELD: usize = 4;

/// Numbers are JavaScript numbers: a field another program garbled reads as
/// `NaN`, as it would in the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub r: f64,
    pub w: f64,
    /// Remaining seconds for a `no_resave` session, the idle timeout otherwise.
    pub ttl: f64,
    pub idle: f64,
    pub ip: Option<String>,
    pub no_resave: bool,
    /// `d` as stored, JSON text checked to be an object; JavaScript's own
    /// `JSON.parse` turns it into the caller's object, as in the reference.
    pub d: Option<String>,
    /// Its device handle, when the listing was asked for handles (`handle.rs`).
    pub handle: Option<String>,
    /// Seconds until the end `maxAge` set, when it set one: not shown to
    /// JavaScript, but the cache keeps the session no longer.
    pub ends_in: Option<f64>,
}

/// Decodes `HMGET id r w ttl d la ip no_resave` read at `now`; `None` for a
/// missing or idled-out session, an error for a `d` that is not a JSON object.
pub fn decode(fields: &[Option<String>], now: f64) -> Result<Option<Session>> {
    decode_without_d(fields, now)
        .map(|session| with_d(session, fields))
        .transpose()
}

/// The session with its stored `d`, which must be a JSON object.
fn with_d(mut session: Session, fields: &[Option<String>]) -> Result<Session> {
    if let Some(text) = stored_d(fields) {
        data::check_stored(text).map_err(SessionError::CorruptSession)?;
        session.d = Some(text.to_owned());
    }
    Ok(session)
}

/// What the get script answers without writing anything, told from the
/// same fields read by a plain HMGET (`touchAfter`'s lazy reads):
/// `Some(None)` for no live session, `Some(Some(session))` for one read
/// inside the window of `window` seconds. `None` when the script must
/// decide: a touch is due, or a field the script reads otherwise than
/// `decode` does (a read counter it would refuse, a ttl or last access that
/// is not a finite number, a hashed session's marker without `hashing`).
pub fn inside_window(
    fields: &[Option<String>],
    now: f64,
    window: f64,
    hashing: bool,
) -> Result<Option<Option<Session>>> {
    let field = |i: usize| fields.get(i).and_then(Option::as_deref);
    if field(0).is_none() {
        return Ok(Some(None));
    }
    // ttl, la and ends read alike here and in Lua only as plain decimals.
    let plain = |i: usize| field(i).is_none_or(plain_decimal);
    let scripted = (field(9).is_some() && !hashing) || !plain_counter(field(1));
    if scripted || !plain(3) || !plain(5) || !plain(8) {
        return Ok(None);
    }
    match decode_without_d(fields, now) {
        None => Ok(Some(None)),
        Some(s) if s.idle < window && s.ttl > window => with_d(s, fields).map(|s| Some(Some(s))),
        Some(_) => Ok(None),
    }
}

/// `-12.5`, `7200`: what Lua's `tonumber` and JavaScript's `Number` read as
/// the same finite number (each reads hex, whitespace and `Infinity` its own way).
fn plain_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && all_digits(fraction) && whole.len() <= 15
}

/// A read counter the scripts count on without a check failing: absent,
/// `0`, or Redis's integer syntax far from the 64-bit limits.
fn plain_counter(value: Option<&str>) -> bool {
    let Some(text) = value else {
        return true;
    };
    let digits = text.strip_prefix('-').unwrap_or(text);
    text == "0"
        || (!digits.starts_with('0')
            && (1..=18).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// As `decode`, for a listing (soid, soapp): a session whose `d` is not a
/// JSON object is listed without `d`, so one unreadable session neither
/// hides the others nor disappears from the list.
pub fn decode_listed(fields: &[Option<String>], now: f64) -> Option<Session> {
    let mut session = decode_without_d(fields, now)?;
    session.d = stored_d(fields)
        .filter(|text| data::check_stored(text).is_ok())
        .map(str::to_owned);
    Some(session)
}

/// A stored `d`; empty text is none, as the reference's `if (session[4])`.
fn stored_d(fields: &[Option<String>]) -> Option<&str> {
    fields
        .get(D_FIELD)
        .and_then(Option::as_deref)
        .filter(|text| !text.is_empty())
}

fn decode_without_d(fields: &[Option<String>], now: f64) -> Option<Session> {
    let field = |i: usize| fields.get(i).and_then(Option::as_deref);
    let id = field(0)?;
    let ttl = to_number(field(3));
    let idle = now - to_number(field(5));
    if ttl < idle {
        return None;
    }
    // An `ends` another program garbled sets no end, as the scripts read it.
    let ends_in = field(8)
        .and_then(|text| text.trim().parse::<f64>().ok())
        .map(|ends| ends - now);
    if ends_in.is_some_and(|left| left <= 0.0) {
        return None;
    }
    let no_resave = field(7) == Some("1");
    Some(Session {
        id: id.to_owned(),
        r: to_number(field(1)),
        w: to_number(field(2)),
        ttl: if no_resave { ttl - idle } else { ttl },
        idle,
        ip: field(6).map(str::to_owned),
        no_resave,
        d: None,
        handle: None,
        ends_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(values: [Option<&str>; 8]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_owned)).collect()
    }

    #[test]
    fn decodes_a_session() {
        let raw = fields([
            Some("u1"),
            Some("3"),
            Some("2"),
            Some("7200"),
            Some("{\"a\":1}"),
            Some("990"),
            Some("1.2.3.4"),
            None,
        ]);
        let s = decode(&raw, 1000.0).unwrap().unwrap();
        assert_eq!((s.r, s.w, s.ttl, s.idle), (3.0, 2.0, 7200.0, 10.0));
        assert_eq!(s.ip.as_deref(), Some("1.2.3.4"));
        assert!(!s.no_resave);
        assert_eq!(s.d.as_deref(), Some("{\"a\":1}"));
    }

    /// A session of ttl 3600 last used at `la`, read at 1000 with a 60 s window.
    fn windowed(la: &str, r: &str, extra: &[(usize, &str)]) -> Vec<Option<String>> {
        let mut raw = fields([
            Some("u"),
            Some(r),
            Some("1"),
            Some("3600"),
            Some("{\"a\":1}"),
            Some(la),
            Some("ip"),
            None,
        ]);
        raw.extend([None, None]);
        for (i, v) in extra {
            raw[*i] = Some((*v).to_owned());
        }
        raw
    }

    #[test]
    fn inside_the_window_a_plain_read_is_the_answer() {
        let answer = inside_window(&windowed("950", "7", &[]), 1000.0, 60.0, false).unwrap();
        let s = answer.unwrap().unwrap();
        assert_eq!(
            (s.r, s.idle, s.d.as_deref()),
            (7.0, 50.0, Some("{\"a\":1}"))
        );
        // Missing, idled out or past its end: no session, as the script answers.
        assert_eq!(
            inside_window(&vec![None; 10], 1000.0, 60.0, false).unwrap(),
            Some(None)
        );
        let idled = windowed("950", "1", &[(3, "30")]);
        assert_eq!(
            inside_window(&idled, 1000.0, 60.0, false).unwrap(),
            Some(None)
        );
        let ended = windowed("950", "1", &[(8, "1000")]);
        assert_eq!(
            inside_window(&ended, 1000.0, 60.0, false).unwrap(),
            Some(None)
        );
    }

    #[test]
    fn the_script_decides_a_due_touch_and_what_it_reads_otherwise() {
        let script =
            |raw: Vec<Option<String>>, hashing| inside_window(&raw, 1000.0, 60.0, hashing).unwrap();
        assert_eq!(
            script(windowed("940", "1", &[]), false),
            None,
            "60 s idle: due"
        );
        assert_eq!(
            script(windowed("999", "1", &[(3, "50")]), false),
            None,
            "ttl within the window"
        );
        assert_eq!(
            script(windowed("950", "1", &[(3, "100"), (7, "1")]), false),
            None,
            "no_resave: 50 s left"
        );
        for r in [
            "01",
            "+1",
            "1.5",
            "x",
            "9223372036854775807",
            "1234567890123456789",
        ] {
            assert_eq!(
                script(windowed("990", r, &[]), false),
                None,
                "read counter {r}"
            );
        }
        assert!(script(windowed("990", "-12", &[]), false).is_some());
        for garbled in [
            "Infinity",
            "0x1",
            "0x+E10",
            "3600\u{a0}",
            " 3600",
            "",
            "1e3",
        ] {
            assert_eq!(
                script(windowed("990", "1", &[(3, garbled)]), false),
                None,
                "ttl {garbled:?}"
            );
            assert_eq!(
                script(windowed("990", "1", &[(8, garbled)]), false),
                None,
                "ends {garbled:?}"
            );
        }
        assert_eq!(
            script(windowed("990\u{feff}", "1", &[]), false),
            None,
            "la with a BOM"
        );
        assert!(script(
            windowed("990.5", "1", &[(3, "3600.25"), (8, "5000")]),
            false
        )
        .is_some());
        assert_eq!(script(windowed("990", "1", &[(5, "soon")]), false), None);
        assert_eq!(
            script(windowed("990", "1", &[(9, "1")]), false),
            None,
            "a marker without hashing"
        );
        assert!(script(windowed("990", "1", &[(9, "1")]), true).is_some());
        let corrupt = windowed("990", "1", &[(4, "[1]")]);
        assert!(inside_window(&corrupt, 1000.0, 60.0, false).is_err());
    }

    #[test]
    fn idle_past_ttl_is_gone_and_no_resave_counts_down() {
        let raw = |la: &str, nr: Option<&str>| {
            fields([
                Some("u"),
                Some("1"),
                Some("1"),
                Some("30"),
                None,
                Some(la),
                Some("ip"),
                nr,
            ])
        };
        assert_eq!(decode(&raw("969", None), 1000.0).unwrap(), None);
        assert!(decode(&raw("970", None), 1000.0).unwrap().is_some());
        let s = decode(&raw("990", Some("1")), 1000.0).unwrap().unwrap();
        assert!(s.no_resave);
        assert_eq!(s.ttl, 20.0);
    }

    #[test]
    fn a_session_is_gone_from_the_second_its_max_age_ends() {
        let mut raw = fields([
            Some("u"),
            Some("1"),
            Some("1"),
            Some("3600"),
            None,
            Some("990"),
            Some("ip"),
            None,
        ]);
        raw.push(Some("1010".to_owned()));
        let s = decode(&raw, 1000.0).unwrap().unwrap();
        assert_eq!((s.ttl, s.ends_in), (3600.0, Some(10.0)));
        assert_eq!(decode(&raw, 1010.0).unwrap(), None);
        assert_eq!(decode_listed(&raw, 1011.0), None);
        if let Some(ends) = raw.get_mut(8) {
            *ends = Some("garbled".to_owned());
        }
        assert_eq!(decode(&raw, 4000.0).unwrap().unwrap().ends_in, None);
    }

    #[test]
    fn missing_session_and_bad_json() {
        assert_eq!(decode(&vec![None; 8], 0.0).unwrap(), None);
        let raw = fields([
            Some("u"),
            Some("1"),
            Some("1"),
            Some("30"),
            Some("{oops"),
            Some("0"),
            None,
            None,
        ]);
        assert!(matches!(
            decode(&raw, 0.0),
            Err(SessionError::CorruptSession(_))
        ));
        let listed = decode_listed(&raw, 0.0).unwrap();
        assert_eq!((listed.id.as_str(), listed.d), ("u", None));
    }

    #[test]
    fn d_is_kept_as_stored_text_lone_surrogate_escapes_included() {
        let text = "{\"s\":\"x\\ud83d\",\"__proto__\":{\"admin\":true}}";
        let mut raw = fields([
            Some("u"),
            Some("1"),
            Some("1"),
            Some("30"),
            Some(text),
            Some("0"),
            None,
            None,
        ]);
        assert_eq!(decode(&raw, 0.0).unwrap().unwrap().d.as_deref(), Some(text));
        assert_eq!(decode_listed(&raw, 0.0).unwrap().d.as_deref(), Some(text));
        if let Some(d) = raw.get_mut(D_FIELD) {
            *d = Some(String::new());
        }
        assert_eq!(decode(&raw, 0.0).unwrap().unwrap().d, None);
    }
}
