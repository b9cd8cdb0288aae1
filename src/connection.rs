//! One multiplexed Redis connection per instance, opened on first use and
//! reopened by redis-rs after a drop. Concurrent calls share it, so their
//! commands are pipelined onto one socket.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Client;

use crate::config::Config;
use crate::error::{Result, SessionError};

/// What the connection tells its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    Connect,
    Disconnect,
}

pub type Listener = Arc<dyn Fn(ConnectionEvent) + Send + Sync>;

pub struct Connection {
    client: Client,
    manager_config: ConnectionManagerConfig,
    connect_timeout: std::time::Duration,
    current: Mutex<Option<ConnectionManager>>,
    connecting: tokio::sync::Mutex<()>,
    closed: AtomicBool,
    listener: Option<Listener>,
}

impl Connection {
    pub fn new(config: &Config, listener: Option<Listener>) -> Result<Self> {
        let client = Client::open(config.connection.clone())
            .map_err(|err| SessionError::InvalidOptions(err.to_string()))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.command_timeout))
            .set_number_of_retries(2)
            .set_max_delay(std::time::Duration::from_millis(500));
        Ok(Self {
            client,
            manager_config,
            connect_timeout: config.connect_timeout,
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            listener,
        })
    }

    fn current(&self) -> Option<ConnectionManager> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The shared connection, waiting up to the connect timeout for the first one.
    pub async fn get(&self) -> Result<ConnectionManager> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SessionError::Closed);
        }
        if let Some(manager) = self.current() {
            return Ok(manager);
        }
        let _only_one_connects = self.connecting.lock().await;
        if let Some(manager) = self.current() {
            return Ok(manager);
        }
        let connect = ConnectionManager::new_with_config(self.client.clone(), self.manager_config.clone());
        let manager = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(manager)) => manager,
            Ok(Err(err)) => return Err(SessionError::Connection(err.to_string())),
            Err(_) => {
                return Err(SessionError::Connection(format!(
                    "no connection to {} within {} ms",
                    self.client.get_connection_info().addr(),
                    self.connect_timeout.as_millis()
                )))
            }
        };
        if self.closed.load(Ordering::Acquire) {
            return Err(SessionError::Closed);
        }
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(manager.clone());
        if let Some(listener) = &self.listener {
            listener(ConnectionEvent::Connect);
        }
        Ok(manager)
    }

    pub fn is_connected(&self) -> bool {
        self.current().is_some()
    }

    /// Drops the connection; later calls answer `Closed`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let was_open = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .is_some();
        if was_open {
            if let Some(listener) = &self.listener {
                listener(ConnectionEvent::Disconnect);
            }
        }
    }
}
