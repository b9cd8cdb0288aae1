//! Where the sessions live: one Redis, the master a set of Sentinels names,
//! or a Redis Cluster; over TCP or TLS, with an ACL user or a password.
//! Every connection, whatever it is for, has TCP keepalive on.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::io::tcp::{socket2::TcpKeepalive, TcpSettings};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    Client, ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisResult,
    TlsCertificates, TlsMode,
};

use crate::error::{Result, SessionError};
use crate::redact::{redact_url, Redacted};

/// Idle time before the first keepalive probe: node-redis 4's `keepAlive`.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);

/// TCP keepalive, so that the OS notices a peer that is gone, and so that a
/// NAT or load balancer that forgets idle connections sees traffic on ours.
fn tcp_settings() -> TcpSettings {
    TcpSettings::default().set_keepalive(
        TcpKeepalive::new()
            .with_time(KEEPALIVE_IDLE)
            .with_interval(KEEPALIVE_INTERVAL),
    )
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

    fn mode(&self) -> TlsMode {
        if self.insecure {
            TlsMode::Insecure
        } else {
            TlsMode::Secure
        }
    }
}

/// rustls takes its crypto provider from its crate features (ring here), and
/// its config builder panics when it cannot tell which: installed explicitly,
/// so that a second provider feature enabled anywhere in the dependency tree
/// cannot turn a handshake into a panic. The rustls linked into this addon is
/// its own copy, so this touches no other library of the process.
fn ensure_crypto_provider() {
    // An error means one is installed already, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn node_url(node: &RawNode) -> Result<String> {
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
pub fn parse_url(url: &str, what: &str) -> Result<ConnectionInfo> {
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

/// A client for one server, over TLS with the given certificates if any.
fn node_client(info: &ConnectionInfo, tls: Option<&Tls>) -> RedisResult<Client> {
    let info = info.clone().set_tcp_settings(tcp_settings());
    match tls {
        Some(tls) => Client::build_with_tls(info, tls.certificates.clone()),
        None => Client::open(info),
    }
}

pub fn valid_port(port: f64) -> Result<u16> {
    if (1.0..=65535.0).contains(&port) && port.fract() == 0.0 {
        Ok(port as u16)
    } else {
        Err(invalid(format!(
            "port must be an integer from 1 to 65535, got {port}"
        )))
    }
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
    /// `info` is where and as whom to connect, from the standalone options;
    /// `tls` is set when TLS was asked for in the options.
    pub fn new(
        info: ConnectionInfo,
        tls: Option<&RawTls>,
        sentinel: Option<&RawSentinel>,
        cluster: Option<&[RawNode]>,
    ) -> Result<Self> {
        let tls = match (tls, info.addr()) {
            (Some(raw), _) => Some(Tls::from_raw(raw)?),
            (None, ConnectionAddr::TcpTls { .. }) => Some(Tls::from_raw(&RawTls::default())?),
            (None, _) => None,
        };
        // Always: cluster nodes or Sentinels may be rediss:// URLs on their own.
        ensure_crypto_provider();
        if let Some(nodes) = cluster {
            if sentinel.is_some() {
                return Err(invalid("cluster and sentinel cannot be used together"));
            }
            return Self::cluster(&info, nodes, tls);
        }
        let Some(sentinel) = sentinel else {
            let info = match &tls {
                Some(tls) => {
                    let addr = with_tls(info.addr().clone(), tls);
                    info.set_addr(addr)
                }
                None => info,
            };
            return Ok(Self::Standalone { info, tls });
        };
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
            master: info,
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

/// Hands out a client for the current master.
pub enum Source {
    Client(Client),
    /// Asks the Sentinels each time: after a failover the answer changes.
    Sentinel(tokio::sync::Mutex<SentinelClient>),
    Cluster {
        client: ClusterClient,
        /// For pub/sub, which reaches the whole cluster from any node: tried in turn.
        nodes: Vec<Client>,
        next: AtomicUsize,
    },
}

impl Source {
    pub fn new(
        target: &Target,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Result<Self> {
        match target {
            Target::Standalone { info, tls } => node_client(info, tls.as_ref())
                .map(Self::Client)
                .map_err(|err| invalid(err.to_string())),
            Target::Sentinel {
                service,
                sentinels,
                master,
                sentinel_username,
                sentinel_password,
                tls,
            } => {
                let settings = master.redis_settings();
                let mut builder = SentinelClientBuilder::new(
                    sentinels.clone(),
                    service.as_str(),
                    SentinelServerType::Master,
                )
                .map_err(|err| invalid(err.to_string()))?
                .set_client_to_redis_db(settings.db())
                .set_client_to_redis_tcp_settings(tcp_settings())
                .set_client_to_sentinel_tcp_settings(tcp_settings());
                if let Some(username) = settings.username() {
                    builder = builder.set_client_to_redis_username(username);
                }
                if let Some(password) = settings.password() {
                    builder = builder.set_client_to_redis_password(password);
                }
                if let Some(username) = sentinel_username {
                    builder = builder.set_client_to_sentinel_username(username);
                }
                if let Some(password) = sentinel_password {
                    builder = builder.set_client_to_sentinel_password(password);
                }
                if let Some(tls) = tls {
                    builder = builder
                        .set_client_to_redis_tls_mode(tls.mode())
                        .set_client_to_redis_certificates(tls.certificates.clone());
                    // Sentinels given as rediss:// URLs are reached with the same certificates.
                    if sentinels
                        .iter()
                        .any(|addr| matches!(addr, ConnectionAddr::TcpTls { .. }))
                    {
                        builder = builder
                            .set_client_to_sentinel_tls_mode(tls.mode())
                            .set_client_to_sentinel_certificates(tls.certificates.clone());
                    }
                }
                let client = builder.build().map_err(|err| invalid(err.to_string()))?;
                Ok(Self::Sentinel(tokio::sync::Mutex::new(client)))
            }
            Target::Cluster { nodes, tls } => {
                let mut builder = ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(connect_timeout)
                    .response_timeout(command_timeout)
                    .tcp_settings(tcp_settings());
                let settings = nodes.first().map(|n| n.redis_settings().clone());
                if let Some(settings) = &settings {
                    if let Some(username) = settings.username() {
                        builder = builder.username(username);
                    }
                    if let Some(password) = settings.password() {
                        builder = builder.password(password);
                    }
                }
                if let Some(tls) = tls {
                    builder = builder.tls(tls.mode()).certs(tls.certificates.clone());
                }
                let client = builder.build().map_err(|err| invalid(err.to_string()))?;
                let nodes = nodes
                    .iter()
                    .map(|info| node_client(info, tls.as_ref()))
                    .collect::<RedisResult<Vec<_>>>()
                    .map_err(|err| invalid(err.to_string()))?;
                Ok(Self::Cluster {
                    client,
                    nodes,
                    next: AtomicUsize::new(0),
                })
            }
        }
    }

    pub async fn client(&self) -> RedisResult<Client> {
        match self {
            Self::Client(client) => Ok(client.clone()),
            Self::Sentinel(sentinel) => sentinel.lock().await.async_get_client().await,
            Self::Cluster { nodes, next, .. } => {
                let turn = next.fetch_add(1, Ordering::Relaxed);
                nodes
                    .get(turn % nodes.len().max(1))
                    .cloned()
                    .ok_or_else(|| {
                        (redis::ErrorKind::InvalidClientConfig, "no cluster nodes").into()
                    })
            }
        }
    }

    /// Whether a lost connection should ask again where the master is
    /// (Sentinel) or which nodes serve which slots (Cluster).
    pub fn follows_failover(&self) -> bool {
        matches!(self, Self::Sentinel(_) | Self::Cluster { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, RawOptions};

    fn source(raw: RawOptions) -> Source {
        let config = Config::from_options(raw).unwrap();
        Source::new(
            &config.target,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .unwrap()
    }

    fn has_keepalive(client: &Client) -> bool {
        client
            .get_connection_info()
            .tcp_settings()
            .keepalive()
            .is_some()
    }

    #[test]
    fn keepalive_on_standalone_clients_plain_or_tls() {
        for url in ["redis://127.0.0.1:6390", "rediss://127.0.0.1:6390"] {
            let Source::Client(client) = source(RawOptions {
                url: Some(url.to_owned()),
                ..Default::default()
            }) else {
                panic!("standalone expected");
            };
            assert!(has_keepalive(&client), "{url}");
        }
    }

    #[test]
    fn keepalive_on_the_clients_of_cluster_nodes() {
        let Source::Cluster { nodes, .. } = source(RawOptions {
            cluster: Some(vec![
                RawNode::Url("redis://127.0.0.1:7000".to_owned()),
                RawNode::Url("redis://127.0.0.1:7001".to_owned()),
            ]),
            ..Default::default()
        }) else {
            panic!("cluster expected");
        };
        assert_eq!(nodes.len(), 2);
        assert!(nodes.iter().all(has_keepalive));
    }
}
