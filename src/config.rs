//! Constructor options, in the shapes of both reference versions, read once
//! into the engine's settings.

use std::fmt;
use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};

use crate::error::{Result, SessionError};
use crate::redact::{redact_url, Redacted};
use crate::target::{parse_url, valid_port, RawNode, RawSentinel, RawTls, Target};

/// The options as a caller wrote them; every field optional. Numbers are
/// `Number(value)` of what was given. Its `Debug` shows no password.
#[derive(Clone, Default)]
pub struct RawOptions {
    pub host: Option<String>,
    pub port: Option<f64>,
    pub namespace: Option<String>,
    pub wipe: Option<f64>,
    pub cachetime: Option<f64>,
    pub cachemax: Option<f64>,
    pub connect_timeout_ms: Option<f64>,
    pub command_timeout_ms: Option<f64>,
    /// `options`: node_redis v3 and node-redis v4 client settings.
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: Option<f64>,
    /// Set when TLS was asked for, with what was given for it.
    pub tls: Option<RawTls>,
    pub sentinel: Option<RawSentinel>,
    /// Some nodes of a Redis Cluster: cluster mode, with its own key layout.
    pub cluster: Option<Vec<RawNode>>,
    pub socket_host: Option<String>,
    pub socket_port: Option<f64>,
}

impl fmt::Debug for RawOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be left out by accident.
        let Self {
            host,
            port,
            namespace,
            wipe,
            cachetime,
            cachemax,
            connect_timeout_ms,
            command_timeout_ms,
            url,
            username,
            password,
            db,
            tls,
            sentinel,
            cluster,
            socket_host,
            socket_port,
        } = self;
        f.debug_struct("RawOptions")
            .field("host", host)
            .field("port", port)
            .field("namespace", namespace)
            .field("wipe", wipe)
            .field("cachetime", cachetime)
            .field("cachemax", cachemax)
            .field("connect_timeout_ms", connect_timeout_ms)
            .field("command_timeout_ms", command_timeout_ms)
            .field("url", &url.as_deref().map(redact_url))
            .field("username", username)
            .field("password", &Redacted(password))
            .field("db", db)
            .field("tls", tls)
            .field("sentinel", sentinel)
            .field("cluster", cluster)
            .field("socket_host", socket_host)
            .field("socket_port", socket_port)
            .finish()
    }
}

/// Its `Debug` shows no secret: `Target`'s hides them.
#[derive(Debug, Clone)]
pub struct Config {
    pub namespace: String,
    /// `None` when the wipe is disabled.
    pub wipe_every: Option<Duration>,
    pub cache_time: Option<Duration>,
    pub cache_max: usize,
    pub target: Target,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

const DEFAULT_WIPE_SECS: f64 = 600.0;
const MIN_WIPE_SECS: f64 = 10.0;
const DEFAULT_CACHE_MAX: usize = 5000;
const MAX_CACHE_ENTRIES: f64 = 1e9;
const DEFAULT_CONNECT_TIMEOUT_MS: f64 = 5_000.0;
const DEFAULT_COMMAND_TIMEOUT_MS: f64 = 5_000.0;

fn truthy(n: Option<f64>) -> Option<f64> {
    n.filter(|v| *v != 0.0 && !v.is_nan())
}

/// The longest duration an option can ask for (about 31 years): what is
/// longer means "never" in practice, and past it `Duration` and `Instant`
/// arithmetic overflows (a panic), whatever the caller passed.
const MAX_SECS: f64 = 1e9;

fn seconds(secs: f64) -> Duration {
    Duration::from_secs_f64(secs.clamp(0.0, MAX_SECS))
}

fn millis(value: Option<f64>, default: f64, name: &str) -> Result<Duration> {
    let ms = value.unwrap_or(default);
    if ms > 0.0 {
        Ok(seconds(ms / 1000.0))
    } else {
        Err(SessionError::InvalidOptions(format!(
            "{name} must be a positive number of milliseconds"
        )))
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
        let namespace = raw
            .namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| "rs".to_owned());
        let target = Target::new(
            connection_info(&raw)?,
            raw.tls.as_ref(),
            raw.sentinel.as_ref(),
            raw.cluster.as_deref(),
        )?;
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
            connect_timeout: millis(
                raw.connect_timeout_ms,
                DEFAULT_CONNECT_TIMEOUT_MS,
                "connectTimeout",
            )?,
            command_timeout: millis(
                raw.command_timeout_ms,
                DEFAULT_COMMAND_TIMEOUT_MS,
                "commandTimeout",
            )?,
        })
    }
}

fn connection_info(raw: &RawOptions) -> Result<ConnectionInfo> {
    let info = match &raw.url {
        Some(url) => parse_url(url, "url")?,
        None => {
            let host = raw
                .host
                .clone()
                .filter(|h| !h.is_empty())
                .or_else(|| raw.socket_host.clone())
                .unwrap_or_else(|| "127.0.0.1".to_owned());
            let port = raw
                .port
                .filter(|p| *p != 0.0)
                .or(raw.socket_port)
                .unwrap_or(6379.0);
            ConnectionAddr::Tcp(host, valid_port(port)?)
                .into_connection_info()
                .map_err(|err| SessionError::InvalidOptions(err.to_string()))?
        }
    };
    let mut redis = info.redis_settings().clone();
    if let Some(user) = &raw.username {
        redis = redis.set_username(user);
    }
    if let Some(password) = &raw.password {
        redis = redis.set_password(password);
    }
    if let Some(db) = raw.db {
        if !(0.0..=1e6).contains(&db) || db.fract() != 0.0 {
            return Err(SessionError::InvalidOptions(format!(
                "db must be a non-negative integer, got {db}"
            )));
        }
        redis = redis.set_db(db as i64);
    }
    Ok(info.set_redis_settings(redis))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(raw: RawOptions) -> Config {
        Config::from_options(raw).unwrap()
    }

    fn info(c: &Config) -> &ConnectionInfo {
        match &c.target {
            Target::Standalone { info, .. } => info,
            _ => panic!("not standalone"),
        }
    }

    #[test]
    fn tls_from_url_or_options() {
        let by_url = config(RawOptions {
            url: Some("rediss://localhost:6390".to_owned()),
            ..Default::default()
        });
        assert!(matches!(
            info(&by_url).addr(),
            ConnectionAddr::TcpTls {
                insecure: false,
                ..
            }
        ));
        let insecure_url = Config::from_options(RawOptions {
            url: Some("rediss://localhost:6390/#insecure".to_owned()),
            ..Default::default()
        });
        assert!(matches!(
            insecure_url,
            Err(SessionError::InvalidOptions(ref message)) if message.contains("rejectUnauthorized: false")
        ));
        let by_options = config(RawOptions {
            port: Some(6390.0),
            tls: Some(RawTls {
                reject_unauthorized: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert!(matches!(
            info(&by_options).addr(),
            ConnectionAddr::TcpTls { insecure: true, .. }
        ));
    }

    #[test]
    fn no_url_turns_certificate_checks_off() {
        use crate::target::RawNode;
        let node = |url: &str| Some(vec![RawNode::Url(url.to_owned())]);
        for raw in [
            RawOptions {
                cluster: node("rediss://:s3cret@127.0.0.1:7000#insecure"),
                ..Default::default()
            },
            RawOptions {
                sentinel: Some(RawSentinel {
                    name: Some("m".to_owned()),
                    sentinels: vec![RawNode::Url(
                        "rediss://127.0.0.1:26379/#insecure".to_owned(),
                    )],
                    ..Default::default()
                }),
                ..Default::default()
            },
        ] {
            let Err(SessionError::InvalidOptions(message)) = Config::from_options(raw) else {
                panic!("a #insecure node must be refused");
            };
            assert!(message.contains("#insecure"), "{message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
    }

    #[test]
    fn debug_output_and_errors_show_no_secret() {
        use crate::target::RawNode;
        let secret_url = "redis://alice:s3cret@127.0.0.1:7000";
        let tls = RawTls {
            ca: vec![b"ca s3cret".to_vec()],
            cert: Some(b"cert s3cret".to_vec()),
            key: Some(b"key s3cret".to_vec()),
            reject_unauthorized: None,
        };
        let raws = [
            RawOptions {
                url: Some(secret_url.to_owned()),
                password: Some("s3cret".to_owned()),
                tls: Some(tls.clone()),
                ..Default::default()
            },
            RawOptions {
                password: Some("s3cret".to_owned()),
                sentinel: Some(RawSentinel {
                    name: Some("m".to_owned()),
                    sentinels: vec![RawNode::Url(secret_url.to_owned())],
                    username: Some("watcher".to_owned()),
                    password: Some("s3cret".to_owned()),
                }),
                ..Default::default()
            },
            RawOptions {
                cluster: Some(vec![RawNode::Url(secret_url.to_owned())]),
                password: Some("s3cret".to_owned()),
                tls: Some(tls),
                ..Default::default()
            },
        ];
        for raw in raws {
            let shown = format!("{raw:?} {:?}", config(raw.clone()));
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        let bad = RawOptions {
            cluster: Some(vec![RawNode::Url("redis://alice:s3cret@h:1/x".to_owned())]),
            ..Default::default()
        };
        let Err(SessionError::InvalidOptions(message)) = Config::from_options(bad) else {
            panic!("a bad node URL must be refused");
        };
        assert!(
            message.contains("redis://alice:<redacted>@h:1/x"),
            "{message}"
        );
    }

    #[test]
    fn cluster_takes_nodes_and_the_credentials_of_options() {
        use crate::target::RawNode;
        let c = config(RawOptions {
            cluster: Some(vec![
                RawNode::Address(Some("127.0.0.1".to_owned()), Some(7000.0)),
                RawNode::Url("redis://127.0.0.1:7001".to_owned()),
            ]),
            username: Some("app".to_owned()),
            password: Some("pw".to_owned()),
            ..Default::default()
        });
        let Target::Cluster { nodes, .. } = &c.target else {
            panic!("cluster expected");
        };
        assert_eq!(nodes.len(), 2);
        assert!(nodes
            .iter()
            .all(|n| n.redis_settings().password() == Some("pw")));
        for bad in [
            RawOptions {
                cluster: Some(vec![]),
                ..Default::default()
            },
            RawOptions {
                cluster: Some(vec![RawNode::Url("redis://h:1".to_owned())]),
                namespace: Some("a{b}".to_owned()),
                ..Default::default()
            },
            RawOptions {
                cluster: Some(vec![RawNode::Url("redis://h:1".to_owned())]),
                db: Some(2.0),
                ..Default::default()
            },
        ] {
            assert!(matches!(
                Config::from_options(bad),
                Err(SessionError::InvalidOptions(_))
            ));
        }
    }

    #[test]
    fn sentinel_needs_a_name_and_sentinels() {
        use crate::target::RawNode;
        let sentinel = |name: Option<&str>, sentinels: Vec<RawNode>| RawOptions {
            sentinel: Some(RawSentinel {
                name: name.map(str::to_owned),
                sentinels,
                ..Default::default()
            }),
            ..Default::default()
        };
        let node = RawNode::Address(Some("127.0.0.1".to_owned()), Some(26379.0));
        assert!(matches!(
            config(sentinel(Some("mymaster"), vec![node.clone(), RawNode::Url("redis://[::1]:26380".to_owned())])).target,
            Target::Sentinel { ref sentinels, .. } if sentinels.len() == 2
        ));
        for bad in [
            sentinel(None, vec![node.clone()]),
            sentinel(Some("m"), vec![]),
            sentinel(Some("m"), vec![RawNode::Address(None, None)]),
        ] {
            assert!(matches!(
                Config::from_options(bad),
                Err(SessionError::InvalidOptions(_))
            ));
        }
    }

    #[test]
    fn defaults_match_the_reference() {
        let c = config(RawOptions::default());
        assert_eq!(c.namespace, "rs");
        assert_eq!(c.wipe_every, Some(Duration::from_secs(600)));
        assert_eq!(c.cache_time, None);
        assert_eq!(c.cache_max, 5000);
        assert_eq!(c.target.describe(), "127.0.0.1:6379");
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
                connect_timeout_ms: Some(value),
                command_timeout_ms: Some(value),
                wipe: Some(value),
                cachetime: Some(value),
                cachemax: Some(value),
                ..Default::default()
            });
            assert!(c.connect_timeout <= Duration::from_secs(1_000_000_000));
            assert!(c.cache_max <= 1_000_000_000);
        }
        for value in [0.0, -1.0, f64::NEG_INFINITY, f64::NAN] {
            assert!(matches!(
                Config::from_options(RawOptions {
                    connect_timeout_ms: Some(value),
                    ..Default::default()
                }),
                Err(SessionError::InvalidOptions(_))
            ));
        }
    }

    #[test]
    fn url_and_overrides() {
        let c = config(RawOptions {
            url: Some("redis://alice:secret@localhost:6390/2".to_owned()),
            ..Default::default()
        });
        assert_eq!(info(&c).addr().to_string(), "localhost:6390");
        assert_eq!(info(&c).redis_settings().db(), 2);
        assert_eq!(info(&c).redis_settings().username(), Some("alice"));
        assert_eq!(info(&c).redis_settings().password(), Some("secret"));
        let v4 = config(RawOptions {
            socket_host: Some("::1".to_owned()),
            socket_port: Some(7000.0),
            db: Some(3.0),
            password: Some("pw".to_owned()),
            ..Default::default()
        });
        assert_eq!(info(&v4).addr().to_string(), "::1:7000");
        assert_eq!(info(&v4).redis_settings().db(), 3);
    }

    #[test]
    fn bad_values_are_errors() {
        for raw in [
            RawOptions {
                port: Some(70000.0),
                ..Default::default()
            },
            RawOptions {
                port: Some(f64::NAN),
                ..Default::default()
            },
            RawOptions {
                url: Some("http://x".to_owned()),
                ..Default::default()
            },
            RawOptions {
                db: Some(-1.0),
                ..Default::default()
            },
            RawOptions {
                tls: Some(RawTls {
                    cert: Some(b"only a cert".to_vec()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ] {
            assert!(matches!(
                Config::from_options(raw),
                Err(SessionError::InvalidOptions(_))
            ));
        }
    }
}
