//! How every connection is opened and used, whatever the topology: the one
//! settings struct. `node/options.rs` reads each field once, from either
//! reference's shape; `source` applies them, once per backend.
//!
//! Adding a connection option: a field here with its default in its doc
//! comment, its line in `resolve`, where `node/options.rs` reads it, and
//! where `source` hands it to redis-rs.

use std::time::Duration;

use crate::error::{Result, SessionError};

/// The connection settings: as given (`ConnectionSettings<Option<f64>>`,
/// milliseconds as JavaScript `Number(value)`, `None` when absent), or
/// resolved (`ConnectionSettings`, the default, with every default applied).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionSettings<T = Duration> {
    /// `connectTimeout`, or node-redis 4's `options.socket.connectTimeout`:
    /// how long a call waits for a connection before failing. Default 5000 ms;
    /// must be positive.
    pub connect_timeout: T,
    /// `commandTimeout`: how long a Redis command may take before failing.
    /// Default 5000 ms; must be positive.
    pub command_timeout: T,
    /// node-redis 4's `options.socket.keepAlive`, node_redis 3's
    /// `options.socket_initial_delay`: idle time before the first TCP
    /// keepalive probe. Default 5000 ms. Keepalive stays on whatever is given
    /// (`false`, `0`: the default), since it is how a half-open connection is
    /// noticed; whole seconds from 1 to 32767, the range Linux accepts.
    pub keep_alive: T,
}

/// What no option was given for.
impl Default for ConnectionSettings<Option<f64>> {
    fn default() -> Self {
        Self {
            connect_timeout: None,
            command_timeout: None,
            keep_alive: None,
        }
    }
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(5),
        }
    }
}

impl ConnectionSettings<Option<f64>> {
    /// The settings with every default applied, or what is wrong with them.
    pub fn resolve(self) -> Result<ConnectionSettings> {
        let defaults = ConnectionSettings::default();
        // Destructured so that a new field cannot be left out by accident.
        let Self {
            connect_timeout,
            command_timeout,
            keep_alive,
        } = self;
        Ok(ConnectionSettings {
            connect_timeout: positive_millis(
                connect_timeout,
                defaults.connect_timeout,
                "connectTimeout",
            )?,
            command_timeout: positive_millis(
                command_timeout,
                defaults.command_timeout,
                "commandTimeout",
            )?,
            keep_alive: keepalive_idle(keep_alive, defaults.keep_alive),
        })
    }
}

/// The longest duration an option can ask for (about 31 years): what is
/// longer means "never" in practice, and past it `Duration` and `Instant`
/// arithmetic overflows (a panic), whatever the caller passed.
const MAX_SECS: f64 = 1e9;

/// A number of seconds as a `Duration`, whatever the number.
pub fn seconds(secs: f64) -> Duration {
    Duration::from_secs_f64(secs.clamp(0.0, MAX_SECS))
}

fn positive_millis(value: Option<f64>, default: Duration, name: &str) -> Result<Duration> {
    match value {
        None => Ok(default),
        Some(ms) if ms > 0.0 => Ok(seconds(ms / 1000.0)),
        Some(_) => Err(SessionError::InvalidOptions(format!(
            "{name} must be a positive number of milliseconds"
        ))),
    }
}

/// `TCP_KEEPIDLE` takes whole seconds, and Linux refuses 0 and above 32767.
const KEEPALIVE_SECS: std::ops::RangeInclusive<f64> = 1.0..=32_767.0;

fn keepalive_idle(value: Option<f64>, default: Duration) -> Duration {
    match value {
        // Node rounds `setKeepAlive`'s delay down to whole seconds too.
        Some(ms) if ms >= 1.0 => Duration::from_secs(
            (ms / 1000.0).clamp(*KEEPALIVE_SECS.start(), *KEEPALIVE_SECS.end()) as u64,
        ),
        _ => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(given: ConnectionSettings<Option<f64>>) -> Result<ConnectionSettings> {
        given.resolve()
    }

    #[test]
    fn defaults_are_five_seconds_each() {
        let resolved = resolve(ConnectionSettings::<Option<f64>>::default()).unwrap();
        assert_eq!(resolved.connect_timeout, Duration::from_millis(5000));
        assert_eq!(resolved.command_timeout, Duration::from_millis(5000));
        assert_eq!(resolved.keep_alive, Duration::from_millis(5000));
    }

    #[test]
    fn given_values_are_milliseconds() {
        let resolved = resolve(ConnectionSettings {
            connect_timeout: Some(250.0),
            command_timeout: Some(1500.5),
            keep_alive: Some(30_000.0),
        })
        .unwrap();
        assert_eq!(resolved.connect_timeout, Duration::from_millis(250));
        assert_eq!(resolved.command_timeout, Duration::from_micros(1_500_500));
        assert_eq!(resolved.keep_alive, Duration::from_secs(30));
    }

    #[test]
    fn timeouts_must_be_positive() {
        for value in [0.0, -1.0, f64::NEG_INFINITY, f64::NAN] {
            for given in [
                ConnectionSettings {
                    connect_timeout: Some(value),
                    ..Default::default()
                },
                ConnectionSettings {
                    command_timeout: Some(value),
                    ..Default::default()
                },
            ] {
                assert!(matches!(
                    resolve(given),
                    Err(SessionError::InvalidOptions(ref message)) if message.contains("positive")
                ));
            }
        }
    }

    #[test]
    fn keepalive_stays_on_in_the_range_linux_accepts() {
        let keep_alive = |ms| {
            resolve(ConnectionSettings {
                keep_alive: Some(ms),
                ..Default::default()
            })
            .unwrap()
            .keep_alive
        };
        for off in [0.0, -5.0, 0.5, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(keep_alive(off), Duration::from_secs(5), "{off}");
        }
        assert_eq!(keep_alive(1.0), Duration::from_secs(1));
        assert_eq!(keep_alive(1999.0), Duration::from_secs(1));
        for huge in [1e300, f64::INFINITY, f64::MAX] {
            assert_eq!(keep_alive(huge), Duration::from_secs(32_767));
        }
    }

    #[test]
    fn any_number_gives_a_duration_or_an_error_never_a_panic() {
        for value in [1e300, f64::INFINITY, f64::MAX, 1e-300, f64::MIN_POSITIVE] {
            let resolved = resolve(ConnectionSettings {
                connect_timeout: Some(value),
                command_timeout: Some(value),
                keep_alive: Some(value),
            })
            .unwrap();
            assert!(resolved.connect_timeout <= Duration::from_secs(1_000_000_000));
            assert!(resolved.command_timeout <= Duration::from_secs(1_000_000_000));
        }
    }
}
