//! Several instances acting as one (the `cluster` configuration section):
//! operator overrides kept in one etcd key and changed by compare-and-swap
//! on its revision (`store`), a watch that applies everybody's changes here
//! (`sync`), and shared health: each instance publishes its probe verdicts
//! under a lease and an endpoint leaves the answers when a quorum of the
//! live instances see it down (`health`, `votes`).
//!
//! Owns every conversation with etcd. Never on the answering path: what
//! this module learns reaches answers only through the snapshot and health
//! view the rest of the process publishes. Without a `cluster` section
//! nothing here runs.

pub mod discovery;
pub mod drains;
pub mod health;
mod store;
pub mod sync;
pub mod votes;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};

use crate::config::{ClusterConfig, EtcdConnection};

pub use store::StoreError;

/// How long one etcd request may take before etcd counts as unreachable.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait between attempts to reach etcd again.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);

/// One instance's link to the fleet.
pub struct Cluster {
    pub config: ClusterConfig,
    /// Connected on first use; the client reconnects by itself after that.
    client: tokio::sync::Mutex<Option<Client>>,
    /// What `/v1/regions` shows of shared health.
    board: Mutex<Board>,
    /// Other instances' drain figures (`drains`).
    drains: Mutex<drains::DrainBoard>,
}

/// The votes as last seen, for the admin API.
#[derive(Debug, Clone, Default)]
pub struct Board {
    /// Whether the shared-health task is in touch with etcd now.
    pub connected: bool,
    /// Instance name → vote key → healthy; this instance included.
    pub instances: BTreeMap<String, BTreeMap<String, bool>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    pub fn new(config: ClusterConfig) -> Self {
        Self {
            config,
            client: tokio::sync::Mutex::new(None),
            board: Mutex::new(Board::default()),
            drains: Mutex::new(drains::DrainBoard::default()),
        }
    }

    /// The etcd key holding the overrides.
    pub fn overrides_key(&self) -> String {
        format!("{}overrides", self.config.prefix)
    }

    /// The prefix under which each instance's health votes live.
    pub fn health_prefix(&self) -> String {
        format!("{}health/", self.config.prefix)
    }

    /// This instance's own health key.
    pub fn own_health_key(&self) -> String {
        format!("{}{}", self.health_prefix(), self.config.instance)
    }

    /// A client, connecting first if need be.
    pub async fn client(&self) -> Result<Client, StoreError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let client = connect(&self.config.connection()).await?;
        *slot = Some(client.clone());
        Ok(client)
    }

    pub fn board(&self) -> Board {
        self.board.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_board(&self, board: Board) {
        *self.board.lock().unwrap_or_else(|e| e.into_inner()) = board;
    }
}

/// Connect to the etcd `c` names (bounded by the request timeout); the
/// client reconnects by itself after that.
pub async fn connect(c: &EtcdConnection) -> Result<Client, StoreError> {
    let options = connect_options(c)?;
    tokio::time::timeout(
        REQUEST_TIMEOUT,
        Client::connect(&c.endpoints, Some(options)),
    )
    .await
    .map_err(|_| StoreError::timeout())?
    .map_err(StoreError::unreachable)
}

/// Timeouts, TLS and credentials for the etcd client.
fn connect_options(c: &EtcdConnection) -> Result<ConnectOptions, StoreError> {
    let mut o = ConnectOptions::new()
        .with_connect_timeout(REQUEST_TIMEOUT)
        .with_timeout(REQUEST_TIMEOUT)
        // HTTP/2 pings notice a peer that vanished without closing.
        .with_keep_alive(Duration::from_secs(2), REQUEST_TIMEOUT)
        .with_keep_alive_while_idle(true);
    if let Some(tls) = &c.tls {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| {
                StoreError::Setup(format!("cluster.tls: cannot read {}: {e}", p.display()))
            })
        };
        let mut t = etcd_client::TlsOptions::new();
        if let Some(ca) = &tls.ca_file {
            t = t.ca_certificate(etcd_client::Certificate::from_pem(read(ca)?));
        }
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            t = t.identity(etcd_client::Identity::from_pem(read(cert)?, read(key)?));
        }
        o = o.with_tls(t);
    }
    if let (Some(user), Some(var)) = (&c.username, &c.password_env) {
        let password = std::env::var(var).map_err(|_| {
            StoreError::Setup(format!(
                "cluster.password_env: environment variable {var} is not set"
            ))
        })?;
        o = o.with_user(user.clone(), password);
    }
    Ok(o)
}
