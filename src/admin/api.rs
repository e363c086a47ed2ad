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
    /// Where the pool's registry endpoints come from, if it discovers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discover: Option<DiscoverInfo>,
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
    /// `config`, or `registry` for an endpoint discovered in etcd.
    pub source: String,
    /// The etcd key a registry endpoint is registered under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// What an operator forced on it (by address).
    #[serde(rename = "override", default, skip_serializing_if = "Option::is_none")]
    pub override_: Option<EndpointOverrideShown>,
    /// `in service`, or why it is not answered: `draining`/`drained` (a
    /// drain; see `GET /v1/drains`) or `down` (forced down).
    pub service_state: String,
    /// A pool with monitor groups (`monitors:`): each monitor's own result.
    /// `state` above is the first failing `must_be_healthy` one's, else the
    /// first's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckInfo>,
    /// The monitor whose result `state` shows (monitored pools only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<String>,
    /// Where that monitor connects: `host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
}

/// One monitor's result for one endpoint (monitor groups).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckInfo {
    pub monitor: String,
    /// `must_be_healthy` or `monitoring_only`.
    pub mode: String,
    /// `healthy`, `unhealthy` or `pending`.
    pub state: String,
    /// What its last check found.
    pub reason: Option<String>,
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
    /// Percent of this tier's clients sent on to the next tier (after
    /// overrides).
    pub spill: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spill_override: Option<SpillShown>,
    /// A slow start in progress: the share taken now and when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_start: Option<RampShown>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SpillShown {
    pub percent: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RampShown {
    /// 0.0..=1.0: the share of its weight and clients it takes now.
    pub factor: f64,
    /// When the ramp ends (RFC 3339).
    pub ends: String,
}

/// Body of `PUT /v1/services/{service}/pools/{region}/spill`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpillRequest {
    pub percent: i64,
    #[serde(default, rename = "for")]
    pub for_: Option<String>,
    /// Do it even if a service's `guards` would refuse it (logged).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
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
    /// Do it even if a service's `guards` would refuse it (logged).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// Body of `PUT /v1/services/{service}/pools/{region}/weight`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightRequest {
    pub weight: i64,
    #[serde(default, rename = "for")]
    pub for_: Option<String>,
    /// Do it even if a service's `guards` would refuse it (logged).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
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
    /// Endpoint address → what is forced on it.
    #[serde(default)]
    pub endpoints: std::collections::BTreeMap<String, EndpointOverrideShown>,
    /// Service full name → region → spill.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub spills: std::collections::BTreeMap<String, std::collections::BTreeMap<String, SpillShown>>,
    /// Overrides naming what the configuration no longer has: kept, and
    /// applied again if the name comes back (SPEC 5.3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dormant: Vec<String>,
    /// Firing Alertmanager alerts marking something down (`POST /v1/alerts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertShown>,
}

/// One alert override, as `GET /v1/overrides` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertShown {
    /// Always `alertmanager`.
    pub source: String,
    /// The alert's `alertname`.
    pub alert: String,
    pub fingerprint: String,
    /// With neither `service` nor `endpoint`: the whole region is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// When meridian first saw it firing (RFC 3339).
    pub since: String,
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
    /// What traffic shaping did (sticky choice, spill, slow start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shaping: Vec<String>,
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

/// Body of `PUT /v1/endpoints/{address}/override` and (with `labels`)
/// `PUT /v1/endpoints/override`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointRequest {
    /// `up`, `down`, `drain` or `auto`; absent keeps the state as it is.
    #[serde(default)]
    pub state: Option<String>,
    /// 0..=1000 in place of the configured (or registered) weight; `null`
    /// returns to it; absent keeps the weight as it is.
    #[serde(default, with = "double_option")]
    pub weight: Option<Option<i64>>,
    #[serde(default, rename = "for")]
    pub for_: Option<String>,
    /// `PUT /v1/endpoints/override` only: every endpoint whose labels hold
    /// all of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    /// Do it even if a service's `guards` would refuse it (logged).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// `weight` absent, `null`, or a number.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<i64>>, D::Error> {
        Option::<i64>::deserialize(d).map(Some)
    }

    pub(super) fn serialize<S: Serializer>(
        v: &Option<Option<i64>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        v.flatten().serialize(s)
    }
}

/// What an operator set on one endpoint, as shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EndpointOverrideShown {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// When the state was set (RFC 3339, milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The label selector it was set through, if any.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub selector: std::collections::BTreeMap<String, String>,
}

/// Reply to an endpoint change: every address changed and what is set on
/// it now (absent when the change removed it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointsChanged {
    pub endpoints: std::collections::BTreeMap<String, Option<EndpointOverrideShown>>,
    pub revision: i64,
}

/// `GET /v1/drains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Drains {
    pub drains: Vec<DrainInfo>,
    /// In a cluster: whether the other instances' figures could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_connected: Option<bool>,
}

/// One drain and whether it is done.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrainInfo {
    /// `region:NAME`, `pool:REGION:SERVICE` or `endpoint:ADDRESS`.
    pub id: String,
    /// `region`, `pool` or `endpoint`.
    pub kind: String,
    pub target: String,
    /// `region forced down`, `weight 0`, `endpoint drain`, `endpoint down`,
    /// `registry: draining`.
    pub cause: String,
    /// When the drain began (RFC 3339, milliseconds), if known.
    pub since: Option<String>,
    /// When its override lapses, if it has an end.
    pub until: Option<String>,
    /// `draining` until every answer that named it has expired from
    /// resolvers' caches, then `drained`.
    pub state: String,
    /// Answers that named it since the drain began (all live instances);
    /// should be 0.
    pub answers_since: u64,
    /// When it was last handed out (RFC 3339, milliseconds), if ever.
    pub last_handed_out: Option<String>,
    /// The largest TTL it was handed out with, in seconds.
    pub max_ttl: u32,
    /// When the last answer naming it expires from caches.
    pub drained_at: Option<String>,
    pub remaining_seconds: f64,
    /// In a cluster: live instances that have not applied the drain yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting_for: Vec<String>,
    /// In a cluster: each live instance's figures, this one included.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub instances: std::collections::BTreeMap<String, DrainSeen>,
}

/// One instance's figures for one drain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrainSeen {
    pub answers_since: u64,
    pub last_handed_out: Option<String>,
    pub remaining_seconds: f64,
}

/// A registry prefix a pool discovers its endpoints under.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiscoverInfo {
    pub prefix: String,
    /// Registered endpoints in effect.
    pub endpoints: usize,
    /// etcd is out of reach: the last good set is kept.
    pub stale: bool,
    /// The last problem seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A removal held by `max_removal`: how many endpoints it would remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_removal: Option<usize>,
}

/// Body of `POST /v1/services/{service}/rollouts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutRequest {
    /// The canary pool, by region name.
    pub pool: String,
    pub steps: Vec<RolloutStepRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<RolloutAbort>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutStepRequest {
    pub weight: i64,
    /// How long to hold this step (`10m`); every step but the last needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutAbort {
    /// Roll back when any canary endpoint fails its checks (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy: Option<bool>,
    /// Roll back when fewer canary endpoints than this are healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_healthy: Option<usize>,
}

/// A rollout as shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutShown {
    pub service: String,
    pub pool: String,
    /// `running`, `completed` or `aborted`.
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Index of the step in effect.
    pub step: usize,
    pub steps: Vec<RolloutStepShown>,
    pub started: String,
    /// When the step in effect ends, if it has a hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_ends: Option<String>,
    /// The weight the canary returns to on abort (none: the configured one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_weight: Option<u16>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutStepShown {
    pub weight: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
    /// Answers of the service this instance gave during the step, and the
    /// share that named the canary (DNS weights apply per resolver, not per
    /// user, so this is what the weight really did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_share: Option<f64>,
}
