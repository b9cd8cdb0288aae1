//! Opening redis-rs clients for a `Target` with the `ConnectionSettings`:
//! every timeout and the TCP keepalive are handed to redis-rs here, once per
//! backend (one server, Sentinel, Cluster). Every connection, whatever it is
//! for, has TCP keepalive on.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::io::tcp::{socket2::TcpKeepalive, TcpSettings};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Client, ConnectionAddr, ConnectionInfo, ProtocolVersion, PushInfo, RedisResult};

use crate::error::{Result, SessionError};
use crate::hosted::{Address, Dialer, Hosted, HostedConn};
use crate::settings::ConnectionSettings;
use crate::target::{Target, Tls};

/// Between keepalive probes once the idle time has passed.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
/// How often a lost single connection is retried before a call fails, and
/// the longest wait between two tries.
const MANAGER_RETRIES: usize = 2;
const MANAGER_MAX_DELAY: Duration = Duration::from_millis(500);

/// A connection to one Redis, or to a cluster that routes each command by its key.
#[derive(Clone)]
pub enum Link {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    /// A socket of the host's event loop (`hosted.rs`).
    Hosted(HostedConn),
}

/// Hands out a client for the current master, and opens the shared connection.
pub struct Source {
    backend: Backend,
    settings: ConnectionSettings,
    closed: AtomicBool,
}

enum Backend {
    Client(Client),
    /// One Redis over plain TCP or a Unix socket, through the host's sockets;
    /// the client is for pub/sub, which stays on redis-rs.
    Hosted {
        client: Client,
        dialer: Arc<dyn Dialer>,
        address: Address,
    },
    /// Asks the Sentinels each time: after a failover the answer changes.
    /// Let go on `close`: it keeps connections to the Sentinels open.
    Sentinel(tokio::sync::Mutex<Option<SentinelClient>>),
    Cluster {
        client: ClusterClient,
        /// For pub/sub, which reaches the whole cluster from any node: tried in turn.
        nodes: Vec<Client>,
        next: AtomicUsize,
        /// For sharded pub/sub's own cluster client (`sharded.rs`).
        seeds: Box<(Vec<ConnectionInfo>, Option<Tls>)>,
    },
}

/// TCP keepalive, so that the OS notices a peer that is gone, and so that a
/// NAT or load balancer that forgets idle connections sees traffic on ours.
fn tcp_settings(settings: &ConnectionSettings) -> TcpSettings {
    TcpSettings::default().set_keepalive(
        TcpKeepalive::new()
            .with_time(settings.keep_alive)
            .with_interval(KEEPALIVE_INTERVAL),
    )
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

fn invalid(err: impl ToString) -> SessionError {
    SessionError::InvalidOptions(err.to_string())
}

/// A client for one server, over TLS with the given certificates if any.
fn node_client(
    info: &ConnectionInfo,
    tls: Option<&Tls>,
    settings: &ConnectionSettings,
) -> RedisResult<Client> {
    let info = info.clone().set_tcp_settings(tcp_settings(settings));
    match tls {
        Some(tls) => Client::build_with_tls(info, tls.certificates().clone()),
        None => Client::open(info),
    }
}

/// A cluster client's settings: timeouts, keepalive, credentials, TLS.
fn cluster_builder(
    nodes: &[ConnectionInfo],
    tls: Option<&Tls>,
    settings: &ConnectionSettings,
) -> ClusterClientBuilder {
    let mut builder = ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(settings.connect_timeout)
        .response_timeout(settings.command_timeout)
        .tcp_settings(tcp_settings(settings));
    if let Some(credentials) = nodes.first().map(|n| n.redis_settings().clone()) {
        if let Some(username) = credentials.username() {
            builder = builder.username(username);
        }
        if let Some(password) = credentials.password() {
            builder = builder.password(password);
        }
    }
    if let Some(tls) = tls {
        builder = builder.tls(tls.mode()).certs(tls.certificates().clone());
    }
    builder
}

/// Where the host's socket goes for this standalone target: plain TCP or a
/// Unix socket; `None` for TLS, which stays on redis-rs.
fn hosted_address(info: &ConnectionInfo, tls: Option<&Tls>) -> Option<Address> {
    if tls.is_some() {
        return None;
    }
    match info.addr() {
        ConnectionAddr::Tcp(host, port) => Some(Address::Tcp {
            host: host.clone(),
            port: *port,
        }),
        ConnectionAddr::Unix(path) => path.to_str().map(|path| Address::Unix {
            path: path.to_owned(),
        }),
        _ => None,
    }
}

impl Source {
    /// With a `dialer`, a standalone Redis without TLS is reached through
    /// the host's sockets (`hosted.rs`).
    pub fn new(
        target: &Target,
        settings: ConnectionSettings,
        dialer: Option<Arc<dyn Dialer>>,
    ) -> Result<Self> {
        // Always: cluster nodes or Sentinels may be rediss:// URLs on their own.
        ensure_crypto_provider();
        let backend = match target {
            Target::Standalone { info, tls } => {
                let client = node_client(info, tls.as_ref(), &settings).map_err(invalid)?;
                match (dialer, hosted_address(info, tls.as_ref())) {
                    (Some(dialer), Some(address)) => Backend::Hosted {
                        client,
                        dialer,
                        address,
                    },
                    _ => Backend::Client(client),
                }
            }
            Target::Sentinel {
                service,
                sentinels,
                master,
                sentinel_username,
                sentinel_password,
                tls,
            } => {
                let credentials = master.redis_settings();
                let mut builder = SentinelClientBuilder::new(
                    sentinels.clone(),
                    service.as_str(),
                    SentinelServerType::Master,
                )
                .map_err(invalid)?
                .set_client_to_redis_db(credentials.db())
                .set_client_to_redis_tcp_settings(tcp_settings(&settings))
                .set_client_to_sentinel_tcp_settings(tcp_settings(&settings));
                if let Some(username) = credentials.username() {
                    builder = builder.set_client_to_redis_username(username);
                }
                if let Some(password) = credentials.password() {
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
                        .set_client_to_redis_certificates(tls.certificates().clone());
                    // Sentinels given as rediss:// URLs are reached with the same certificates.
                    if sentinels
                        .iter()
                        .any(|addr| matches!(addr, ConnectionAddr::TcpTls { .. }))
                    {
                        builder = builder
                            .set_client_to_sentinel_tls_mode(tls.mode())
                            .set_client_to_sentinel_certificates(tls.certificates().clone());
                    }
                }
                Backend::Sentinel(tokio::sync::Mutex::new(Some(
                    builder.build().map_err(invalid)?,
                )))
            }
            Target::Cluster { nodes, tls } => {
                let seeds = Box::new((nodes.clone(), tls.clone()));
                let client = cluster_builder(nodes, tls.as_ref(), &settings)
                    .build()
                    .map_err(invalid)?;
                let nodes = nodes
                    .iter()
                    .map(|info| node_client(info, tls.as_ref(), &settings))
                    .collect::<RedisResult<Vec<_>>>()
                    .map_err(invalid)?;
                Backend::Cluster {
                    client,
                    nodes,
                    next: AtomicUsize::new(0),
                    seeds,
                }
            }
        };
        Ok(Self {
            backend,
            settings,
            closed: AtomicBool::new(false),
        })
    }

    /// What every connection is opened with.
    pub fn settings(&self) -> &ConnectionSettings {
        &self.settings
    }

    /// Opens the shared connection: a multiplexed one to the current
    /// master, which redis-rs reopens after a drop, or the cluster's.
    pub async fn connect(&self) -> RedisResult<Link> {
        if let Backend::Cluster { client, .. } = &self.backend {
            return client.get_async_connection().await.map(Link::Cluster);
        }
        if let Backend::Hosted {
            client,
            dialer,
            address,
        } = &self.backend
        {
            let credentials = client.get_connection_info().redis_settings();
            return Hosted::open(
                dialer.as_ref(),
                address,
                self.settings.keep_alive,
                self.settings.command_timeout,
                credentials,
            )
            .await
            .map(Link::Hosted);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.settings.connect_timeout))
            .set_response_timeout(Some(self.settings.command_timeout))
            .set_number_of_retries(MANAGER_RETRIES)
            .set_max_delay(MANAGER_MAX_DELAY);
        let client = self.client().await?;
        ConnectionManager::new_with_config(client, config)
            .await
            .map(Link::Single)
    }

    /// A client for the current master, for connections of their own (pub/sub).
    pub async fn client(&self) -> RedisResult<Client> {
        match &self.backend {
            Backend::Client(client) | Backend::Hosted { client, .. } => Ok(client.clone()),
            Backend::Sentinel(sentinel) => {
                let mut held = sentinel.lock().await;
                let Some(asking) = held.as_mut() else {
                    return Err((redis::ErrorKind::Io, "the connection was closed (quit)").into());
                };
                let client = asking.async_get_client().await;
                // Closed while it asked: let go now, as `close` could not.
                if self.closed.load(Ordering::Acquire) {
                    held.take();
                }
                client
            }
            Backend::Cluster { nodes, next, .. } => {
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

    /// In cluster mode, a RESP3 connection of its own whose sharded
    /// subscriptions redis-rs keeps on the nodes owning their slots (after
    /// failovers, resharding and reconnections), pushing what it hears to
    /// `pushes`; `None` otherwise.
    pub async fn sharded_pubsub(
        &self,
        pushes: tokio::sync::mpsc::UnboundedSender<PushInfo>,
    ) -> Option<RedisResult<ClusterConnection>> {
        let Backend::Cluster { seeds, .. } = &self.backend else {
            return None;
        };
        let (nodes, tls) = &**seeds;
        let client = cluster_builder(nodes, tls.as_ref(), &self.settings)
            .use_protocol(ProtocolVersion::RESP3)
            .push_sender(pushes)
            .build();
        Some(match client {
            Ok(client) => client.get_async_connection().await,
            Err(err) => Err(err),
        })
    }

    /// No more connections: behind Sentinel, the connections to the
    /// Sentinels close (now, or as soon as an ask under way ends).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Backend::Sentinel(sentinel) = &self.backend {
            if let Ok(mut held) = sentinel.try_lock() {
                held.take();
            }
        }
    }

    /// Whether the connection is the host's socket (`crate::hosted`).
    pub fn is_hosted(&self) -> bool {
        matches!(self.backend, Backend::Hosted { .. })
    }

    /// Whether a failed connection must be replaced by the next call: behind
    /// Sentinel or in a cluster, to ask again where the master is or which
    /// nodes serve which slots; a hosted one, which does not reopen itself.
    /// redis-rs's single connection reopens itself.
    pub fn replaces_failed_links(&self) -> bool {
        !matches!(self.backend, Backend::Client(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, RawOptions};
    use crate::target::{RawNode, RawTarget};

    fn source(target: RawTarget, keep_alive_ms: Option<f64>) -> Source {
        let config = Config::from_options(RawOptions {
            target,
            connection: ConnectionSettings {
                keep_alive: keep_alive_ms,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        Source::new(&config.target, config.connection, None).unwrap()
    }

    fn keepalive_of(client: &Client) -> Option<String> {
        // socket2's `TcpKeepalive` has no getters: its `Debug` shows the idle time.
        client
            .get_connection_info()
            .tcp_settings()
            .keepalive()
            .map(|keepalive| format!("{keepalive:?}"))
    }

    #[test]
    fn keepalive_on_standalone_clients_plain_or_tls() {
        for url in ["redis://127.0.0.1:6390", "rediss://127.0.0.1:6390"] {
            let given = source(
                RawTarget {
                    url: Some(url.to_owned()),
                    ..Default::default()
                },
                None,
            );
            let Backend::Client(client) = &given.backend else {
                panic!("standalone expected");
            };
            let keepalive = keepalive_of(client).unwrap();
            assert!(keepalive.contains("time: Some(5s)"), "{url}: {keepalive}");
        }
    }

    #[test]
    fn keepalive_as_given_on_the_clients_of_cluster_nodes() {
        let given = source(
            RawTarget {
                cluster: Some(vec![
                    RawNode::Url("redis://127.0.0.1:7000".to_owned()),
                    RawNode::Url("redis://127.0.0.1:7001".to_owned()),
                ]),
                ..Default::default()
            },
            Some(42_000.0),
        );
        let Backend::Cluster { nodes, .. } = &given.backend else {
            panic!("cluster expected");
        };
        assert_eq!(nodes.len(), 2);
        for node in nodes {
            let keepalive = keepalive_of(node).unwrap();
            assert!(keepalive.contains("time: Some(42s)"), "{keepalive}");
        }
        assert!(given.replaces_failed_links());
    }
}
