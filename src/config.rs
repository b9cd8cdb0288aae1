//! Constructor options, in the shapes of both reference versions, read once
//! into the engine's settings: the store's own (namespace, wipe, cache),
//! where to connect (`target`) and how (`settings`).

use std::time::Duration;

use crate::error::{Result, SessionError};
use crate::settings::{seconds, ConnectionSettings};
use crate::stored::Hashing;
use crate::target::{RawTarget, Target};

/// The options as a caller wrote them; every field optional. Numbers are
/// `Number(value)` of what was given. Its `Debug` shows no password.
#[derive(Debug, Clone, Default)]
pub struct RawOptions {
    /// Prefix of every key. Default "rs".
    pub namespace: Option<String>,
    /// Seconds between wipes. Default 600; 0 disables; below 10 becomes 10.
    pub wipe: Option<f64>,
    /// Seconds a `get` answer is cached. Default 0: no cache.
    pub cachetime: Option<f64>,
    /// Most sessions cached. Default 5000.
    pub cachemax: Option<f64>,
    /// Seconds after a session's last touch during which `get` writes
    /// nothing. Default 0: every get touches. `NaN` stands for a value that
    /// is not a number.
    pub touch_after: Option<f64>,
    /// `hashTokens` as given: `true`, `false` or a text (`'migrate'`).
    pub hash_tokens: Option<RawHashTokens>,
    /// `events`: `true` or `false`; `None` for anything else given.
    pub events: Option<Option<bool>>,
    /// Where to connect: `host`/`port`, `options`, `sentinel`, `cluster`.
    pub target: RawTarget,
    /// How every connection is opened: timeouts, keepalive.
    pub connection: ConnectionSettings<Option<f64>>,
    /// `memory: true`: the in-memory engine instead of Redis (`memory/`).
    pub memory: bool,
}

/// `hashTokens` as JavaScript gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum RawHashTokens {
    Flag(bool),
    Text(String),
    /// Another type, named.
    Other(String),
}

/// Its `Debug` shows no secret: `Target`'s hides them.
#[derive(Debug, Clone)]
pub struct Config {
    pub namespace: String,
    /// `None` when the wipe is disabled.
    pub wipe_every: Option<Duration>,
    pub cache_time: Option<Duration>,
    pub cache_max: usize,
    /// Whole seconds; 0 when every get touches.
    pub touch_after: u64,
    /// `hashTokens`: sessions stored under a hash of their token (`stored.rs`).
    pub hashing: Hashing,
    /// `events`: scripts publish session events, the subscriber hears them.
    pub events: bool,
    pub target: Target,
    pub connection: ConnectionSettings,
    /// The in-memory engine: no connection is opened.
    pub memory: bool,
}

const DEFAULT_WIPE_SECS: f64 = 600.0;
const MIN_WIPE_SECS: f64 = 10.0;
const DEFAULT_CACHE_MAX: usize = 5000;
const MAX_CACHE_ENTRIES: f64 = 1e9;
/// About 31 years: a longer window (`Infinity` included) becomes this one.
/// It already exceeds any ttl that can be lived out, so the clamp changes nothing a user sees.
const MAX_TOUCH_AFTER_SECS: f64 = 1e9;

fn truthy(n: Option<f64>) -> Option<f64> {
    n.filter(|v| *v != 0.0 && !v.is_nan())
}

/// `touchAfter`: whole seconds from 0 (off) up to the clamp; anything else
/// (negative, `NaN`, not a number) is refused rather than guessed at.
fn touch_after(raw: Option<f64>) -> Result<u64> {
    match raw {
        None => Ok(0),
        Some(secs) if secs >= 0.0 => Ok(secs.min(MAX_TOUCH_AFTER_SECS).trunc() as u64),
        Some(_) => Err(SessionError::InvalidOptions(
            "touchAfter must be a number of seconds >= 0 (0 touches on every get)".to_owned(),
        )),
    }
}

/// `true`, `'migrate'`, or off (`false`, absent); anything else is refused.
fn hashing(raw: Option<&RawHashTokens>) -> Result<Hashing> {
    match raw {
        None | Some(RawHashTokens::Flag(false)) => Ok(Hashing::Off),
        Some(RawHashTokens::Flag(true)) => Ok(Hashing::On),
        Some(RawHashTokens::Text(text)) if text == "migrate" => Ok(Hashing::Migrate),
        Some(_) => Err(SessionError::InvalidOptions(
            "hashTokens must be true, false or 'migrate'".to_owned(),
        )),
    }
}

impl Config {
    pub fn from_options(raw: RawOptions) -> Result<Self> {
        let wipe_every = match raw.wipe {
            Some(0.0) => None,
            other => {
                let secs = truthy(other)
                    .unwrap_or(DEFAULT_WIPE_SECS)
                    .max(MIN_WIPE_SECS);
                Some(seconds(secs))
            }
        };
        let cache_time = truthy(raw.cachetime)
            .map(f64::trunc)
            .filter(|secs| *secs > 0.0)
            .map(seconds);
        let cache_max = truthy(raw.cachemax)
            .filter(|n| *n > 0.0)
            // A bound, not a size: the cache grows only as sessions are read.
            .map_or(DEFAULT_CACHE_MAX, |n| n.min(MAX_CACHE_ENTRIES) as usize);
        let touch_after = touch_after(raw.touch_after)?;
        let hashing = hashing(raw.hash_tokens.as_ref())?;
        let events = match raw.events {
            None => false,
            Some(Some(on)) => on,
            Some(None) => {
                return Err(SessionError::InvalidOptions(
                    "events must be true or false".to_owned(),
                ))
            }
        };
        let namespace = raw
            .namespace
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| "rs".to_owned());
        let target = Target::new(&raw.target)?;
        if target.is_cluster() && namespace.contains(['{', '}']) {
            return Err(SessionError::InvalidOptions(
                "in cluster mode the namespace cannot contain { or }: they make hash tags"
                    .to_owned(),
            ));
        }
        Ok(Self {
            namespace,
            target,
            wipe_every,
            cache_time,
            cache_max,
            touch_after,
            hashing,
            events,
            connection: raw.connection.resolve()?,
            memory: raw.memory,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{RawNode, RawSentinel, RawTls};

    fn config(raw: RawOptions) -> Config {
        Config::from_options(raw).unwrap()
    }

    fn at(target: RawTarget) -> RawOptions {
        RawOptions {
            target,
            ..Default::default()
        }
    }

    #[test]
    fn debug_output_and_errors_show_no_secret() {
        let secret_url = "redis://alice:s3cret@127.0.0.1:7000";
        let tls = RawTls {
            ca: vec![b"ca s3cret".to_vec()],
            cert: Some(b"cert s3cret".to_vec()),
            key: Some(b"key s3cret".to_vec()),
            reject_unauthorized: None,
        };
        let raws = [
            at(RawTarget {
                url: Some(secret_url.to_owned()),
                password: Some("s3cret".to_owned()),
                tls: Some(tls.clone()),
                ..Default::default()
            }),
            at(RawTarget {
                password: Some("s3cret".to_owned()),
                sentinel: Some(RawSentinel {
                    name: Some("m".to_owned()),
                    sentinels: vec![RawNode::Url(secret_url.to_owned())],
                    username: Some("watcher".to_owned()),
                    password: Some("s3cret".to_owned()),
                }),
                ..Default::default()
            }),
            at(RawTarget {
                cluster: Some(vec![RawNode::Url(secret_url.to_owned())]),
                password: Some("s3cret".to_owned()),
                tls: Some(tls),
                ..Default::default()
            }),
        ];
        for raw in raws {
            let shown = format!("{raw:?} {:?}", config(raw.clone()));
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        let bad = at(RawTarget {
            cluster: Some(vec![RawNode::Url("redis://alice:s3cret@h:1/x".to_owned())]),
            ..Default::default()
        });
        let Err(SessionError::InvalidOptions(message)) = Config::from_options(bad) else {
            panic!("a bad node URL must be refused");
        };
        assert!(
            message.contains("redis://alice:<redacted>@h:1/x"),
            "{message}"
        );
    }

    #[test]
    fn in_cluster_mode_the_namespace_makes_no_hash_tag() {
        let cluster = || RawTarget {
            cluster: Some(vec![RawNode::Url("redis://h:1".to_owned())]),
            ..Default::default()
        };
        assert_eq!(config(at(cluster())).namespace, "rs");
        assert!(matches!(
            Config::from_options(RawOptions {
                namespace: Some("a{b}".to_owned()),
                ..at(cluster())
            }),
            Err(SessionError::InvalidOptions(ref message)) if message.contains("hash tags")
        ));
        // Standalone keeps the reference's keys, braces included.
        let standalone = config(RawOptions {
            namespace: Some("a{b}".to_owned()),
            ..Default::default()
        });
        assert_eq!(standalone.namespace, "a{b}");
    }

    #[test]
    fn defaults_match_the_reference() {
        let c = config(RawOptions::default());
        assert_eq!(c.namespace, "rs");
        assert_eq!(c.wipe_every, Some(Duration::from_secs(600)));
        assert_eq!(c.cache_time, None);
        assert_eq!(c.cache_max, 5000);
        assert_eq!(c.touch_after, 0);
        assert_eq!(c.target.describe(), "127.0.0.1:6379");
        assert_eq!(c.connection, ConnectionSettings::default());
    }

    #[test]
    fn wipe_zero_disables_and_small_values_become_ten() {
        let wipe = |w| {
            config(RawOptions {
                wipe: Some(w),
                ..Default::default()
            })
            .wipe_every
        };
        assert_eq!(wipe(0.0), None);
        assert_eq!(wipe(3.0), Some(Duration::from_secs(10)));
        assert_eq!(wipe(60.0), Some(Duration::from_secs(60)));
    }

    #[test]
    fn any_number_gives_a_duration_or_an_error_never_a_panic() {
        for value in [1e300, f64::INFINITY, f64::MAX, 1e-300, f64::MIN_POSITIVE] {
            let c = config(RawOptions {
                connection: ConnectionSettings {
                    connect_timeout: Some(value),
                    command_timeout: Some(value),
                    keep_alive: Some(value),
                },
                wipe: Some(value),
                cachetime: Some(value),
                cachemax: Some(value),
                ..Default::default()
            });
            assert!(c.connection.connect_timeout <= Duration::from_secs(1_000_000_000));
            assert!(c.cache_max <= 1_000_000_000);
        }
        for value in [0.0, -1.0, f64::NEG_INFINITY, f64::NAN] {
            assert!(matches!(
                Config::from_options(RawOptions {
                    connection: ConnectionSettings {
                        connect_timeout: Some(value),
                        ..Default::default()
                    },
                    ..Default::default()
                }),
                Err(SessionError::InvalidOptions(_))
            ));
        }
    }

    #[test]
    fn touch_after_is_whole_seconds_clamped_or_refused() {
        let touch_after = |secs| {
            Config::from_options(RawOptions {
                touch_after: secs,
                ..Default::default()
            })
            .map(|c| c.touch_after)
        };
        assert_eq!(touch_after(None).ok(), Some(0));
        assert_eq!(touch_after(Some(0.0)).ok(), Some(0));
        assert_eq!(touch_after(Some(-0.0)).ok(), Some(0));
        assert_eq!(touch_after(Some(60.9)).ok(), Some(60));
        assert_eq!(touch_after(Some(0.5)).ok(), Some(0));
        for huge in [1e9, 1e300, f64::MAX, f64::INFINITY] {
            assert_eq!(touch_after(Some(huge)).ok(), Some(1_000_000_000));
        }
        for bad in [-1.0, -1e-300, f64::NEG_INFINITY, f64::NAN] {
            assert!(matches!(
                touch_after(Some(bad)),
                Err(SessionError::InvalidOptions(ref message)) if message.starts_with("touchAfter")
            ));
        }
    }

    #[test]
    fn hash_tokens_and_events_are_read_strictly() {
        let read = |hash_tokens, events| {
            Config::from_options(RawOptions {
                hash_tokens,
                events,
                ..Default::default()
            })
            .map(|c| (c.hashing, c.events))
        };
        assert_eq!(read(None, None).ok(), Some((Hashing::Off, false)));
        let flag = |on| Some(RawHashTokens::Flag(on));
        assert_eq!(
            read(flag(false), Some(Some(true))).ok(),
            Some((Hashing::Off, true))
        );
        assert_eq!(read(flag(true), None).ok(), Some((Hashing::On, false)));
        let migrate = Some(RawHashTokens::Text("migrate".to_owned()));
        assert_eq!(read(migrate, None).ok(), Some((Hashing::Migrate, false)));
        for bad in [
            RawHashTokens::Text("true".to_owned()),
            RawHashTokens::Other("number".to_owned()),
        ] {
            assert!(matches!(
                read(Some(bad), None),
                Err(SessionError::InvalidOptions(ref message)) if message.starts_with("hashTokens")
            ));
        }
        assert!(matches!(
            read(None, Some(None)),
            Err(SessionError::InvalidOptions(ref message)) if message.starts_with("events")
        ));
    }

    #[test]
    fn where_to_connect_is_checked_before_the_connection_settings() {
        let both_wrong = RawOptions {
            target: RawTarget {
                port: Some(70000.0),
                ..Default::default()
            },
            connection: ConnectionSettings {
                connect_timeout: Some(-1.0),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(matches!(
            Config::from_options(both_wrong),
            Err(SessionError::InvalidOptions(ref message)) if message.starts_with("port")
        ));
    }
}
