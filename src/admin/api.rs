//! The admin API's JSON shapes (SPEC 5), shared by the handlers and the
//! OpenAPI document; `docs/admin-api.md` shows each with an example.

use serde::{Deserialize, Serialize};

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub uptime_seconds: u64,
    pub generation: u64,
    pub zones: usize,
    pub services: usize,
    pub regions: usize,
    /// Whether every target has had its first check (as `/readyz`).
    pub ready: bool,
}

/// An override as shown: what is forced and until when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OverrideShown {
    pub state: String,
    /// RFC 3339 UTC time at which it lapses; absent = until removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WeightShown {
    pub weight: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// `GET /v1/regions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Regions {
    pub generation: u64,
    pub regions: Vec<RegionInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionInfo {
    pub name: String,
    /// `healthy`, `degraded` or `down`.
    pub state: String,
    #[serde(rename = "override")]
    pub override_: Option<OverrideShown>,
    pub location: Option<[f64; 2]>,
    pub pools: Vec<PoolInfo>,
}

/// One service's pool in a region.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolInfo {
    pub service: String,
    pub configured_weight: u16,
    pub effective_weight: u16,
    pub weight_override: Option<WeightShown>,
    pub min_healthy: usize,
    pub monitor: Option<String>,
    pub available: bool,
    /// Why the pool is or is not available.
    pub reason: String,
    pub endpoints: Vec<EndpointInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointInfo {
    pub address: String,
    pub weight: u16,
    /// `healthy`, `unhealthy`, `pending` (no result yet) or `unmonitored`.
    pub state: String,
    /// `ok` or `failed`, the last check's outcome.
    pub last_result: Option<String>,
    /// What the last check found (`HTTP 503`, `timeout after 2s`, ...).
    pub reason: Option<String>,
    pub latency_ms: Option<f64>,
    /// RFC 3339 UTC time of the last check.
    pub last_check: Option<String>,
    /// In a cluster: each live instance's view of this endpoint
    /// (`healthy` or `unhealthy`), this one included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub votes: Option<std::collections::BTreeMap<String, String>>,
    /// In a cluster: how `state` was decided from the votes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// `GET /v1/services`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Services {
    pub generation: u64,
    pub services: Vec<ServiceInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub name: String,
    pub policy: String,
    pub map: Option<String>,
    pub ttl: u32,
    pub max_answers: usize,
    pub all_down: String,
    pub pools: Vec<ServicePool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServicePool {
    pub region: String,
    pub configured_weight: u16,
    pub effective_weight: u16,
    pub weight_override: Option<WeightShown>,
    pub available: bool,
    pub reason: String,
}

/// Body of `PUT /v1/regions/{region}/override`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// `up`, `down` or `auto`.
    pub state: String,
    /// How long until it lapses (`30m`); absent = until changed.
    #[serde(default, rename = "for")]
    pub for_: Option<String>,
}

/// Body of `PUT /v1/services/{service}/pools/{region}/weight`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightRequest {
    pub weight: i64,
    #[serde(default, rename = "for")]
    pub for_: Option<String>,
}

/// Reply to a change: what is in effect now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Changed {
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(rename = "override")]
    pub override_: Option<OverrideShown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<WeightShown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_weight: Option<u16>,
    /// The overrides' revision after the change (for `If-Match`).
    #[serde(default)]
    pub revision: i64,
}

/// `GET /v1/overrides`: every override in effect, by name, and the
/// revision to send back in `If-Match` so a change made from this view
/// cannot silently overwrite someone else's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overrides {
    /// In a cluster, the etcd key's revision; alone, changes since start.
    pub revision: i64,
    /// This instance's name in its cluster, if it is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Region → forced state.
    pub regions: std::collections::BTreeMap<String, OverrideShown>,
    /// Service full name → region → weight.
    pub weights:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, WeightShown>>,
}

/// `POST /v1/reload` success.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reloaded {
    pub generation: u64,
}

/// Every error reply: `{"error": "..."}`, plus every problem of a failed
/// reload in `errors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// `GET /v1/explain`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Explain {
    pub name: String,
    #[serde(rename = "type")]
    pub qtype: String,
    /// The address located and, when given, its prefix (as ECS).
    pub client: String,
    /// `static` (zone file), `service`, `refused` (not our zone).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<ExplainLocation>,
    /// The map rule that decided: `nets 10.0.0.0/8`, `country JP`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Regions of each tier, in order.
    pub tiers: Vec<Vec<String>>,
    pub pools: Vec<ExplainPool>,
    pub fail_open: bool,
    pub rcode: String,
    /// Answer records as text (`www.gslb.example. 30 IN A 198.51.100.10`).
    pub answer: Vec<String>,
    /// ECS scope prefix the answer would carry.
    pub scope: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExplainLocation {
    pub country: Option<String>,
    pub continent: Option<String>,
    pub subdivision: Option<String>,
    pub coordinates: Option<[f64; 2]>,
    /// The database network holding the client, if a database is loaded.
    pub network: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExplainPool {
    pub region: String,
    pub available: bool,
    pub reason: String,
}
