//! Argument checks in the reference's order and with its exact messages.

use crate::data::{JsText, Value};
use crate::error::{Result, SessionError};
use crate::js::{is_line_terminator, parse_int, utf16_len};

/// A string argument as the reference sees it: falsy, or `String(value)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Arg {
    #[default]
    Falsy,
    Text(String),
}

impl Arg {
    pub fn text(s: impl Into<String>) -> Self {
        Arg::Text(s.into())
    }
}

/// The `d` argument.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum DataArg {
    #[default]
    Falsy,
    /// A truthy primitive or an array.
    NotAnObject,
    /// The keys in `for...in` order; none when no key is the object's own.
    Object(Vec<(JsText, Value)>),
}

/// A numeric option of our own (not the reference's): absent, a JavaScript
/// number, or any other value, which is refused.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum NumberArg {
    #[default]
    Absent,
    Number(f64),
    NotANumber,
}

/// Which API the caller used; it changes the name and message of the window check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// v3: callbacks, `dt`.
    Callback,
    /// v4: promises, `deltaTime`.
    Promise,
}

/// Every argument any method reads; each method checks the ones it needs.
#[derive(Debug, Clone, Default)]
pub struct Args {
    pub app: Arg,
    pub id: Arg,
    pub ip: Arg,
    pub token: Arg,
    pub ttl: Arg,
    pub d: DataArg,
    pub no_resave: bool,
    pub dt: Arg,
    pub delta_time: Arg,
    /// A device handle (`handle.rs`), which names a session with `id`.
    pub handle: Arg,
    /// `handles: true`: listings show each session's handle.
    pub handles: bool,
    /// create's cap on an id's sessions.
    pub max: NumberArg,
    /// create's absolute lifetime, in seconds.
    pub max_age: NumberArg,
    /// killsoid's `except`: the token of the one session it keeps.
    pub except: Arg,
}

fn present<'a>(arg: &'a Arg, item: &'static str) -> Result<&'a str> {
    match arg {
        Arg::Falsy => Err(SessionError::MissingParameter(item)),
        Arg::Text(s) => Ok(s),
    }
}

pub fn app(arg: &Arg) -> Result<&str> {
    let s = present(arg, "app")?;
    let ok = (3..=20).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then_some(s).ok_or(SessionError::InvalidFormat("app"))
}

pub fn token(arg: &Arg) -> Result<&str> {
    let s = present(arg, "token")?;
    let ok = s.len() == 64 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(s).ok_or(SessionError::InvalidFormat("token"))
}

/// Any string of any length without line terminators. The reference's
/// `/^(.*?){1,128}$/` accepts exactly these, but backtracks for ages on a
/// long id with a newline; this answers at once.
pub fn id(arg: &Arg) -> Result<&str> {
    let s = present(arg, "id")?;
    (!s.chars().any(is_line_terminator))
        .then_some(s)
        .ok_or(SessionError::InvalidFormat("id"))
}

pub fn ip(arg: &Arg) -> Result<&str> {
    let s = present(arg, "ip")?;
    let ok = (1..=39).contains(&utf16_len(s)) && !s.chars().any(is_line_terminator);
    ok.then_some(s).ok_or(SessionError::InvalidFormat("ip"))
}

const TTL_MESSAGE: &str = "ttl must be a positive integer >= 10";

/// `parseInt(ttl || 7200, 10)`, at least 10.
pub fn ttl(arg: &Arg) -> Result<f64> {
    let parsed = match arg {
        Arg::Falsy => Some(7200.0),
        Arg::Text(s) => parse_int(s),
    };
    match parsed {
        Some(n) if n >= 10.0 => Ok(n),
        _ => Err(SessionError::InvalidValue(TTL_MESSAGE.to_owned())),
    }
}

/// The activity window: `dt` for callers of v3, `deltaTime` for v4, each
/// accepting the other's name when its own is absent.
pub fn window(args: &Args, style: Style) -> Result<f64> {
    let (own, other, message) = match style {
        Style::Callback => (&args.dt, &args.delta_time, TTL_MESSAGE),
        Style::Promise => (
            &args.delta_time,
            &args.dt,
            "deltaTime must be a positive integer >= 10",
        ),
    };
    let chosen = if *own == Arg::Falsy { other } else { own };
    match chosen {
        Arg::Text(s) => match parse_int(s) {
            Some(n) if n >= 10.0 => Ok(n),
            _ => Err(SessionError::InvalidValue(message.to_owned())),
        },
        Arg::Falsy => Err(SessionError::InvalidValue(message.to_owned())),
    }
}

/// An optional whole number of at least `least`: `None` when absent; a
/// value that is not a number, not whole or below `least` fails with `message`.
fn optional_integer(arg: NumberArg, least: f64, message: &str) -> Result<Option<f64>> {
    match arg {
        NumberArg::Absent => Ok(None),
        NumberArg::Number(n) if n.is_finite() && n.fract() == 0.0 && n >= least => Ok(Some(n)),
        _ => Err(SessionError::InvalidValue(message.to_owned())),
    }
}

/// create's `max`: a whole number of sessions, at least 1.
pub fn max(arg: NumberArg) -> Result<Option<f64>> {
    optional_integer(arg, 1.0, "max must be a positive integer")
}

/// create's `maxAge`: whole seconds, at least 10 (as a ttl).
pub fn max_age(arg: NumberArg) -> Result<Option<f64>> {
    optional_integer(arg, 10.0, "maxAge must be a positive integer >= 10")
}

/// A `d` that passed the checks: at least one key, only allowed value types.
pub fn data(arg: &DataArg) -> Result<&[(JsText, Value)]> {
    let entries = match arg {
        DataArg::Falsy => return Err(SessionError::MissingParameter("d")),
        DataArg::NotAnObject => {
            return Err(SessionError::InvalidValue("d must be an object".to_owned()))
        }
        DataArg::Object(entries) => entries,
    };
    if entries.is_empty() {
        return Err(SessionError::InvalidValue(
            "d must containt at least one key.".to_owned(),
        ));
    }
    if let Some((key, _)) = entries.iter().find(|(_, v)| *v == Value::Forbidden) {
        return Err(SessionError::InvalidValue(format!(
            "d.{} has a forbidden type. Only strings, numbers, boolean and null are allowed.",
            key.to_lossy()
        )));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn app_rules() {
        assert_eq!(msg(app(&Arg::Falsy)), "No app supplied");
        assert_eq!(msg(app(&Arg::text("a"))), "Invalid app format");
        assert_eq!(msg(app(&Arg::text("a".repeat(21)))), "Invalid app format");
        assert_eq!(msg(app(&Arg::text("abc\n"))), "Invalid app format");
        assert_eq!(msg(app(&Arg::text("äbc"))), "Invalid app format");
        assert_eq!(app(&Arg::text("my_app-1")).unwrap(), "my_app-1");
    }

    #[test]
    fn token_rules() {
        assert_eq!(msg(token(&Arg::Falsy)), "No token supplied");
        assert_eq!(msg(token(&Arg::text("abc"))), "Invalid token format");
        assert_eq!(
            msg(token(&Arg::text("a".repeat(63) + "_"))),
            "Invalid token format"
        );
        assert!(token(&Arg::text("a".repeat(64))).is_ok());
    }

    #[test]
    fn id_refuses_line_terminators_at_once() {
        for bad in ["a\nb", "a\r", "\u{2028}", "x\u{2029}"] {
            assert_eq!(msg(id(&Arg::text(bad))), "Invalid id format");
        }
        let long_with_newline = "a".repeat(40) + "\n";
        assert!(id(&Arg::text(long_with_newline)).is_err());
        assert!(id(&Arg::text("a".repeat(10_000))).is_ok());
        assert!(id(&Arg::text("user:42 ü 😀")).is_ok());
        assert_eq!(msg(id(&Arg::Falsy)), "No id supplied");
    }

    #[test]
    fn ip_counts_utf16_units() {
        assert!(ip(&Arg::text("x".repeat(39))).is_ok());
        assert!(ip(&Arg::text("x".repeat(40))).is_err());
        assert!(ip(&Arg::text("😀".repeat(19) + "x")).is_ok());
        assert!(ip(&Arg::text("😀".repeat(20))).is_err());
        assert!(ip(&Arg::text("1.2.3.4\n")).is_err());
    }

    #[test]
    fn ttl_reads_like_parse_int_with_default() {
        assert_eq!(ttl(&Arg::Falsy).unwrap(), 7200.0);
        assert_eq!(ttl(&Arg::text("30abc")).unwrap(), 30.0);
        assert_eq!(ttl(&Arg::text("15.9")).unwrap(), 15.0);
        assert_eq!(msg(ttl(&Arg::text("9"))), TTL_MESSAGE);
        assert_eq!(msg(ttl(&Arg::text("abc"))), TTL_MESSAGE);
    }

    #[test]
    fn window_names_depend_on_style() {
        let args = Args {
            dt: Arg::text("5"),
            ..Args::default()
        };
        assert_eq!(msg(window(&args, Style::Callback)), TTL_MESSAGE);
        let args = Args {
            delta_time: Arg::text("5"),
            ..Args::default()
        };
        assert_eq!(
            msg(window(&args, Style::Promise)),
            "deltaTime must be a positive integer >= 10"
        );
        let both = Args {
            dt: Arg::text("20"),
            delta_time: Arg::text("30"),
            ..Args::default()
        };
        assert_eq!(window(&both, Style::Callback).unwrap(), 20.0);
        assert_eq!(window(&both, Style::Promise).unwrap(), 30.0);
        let other_name = Args {
            delta_time: Arg::text("30"),
            ..Args::default()
        };
        assert_eq!(window(&other_name, Style::Callback).unwrap(), 30.0);
    }

    #[test]
    fn data_rules() {
        assert_eq!(msg(data(&DataArg::Falsy)), "No d supplied");
        assert_eq!(msg(data(&DataArg::NotAnObject)), "d must be an object");
        assert_eq!(
            msg(data(&DataArg::Object(vec![]))),
            "d must containt at least one key."
        );
        let bad = DataArg::Object(vec![
            ("ok".into(), Value::Null),
            ("nested".into(), Value::Forbidden),
        ]);
        assert_eq!(
            msg(data(&bad)),
            "d.nested has a forbidden type. Only strings, numbers, boolean and null are allowed."
        );
    }

    #[test]
    fn max_and_max_age_are_whole_numbers_when_given() {
        use NumberArg::{Absent, NotANumber, Number};
        assert_eq!(max(Absent).unwrap(), None);
        assert_eq!(max(Number(1.0)).unwrap(), Some(1.0));
        for bad in [
            Number(0.0),
            Number(-1.0),
            Number(1.5),
            Number(f64::NAN),
            Number(f64::INFINITY),
            NotANumber,
        ] {
            assert_eq!(msg(max(bad)), "max must be a positive integer");
        }
        assert_eq!(max_age(Absent).unwrap(), None);
        assert_eq!(max_age(Number(10.0)).unwrap(), Some(10.0));
        for bad in [Number(9.0), Number(10.5), Number(f64::NAN), NotANumber] {
            assert_eq!(msg(max_age(bad)), "maxAge must be a positive integer >= 10");
        }
    }
}
