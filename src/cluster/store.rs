//! The overrides key: read it with its revision, and replace it only if
//! nobody has written it since that revision (one etcd transaction).

use etcd_client::{Compare, CompareOp, Txn, TxnOp};

use super::{Cluster, REQUEST_TIMEOUT};
use crate::state::OverrideSet;
use crate::state::overrides::STATE_VERSION;

/// Why etcd could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// etcd did not answer, or answered with an error.
    #[error("etcd is unreachable: {0}")]
    Unreachable(String),
    /// etcd holds something this instance cannot read.
    #[error("etcd key {key} is not valid: {message}")]
    Invalid { key: String, message: String },
    /// The client could not be set up (TLS files, credentials).
    #[error("{0}")]
    Setup(String),
}

impl StoreError {
    pub(super) fn unreachable(e: etcd_client::Error) -> Self {
        Self::Unreachable(e.to_string())
    }

    pub(super) fn timeout() -> Self {
        Self::Unreachable(format!(
            "no answer within {}",
            crate::config::format_duration(REQUEST_TIMEOUT)
        ))
    }
}

/// The overrides as etcd holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub set: OverrideSet,
    /// The key's mod_revision; 0 when the key does not exist yet.
    pub revision: i64,
    /// The store's revision when read: watch from just after it.
    pub read_at: i64,
}

/// Run one etcd request with the request timeout.
pub(super) async fn timed<T>(
    f: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(REQUEST_TIMEOUT, f)
        .await
        .map_err(|_| StoreError::timeout())?
        .map_err(StoreError::unreachable)
}

/// Parse the overrides key's value.
pub(super) fn parse(key: &str, value: &[u8]) -> Result<OverrideSet, StoreError> {
    let invalid = |message: String| StoreError::Invalid {
        key: key.to_string(),
        message,
    };
    let set: OverrideSet = serde_json::from_slice(value).map_err(|e| invalid(e.to_string()))?;
    if set.version != STATE_VERSION {
        return Err(invalid(format!(
            "version {} is not supported (this meridian writes version {STATE_VERSION})",
            set.version
        )));
    }
    Ok(set)
}

impl Cluster {
    /// Read the overrides and their revision.
    pub async fn read_overrides(&self) -> Result<Stored, StoreError> {
        let key = self.overrides_key();
        let mut client = self.client().await?;
        let resp = timed(client.get(key.as_str(), None)).await?;
        let read_at = resp.header().map_or(0, |h| h.revision());
        match resp.kvs().first() {
            None => Ok(Stored {
                set: OverrideSet::new(),
                revision: 0,
                read_at,
            }),
            Some(kv) => Ok(Stored {
                set: parse(&key, kv.value())?,
                revision: kv.mod_revision(),
                read_at,
            }),
        }
    }

    /// Write `set` if the key is still at `revision` (0: still absent).
    /// Returns the new revision, or None if someone wrote it since.
    pub async fn swap_overrides(
        &self,
        set: &OverrideSet,
        revision: i64,
    ) -> Result<Option<i64>, StoreError> {
        let key = self.overrides_key();
        let body = serde_json::to_vec(set).map_err(|e| StoreError::Invalid {
            key: key.clone(),
            message: e.to_string(),
        })?;
        let txn = Txn::new()
            .when([Compare::mod_revision(
                key.as_str(),
                CompareOp::Equal,
                revision,
            )])
            .and_then([TxnOp::put(key.as_str(), body, None)]);
        let mut client = self.client().await?;
        let resp = timed(client.txn(txn)).await?;
        if !resp.succeeded() {
            return Ok(None);
        }
        Ok(Some(resp.header().map_or(revision + 1, |h| h.revision())))
    }
}
