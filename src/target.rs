//! Where the sessions live: one Redis, the master a set of Sentinels names,
//! or a Redis Cluster; over TCP or TLS, with an ACL user or a password. How
//! a client is opened there (timeouts, keepalive) is `source`'s part.

use std::fmt;

use redis::{
    ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, TlsCertificates, TlsMode,
};

use crate::error::{Result, SessionError};
use crate::redact::{redact_url, Redacted};

/// Where to connect, as given: the standalone address (`host`/`port`, `url`,
/// or node-redis 4's `socket`), the credentials, TLS, and Sentinel or Cluster.
/// Its `Debug` shows no password.
#[derive(Clone, Default)]
pub struct RawTarget {
    pub host: Option<String>,
    pub port: Option<f64>,
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: Option<f64>,
    /// Set when TLS was asked for, with what was given for it.
    pub tls: Option<RawTls>,
    pub sentinel: Option<RawSentinel>,
    /// Some nodes of a Redis Cluster: cluster mode, with its own key layout.
    pub cluster: Option<Vec<RawNode>>,
    /// node-redis 4's `options.socket.host`/`port`: used when `host`/`port` are not.
    pub socket_host: Option<String>,
    pub socket_port: Option<f64>,
}

/// TLS settings as given (`options.tls`, `options.socket`, or a `rediss:` URL).
/// Its `Debug` shows no key.
#[derive(Clone, Default)]
pub struct RawTls {
    /// PEM certificates to trust instead of the system's.
    pub ca: Vec<Vec<u8>>,
    pub cert: Option<Vec<u8>>,
    pub key: Option<Vec<u8>>,
    pub reject_unauthorized: Option<bool>,
}

/// A node as given: a URL, or `{host, port}`. Its `Debug` shows no password.
#[derive(Clone)]
pub enum RawNode {
    Url(String),
    Address(Option<String>, Option<f64>),
}

/// Its `Debug` shows no password.
#[derive(Clone, Default)]
pub struct RawSentinel {
    pub name: Option<String>,
    pub sentinels: Vec<RawNode>,
    /// For the Sentinels themselves; the master takes `options.username`/`password`.
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Tls {
    certificates: TlsCertificates,
    insecure: bool,
}

/// Its `Debug` shows no password: redis-rs hides those of `ConnectionInfo`
/// and the certificates of `Tls`, and `sentinel_password` is hidden here.
#[derive(Clone)]
pub enum Target {
    Standalone {
        info: ConnectionInfo,
        tls: Option<Tls>,
    },
    Sentinel {
        service: String,
        sentinels: Vec<ConnectionAddr>,
        /// db, username and password for the master.
        master: ConnectionInfo,
        sentinel_username: Option<String>,
        sentinel_password: Option<String>,
        tls: Option<Tls>,
    },
    /// Some of the cluster's nodes; the rest are discovered.
    Cluster {
        nodes: Vec<ConnectionInfo>,
        tls: Option<Tls>,
    },
}

impl fmt::Debug for RawTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be left out by accident.
        let Self {
            host,
            port,
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
        f.debug_struct("RawTarget")
            .field("host", host)
            .field("port", port)
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

impl fmt::Debug for RawTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            ca,
            cert,
            key,
            reject_unauthorized,
        } = self;
        f.debug_struct("RawTls")
            .field("ca", &format_args!("[{} certificates]", ca.len()))
            .field("cert", &Redacted(cert))
            .field("key", &Redacted(key))
            .field("reject_unauthorized", reject_unauthorized)
            .finish()
    }
}

impl fmt::Debug for RawNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(url) => f.debug_tuple("Url").field(&redact_url(url)).finish(),
            Self::Address(host, port) => f.debug_tuple("Address").field(host).field(port).finish(),
        }
    }
}

impl fmt::Debug for RawSentinel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            name,
            sentinels,
            username,
            password,
        } = self;
        f.debug_struct("RawSentinel")
            .field("name", name)
            .field("sentinels", sentinels)
            .field("username", username)
            .field("password", &Redacted(password))
            .finish()
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Standalone { info, tls } => f
                .debug_struct("Standalone")
                .field("info", info)
                .field("tls", tls)
                .finish(),
            Self::Sentinel {
                service,
                sentinels,
                master,
                sentinel_username,
                sentinel_password,
                tls,
            } => f
                .debug_struct("Sentinel")
                .field("service", service)
                .field("sentinels", sentinels)
                .field("master", master)
                .field("sentinel_username", sentinel_username)
                .field("sentinel_password", &Redacted(sentinel_password))
                .field("tls", tls)
                .finish(),
            Self::Cluster { nodes, tls } => f
                .debug_struct("Cluster")
                .field("nodes", nodes)
                .field("tls", tls)
                .finish(),
        }
    }
}

fn invalid(message: impl Into<String>) -> SessionError {
    SessionError::InvalidOptions(message.into())
}

impl Tls {
    pub fn from_raw(raw: &RawTls) -> Result<Self> {
        let client_tls = match (&raw.cert, &raw.key) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: cert.clone(),
                client_key: key.clone(),
            }),
            (None, None) => None,
            _ => return Err(invalid("tls needs both cert and key, or neither")),
        };
        let root_cert = (!raw.ca.is_empty()).then(|| raw.ca.join(&b"\n"[..]));
        Ok(Self {
            certificates: TlsCertificates {
                client_tls,
                root_cert,
            },
            insecure: raw.reject_unauthorized == Some(false),
        })
    }

    pub(crate) fn certificates(&self) -> &TlsCertificates {
        &self.certificates
    }

    pub(crate) fn mode(&self) -> TlsMode {
        if self.insecure {
            TlsMode::Insecure
        } else {
            TlsMode::Secure
        }
    }
}

fn node_url(node: &RawNode) -> Result<String> {
    match node {
        RawNode::Url(url) => Ok(url.clone()),
        RawNode::Address(host, port) => {
            let host = host.clone().unwrap_or_else(|| "127.0.0.1".to_owned());
            let port = port.ok_or_else(|| invalid(format!("node {host} has no port")))?;
            Ok(format!("redis://{host}:{}", valid_port(port)?))
        }
    }
}

fn node_info(node: &RawNode, what: &str) -> Result<ConnectionInfo> {
    parse_url(&node_url(node)?, what)
}

/// Where and as whom a URL connects. Quoted in errors without its password.
/// redis-rs reads `rediss://host#insecure` as "do not verify the certificate",
/// which a URL copied from somewhere would do silently: refused, so that
/// turning verification off is always the explicit `rejectUnauthorized: false`.
fn parse_url(url: &str, what: &str) -> Result<ConnectionInfo> {
    let info = url
        .into_connection_info()
        .map_err(|err| invalid(format!("bad {what} {}: {err}", redact_url(url))))?;
    if let ConnectionAddr::TcpTls { insecure: true, .. } = info.addr() {
        return Err(invalid(format!(
            "bad {what} {}: the #insecure fragment is not supported; to accept any \
             certificate, set rejectUnauthorized: false in options.tls or options.socket",
            redact_url(url)
        )));
    }
    Ok(info)
}

fn valid_port(port: f64) -> Result<u16> {
    if (1.0..=65535.0).contains(&port) && port.fract() == 0.0 {
        Ok(port as u16)
    } else {
        Err(invalid(format!(
            "port must be an integer from 1 to 65535, got {port}"
        )))
    }
}

/// Where and as whom to connect without Sentinel or Cluster; the master's
/// (or every node's) credentials and db otherwise.
fn standalone_info(raw: &RawTarget) -> Result<ConnectionInfo> {
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
                .map_err(|err| invalid(err.to_string()))?
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
            return Err(invalid(format!(
                "db must be a non-negative integer, got {db}"
            )));
        }
        redis = redis.set_db(db as i64);
    }
    Ok(info.set_redis_settings(redis))
}

/// The same address over TLS.
fn with_tls(addr: ConnectionAddr, tls: &Tls) -> ConnectionAddr {
    match addr {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure: tls.insecure,
                tls_params: None,
            }
        }
        other => other,
    }
}

impl Target {
    /// Checks what was given and puts it in redis-rs's terms.
    pub fn new(raw: &RawTarget) -> Result<Self> {
        let info = standalone_info(raw)?;
        let tls = match (&raw.tls, info.addr()) {
            (Some(given), _) => Some(Tls::from_raw(given)?),
            (None, ConnectionAddr::TcpTls { .. }) => Some(Tls::from_raw(&RawTls::default())?),
            (None, _) => None,
        };
        let sentinel = raw.sentinel.as_ref();
        if let Some(nodes) = &raw.cluster {
            if sentinel.is_some() {
                return Err(invalid("cluster and sentinel cannot be used together"));
            }
            return Self::cluster(&info, nodes, tls);
        }
        match sentinel {
            Some(sentinel) => Self::sentinel(info, sentinel, tls),
            None => {
                let info = match &tls {
                    Some(tls) => {
                        let addr = with_tls(info.addr().clone(), tls);
                        info.set_addr(addr)
                    }
                    None => info,
                };
                Ok(Self::Standalone { info, tls })
            }
        }
    }

    /// `master` holds the master's credentials and db; the Sentinels' own are in `sentinel`.
    fn sentinel(master: ConnectionInfo, sentinel: &RawSentinel, tls: Option<Tls>) -> Result<Self> {
        let service = sentinel
            .name
            .clone()
            .filter(|name| !name.is_empty())
            .ok_or_else(|| invalid("sentinel.name (the master's name) is required"))?;
        if sentinel.sentinels.is_empty() {
            return Err(invalid(
                "sentinel.sentinels must list at least one Sentinel",
            ));
        }
        let sentinels = sentinel
            .sentinels
            .iter()
            .map(|node| node_info(node, "Sentinel address").map(|info| info.addr().clone()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::Sentinel {
            service,
            sentinels,
            master,
            sentinel_username: sentinel.username.clone(),
            sentinel_password: sentinel.password.clone(),
            tls,
        })
    }

    fn cluster(settings: &ConnectionInfo, nodes: &[RawNode], tls: Option<Tls>) -> Result<Self> {
        if nodes.is_empty() {
            return Err(invalid("cluster must list at least one node"));
        }
        if settings.redis_settings().db() != 0 {
            return Err(invalid("Redis Cluster has only database 0"));
        }
        let nodes = nodes
            .iter()
            .map(|node| {
                let info = node_info(node, "cluster node")?;
                let mut redis = info.redis_settings().clone();
                let given = settings.redis_settings();
                if let Some(user) = given.username().filter(|_| redis.username().is_none()) {
                    redis = redis.set_username(user);
                }
                if let Some(pass) = given.password().filter(|_| redis.password().is_none()) {
                    redis = redis.set_password(pass);
                }
                let addr = match &tls {
                    Some(tls) => with_tls(info.addr().clone(), tls),
                    None => info.addr().clone(),
                };
                Ok(info.set_redis_settings(redis).set_addr(addr))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::Cluster { nodes, tls })
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster { .. })
    }

    /// For messages: where this connects.
    pub fn describe(&self) -> String {
        match self {
            Self::Standalone { info, .. } => info.addr().to_string(),
            Self::Sentinel { service, .. } => format!("the master of {service} (Sentinel)"),
            Self::Cluster { nodes, .. } => {
                let first = nodes.first().map(|n| n.addr().to_string());
                format!("the cluster at {}", first.unwrap_or_default())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(raw: RawTarget) -> Target {
        Target::new(&raw).unwrap()
    }

    fn info(target: &Target) -> &ConnectionInfo {
        match target {
            Target::Standalone { info, .. } => info,
            _ => panic!("not standalone"),
        }
    }

    #[test]
    fn tls_from_url_or_options() {
        let by_url = target(RawTarget {
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
        let insecure_url = Target::new(&RawTarget {
            url: Some("rediss://localhost:6390/#insecure".to_owned()),
            ..Default::default()
        });
        assert!(matches!(
            insecure_url,
            Err(SessionError::InvalidOptions(ref message)) if message.contains("rejectUnauthorized: false")
        ));
        let by_options = target(RawTarget {
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
        let node = |url: &str| Some(vec![RawNode::Url(url.to_owned())]);
        for raw in [
            RawTarget {
                cluster: node("rediss://:s3cret@127.0.0.1:7000#insecure"),
                ..Default::default()
            },
            RawTarget {
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
            let Err(SessionError::InvalidOptions(message)) = Target::new(&raw) else {
                panic!("a #insecure node must be refused");
            };
            assert!(message.contains("#insecure"), "{message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
    }

    #[test]
    fn cluster_takes_nodes_and_the_credentials_of_options() {
        let c = target(RawTarget {
            cluster: Some(vec![
                RawNode::Address(Some("127.0.0.1".to_owned()), Some(7000.0)),
                RawNode::Url("redis://127.0.0.1:7001".to_owned()),
            ]),
            username: Some("app".to_owned()),
            password: Some("pw".to_owned()),
            ..Default::default()
        });
        assert!(c.is_cluster());
        let Target::Cluster { nodes, .. } = &c else {
            panic!("cluster expected");
        };
        assert_eq!(nodes.len(), 2);
        assert!(nodes
            .iter()
            .all(|n| n.redis_settings().password() == Some("pw")));
        for bad in [
            RawTarget {
                cluster: Some(vec![]),
                ..Default::default()
            },
            RawTarget {
                cluster: Some(vec![RawNode::Url("redis://h:1".to_owned())]),
                db: Some(2.0),
                ..Default::default()
            },
            RawTarget {
                cluster: Some(vec![RawNode::Url("redis://h:1".to_owned())]),
                sentinel: Some(RawSentinel::default()),
                ..Default::default()
            },
        ] {
            assert!(matches!(
                Target::new(&bad),
                Err(SessionError::InvalidOptions(_))
            ));
        }
    }

    #[test]
    fn sentinel_needs_a_name_and_sentinels() {
        let sentinel = |name: Option<&str>, sentinels: Vec<RawNode>| RawTarget {
            sentinel: Some(RawSentinel {
                name: name.map(str::to_owned),
                sentinels,
                ..Default::default()
            }),
            ..Default::default()
        };
        let node = RawNode::Address(Some("127.0.0.1".to_owned()), Some(26379.0));
        assert!(matches!(
            target(sentinel(Some("mymaster"), vec![node.clone(), RawNode::Url("redis://[::1]:26380".to_owned())])),
            Target::Sentinel { ref sentinels, .. } if sentinels.len() == 2
        ));
        for bad in [
            sentinel(None, vec![node.clone()]),
            sentinel(Some("m"), vec![]),
            sentinel(Some("m"), vec![RawNode::Address(None, None)]),
        ] {
            assert!(matches!(
                Target::new(&bad),
                Err(SessionError::InvalidOptions(_))
            ));
        }
    }

    #[test]
    fn url_and_overrides() {
        let c = target(RawTarget {
            url: Some("redis://alice:secret@localhost:6390/2".to_owned()),
            ..Default::default()
        });
        assert_eq!(info(&c).addr().to_string(), "localhost:6390");
        assert_eq!(info(&c).redis_settings().db(), 2);
        assert_eq!(info(&c).redis_settings().username(), Some("alice"));
        assert_eq!(info(&c).redis_settings().password(), Some("secret"));
        let v4 = target(RawTarget {
            socket_host: Some("::1".to_owned()),
            socket_port: Some(7000.0),
            db: Some(3.0),
            password: Some("pw".to_owned()),
            ..Default::default()
        });
        assert_eq!(info(&v4).addr().to_string(), "::1:7000");
        assert_eq!(info(&v4).redis_settings().db(), 3);
        // host and port win over node-redis 4's socket; an empty host or port 0 does not.
        let both = target(RawTarget {
            host: Some("h".to_owned()),
            port: Some(0.0),
            socket_host: Some("s".to_owned()),
            socket_port: Some(7001.0),
            ..Default::default()
        });
        assert_eq!(info(&both).addr().to_string(), "h:7001");
    }

    #[test]
    fn bad_values_are_errors() {
        for raw in [
            RawTarget {
                port: Some(70000.0),
                ..Default::default()
            },
            RawTarget {
                port: Some(f64::NAN),
                ..Default::default()
            },
            RawTarget {
                url: Some("http://x".to_owned()),
                ..Default::default()
            },
            RawTarget {
                db: Some(-1.0),
                ..Default::default()
            },
            RawTarget {
                tls: Some(RawTls {
                    cert: Some(b"only a cert".to_vec()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ] {
            assert!(matches!(
                Target::new(&raw),
                Err(SessionError::InvalidOptions(_))
            ));
        }
    }
}
