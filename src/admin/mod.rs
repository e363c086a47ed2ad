//! The admin API (SPEC 5): one route table, thin handlers over
//! [`Runtime`], bearer auth on changes, `{"error": ...}` on failure.
//!
//! Reads are served from the published snapshot and health view; changes
//! go through `Runtime::change`, which writes the state file before the
//! reply. Nothing here is on the DNS answering path.

mod alerts;
pub mod api;
pub mod auth;
mod events;
mod explain;
mod fleet;
mod guard;
mod page;
mod rollout;
mod state_metrics;
mod views;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::parse_duration;
use crate::runtime::{ChangeError, Runtime};
use crate::state::overrides::{
    RegionOverride, RegionState, SpillOverride, WeightOverride, expiry_after, find_service,
    unix_now, unix_now_ms,
};

pub use views::rfc3339;

/// Every route: (method, path). The OpenAPI document in
/// `docs/openapi.json` must list exactly these (a test checks it).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/v1/status"),
    ("GET", "/v1/regions"),
    ("GET", "/v1/services"),
    ("GET", "/v1/overrides"),
    ("PUT", "/v1/regions/{region}/override"),
    ("PUT", "/v1/services/{service}/pools/{region}/weight"),
    ("DELETE", "/v1/services/{service}/pools/{region}/weight"),
    ("PUT", "/v1/services/{service}/pools/{region}/spill"),
    ("POST", "/v1/services/{service}/rollouts"),
    ("GET", "/v1/services/{service}/rollouts"),
    ("DELETE", "/v1/services/{service}/rollouts"),
    ("DELETE", "/v1/services/{service}/pools/{region}/spill"),
    ("PUT", "/v1/endpoints/override"),
    ("PUT", "/v1/endpoints/{address}/override"),
    ("DELETE", "/v1/endpoints/{address}/override"),
    ("GET", "/v1/drains"),
    ("GET", "/v1/drains/{id}"),
    ("GET", "/v1/explain"),
    ("GET", "/v1/events"),
    ("POST", "/v1/reload"),
    ("POST", "/v1/alerts"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
];

/// The OpenAPI document, served at `/openapi.json`.
const OPENAPI: &str = include_str!("../../docs/openapi.json");

type Rt = Arc<Runtime>;

/// The route table.
pub fn router(rt: Rt) -> Router {
    let changes = Router::new()
        .route("/v1/regions/{region}/override", put(put_override))
        .route(
            "/v1/services/{service}/pools/{region}/weight",
            put(put_weight).delete(delete_weight),
        )
        .route(
            "/v1/services/{service}/pools/{region}/spill",
            put(put_spill).delete(delete_spill),
        )
        .route(
            "/v1/services/{service}/rollouts",
            post(rollout::start).delete(rollout::stop),
        )
        .route("/v1/endpoints/override", put(fleet::put_by_labels))
        .route(
            "/v1/endpoints/{address}/override",
            put(fleet::put_endpoint).delete(fleet::delete_endpoint),
        )
        .route("/v1/reload", post(reload))
        .route("/v1/alerts", post(alerts::receive))
        .route_layer(middleware::from_fn_with_state(rt.clone(), require_token));
    Router::new()
        .route("/", get(|| async { Html(page::STATUS_PAGE) }))
        .route("/v1/status", get(status))
        .route("/v1/regions", get(regions))
        .route("/v1/services", get(services))
        .route("/v1/overrides", get(overrides))
        .route("/v1/drains", get(fleet::list))
        .route("/v1/services/{service}/rollouts", get(rollout::get))
        .route("/v1/drains/{id}", get(fleet::get))
        .route("/v1/explain", get(explain::explain))
        .route("/v1/events", get(events::stream))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .merge(changes)
        .method_not_allowed_fallback(wrong_method)
        .fallback(no_such_path)
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(rt)
}

/// The methods `ROUTES` lists for a concrete `path` (`{x}` matches one
/// segment).
fn methods_of(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    ROUTES
        .iter()
        .filter(|(_, route)| {
            let pattern: Vec<&str> = route.split('/').collect();
            pattern.len() == segments.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| p.starts_with('{') || p == s)
        })
        .map(|(method, _)| *method)
        .collect()
}

/// 405 with a JSON body naming the methods the path takes (and `Allow`).
async fn wrong_method(request: Request) -> Response {
    let path = request.uri().path().to_string();
    let allowed = methods_of(&path).join(", ");
    let mut r = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {path}; it takes {allowed}",
            request.method()
        ),
    )
    .into_response();
    if let Ok(v) = header::HeaderValue::from_str(&allowed) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r
}

/// 404 for a path the API does not serve, listing those it does.
async fn no_such_path(request: Request) -> ApiError {
    let mut paths: Vec<&str> = Vec::new();
    for (_, path) in ROUTES {
        if !paths.contains(path) {
            paths.push(path);
        }
    }
    ApiError::not_found(format!(
        "no such endpoint {}; the paths are {} (GET /openapi.json describes them)",
        request.uri().path(),
        paths.join(", ")
    ))
}

/// "known regions: a, b" for 404s.
fn known_regions(config: &crate::config::Config) -> String {
    let names: Vec<&str> = config.regions.iter().map(|r| r.name.as_str()).collect();
    format!("known regions: {}", names.join(", "))
}

/// "known services: www.example., ..." for 404s; the final dot is optional.
pub(crate) fn known_services(config: &crate::config::Config) -> String {
    let names: Vec<String> = config
        .zones
        .iter()
        .flat_map(|z| z.services.iter().map(|s| s.name.to_ascii()))
        .collect();
    format!(
        "known services: {} (the final dot is optional)",
        names.join(", ")
    )
}

/// Serve the admin API on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    rt: Rt,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(rt).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}

/// An error reply: `{"error": "..."}` (and every problem of a reload).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: api::ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: api::ErrorBody {
                error: message.into(),
                errors: Vec::new(),
            },
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Rejected(m) => Self::bad_request(m),
            ChangeError::Persist(_) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            ChangeError::Conflict(_) => Self::new(StatusCode::CONFLICT, e.to_string()),
            ChangeError::Unavailable(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
        }
    }
}

/// Every change passes three gates, in this order: its `Host` is this
/// API's (no DNS rebinding), it carries the bearer token when one is
/// configured (SPEC 5.1), and its `Content-Type` is `application/json`,
/// so that no web page can send it without a CORS preflight, which this
/// API never answers (see docs/security.md).
async fn require_token(
    State(rt): State<Rt>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    // Who asked: every log line of the change carries it (issue 18).
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.to_string());
    let span = tracing::info_span!("admin", client = %client);
    let refused = |status: StatusCode, why: &str| {
        auth::log_refusal(
            &client,
            status.as_u16(),
            request.method(),
            request.uri().path(),
            why,
        );
    };
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let host = text(header::HOST);
    let allowed = rt
        .snapshot
        .load()
        .config
        .admin
        .as_ref()
        .is_none_or(|a| auth::host_allowed(host, a));
    if !allowed {
        refused(StatusCode::FORBIDDEN, "Host not allowed");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Host {:?} is not this admin API's address: use its IP address, \
                 or list the name in admin.allowed_hosts",
                host.unwrap_or("")
            ),
        )
        .into_response();
    }
    if !rt.token.allows(text(header::AUTHORIZATION)) {
        refused(
            StatusCode::UNAUTHORIZED,
            if text(header::AUTHORIZATION).is_some() {
                "wrong bearer token"
            } else {
                "no bearer token"
            },
        );
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (Authorization: Bearer <token>)",
        )
        .into_response();
    }
    if !auth::is_json(text(header::CONTENT_TYPE)) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "changes need the header Content-Type: application/json (curl -H 'content-type: application/json')",
        )
        .into_response();
    }
    tracing::Instrument::instrument(next.run(request), span).await
}

async fn status(State(rt): State<Rt>) -> Json<api::Status> {
    let snap = rt.snapshot.load();
    let summary = snap.summary();
    Json(api::Status {
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_seconds: rt.started.elapsed().as_secs(),
        generation: snap.generation,
        zones: summary.zones,
        services: summary.services,
        regions: summary.regions,
        ready: rt.ready.load(Ordering::Relaxed),
    })
}

async fn regions(State(rt): State<Rt>) -> Json<api::Regions> {
    Json(views::regions(&rt).await)
}

async fn services(State(rt): State<Rt>) -> Json<api::Services> {
    Json(views::services(&rt).await)
}

/// Every override in effect and its revision; the revision is also the
/// ETag, for `If-Match` on changes.
async fn overrides(State(rt): State<Rt>) -> Response {
    let set = rt.overrides.lock().await.clone();
    let revision = rt.revision();
    let body = api::Overrides {
        revision,
        instance: rt.cluster.as_ref().map(|c| c.config.instance.clone()),
        regions: set
            .regions
            .iter()
            .map(|(name, o)| (name.clone(), views::override_shown(o)))
            .collect(),
        weights: set
            .weights
            .iter()
            .map(|(service, pools)| {
                let pools = pools
                    .iter()
                    .map(|(region, w)| {
                        (
                            region.clone(),
                            api::WeightShown {
                                weight: w.weight,
                                until: w.until.map(rfc3339),
                            },
                        )
                    })
                    .collect();
                (service.clone(), pools)
            })
            .collect(),
        endpoints: set
            .endpoints
            .iter()
            .map(|(addr, o)| (addr.clone(), views::endpoint_override_shown(o)))
            .collect(),
        dormant: set.dormant(&rt.snapshot.load().base),
        spills: set
            .spills
            .iter()
            .map(|(service, pools)| {
                let pools = pools
                    .iter()
                    .map(|(region, o)| {
                        (
                            region.clone(),
                            api::SpillShown {
                                percent: o.percent,
                                until: o.until.map(rfc3339),
                            },
                        )
                    })
                    .collect();
                (service.clone(), pools)
            })
            .collect(),
        alerts: set
            .alerts
            .iter()
            .map(|(fingerprint, a)| api::AlertShown {
                source: "alertmanager".into(),
                alert: a.alert.clone(),
                fingerprint: fingerprint.clone(),
                region: a.region.clone(),
                service: a.service.clone(),
                endpoint: a.endpoint.clone(),
                since: views::rfc3339_ms(a.since),
            })
            .collect(),
    };
    let mut r = Json(body).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&format!("\"{revision}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// The revision an `If-Match` header names (`"12"` or `12`); `*` or no
/// header means any.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| {
            ApiError::bad_request(format!(
                "If-Match: {text:?} is not a revision; use the \"revision\" (or ETag) of GET /v1/overrides"
            ))
        })
}

async fn readyz(State(rt): State<Rt>) -> Response {
    if rt.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: first health checks running\n",
        )
            .into_response()
    }
}

async fn metrics(State(rt): State<Rt>) -> Response {
    let mut out = String::with_capacity(4096);
    rt.metrics.render(&mut out);
    views::render_health_metrics(&rt, &mut out);
    fleet::render_metrics(&rt, &mut out).await;
    state_metrics::render(&rt, &mut out).await;
    crate::events::bus().render(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// Parse an optional `for` into an expiry time.
fn expiry(for_: Option<&str>) -> Result<Option<u64>, ApiError> {
    let duration = match for_ {
        None => None,
        Some(text) => {
            Some(parse_duration(text).map_err(|e| ApiError::bad_request(format!("for: {e}")))?)
        }
    };
    Ok(expiry_after(unix_now(), duration))
}

/// Parse a JSON request body (its content type is checked before, in
/// `require_token`).
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

async fn put_override(
    State(rt): State<Rt>,
    Path(region): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<api::Changed>, ApiError> {
    let expect = if_match(&headers)?;
    let req: api::OverrideRequest = body(&bytes)?;
    let known = rt
        .snapshot
        .load()
        .config
        .regions
        .iter()
        .any(|r| r.name == region);
    // A dormant override (SPEC 5.3) can still be removed with "auto".
    let dormant = req.state == "auto" && rt.overrides.lock().await.regions.contains_key(&region);
    if !known && !dormant {
        let known = known_regions(&rt.snapshot.load().config);
        return Err(ApiError::not_found(format!(
            "no region {region:?}; {known}"
        )));
    }
    let state = match req.state.as_str() {
        "up" => Some(RegionState::Up),
        "down" => Some(RegionState::Down),
        "auto" => None,
        other => {
            return Err(ApiError::bad_request(format!(
                "state {other:?}: expected \"up\", \"down\" or \"auto\""
            )));
        }
    };
    if state.is_none() && req.for_.is_some() {
        return Err(ApiError::bad_request(
            "\"for\" applies to up and down; auto has no end",
        ));
    }
    let until = expiry(req.for_.as_deref())?;
    let what = format!("set region {region} {}", req.state);
    rt.change(
        expect,
        guard::guarded(rt.health.view().load_full(), req.force, what, |set, _| {
            match state {
                Some(state) => {
                    let since = set
                        .regions
                        .get(&region)
                        .filter(|o| o.state == state)
                        .map_or_else(|| Some(unix_now_ms()), |o| o.since);
                    set.regions.insert(
                        region.clone(),
                        RegionOverride {
                            state,
                            until,
                            since,
                        },
                    );
                }
                None => {
                    set.regions.remove(&region);
                }
            }
            Ok(())
        }),
    )
    .await?;
    let until_text = until.map_or_else(
        || "until removed".into(),
        |t| format!("until {}", rfc3339(t)),
    );
    info!(%region, state = %req.state, until = %until_text, "admin: region {region} set {} {until_text}", req.state);
    Ok(Json(api::Changed {
        region,
        service: None,
        override_: state.map(|s| api::OverrideShown {
            state: if s == RegionState::Up { "up" } else { "down" }.into(),
            until: until.map(rfc3339),
        }),
        weight: None,
        effective_weight: None,
        revision: rt.revision(),
    }))
}

/// Resolve `{service}` and `{region}` to a pool, or 404.
fn find_pool(rt: &Runtime, service: &str, region: &str) -> Result<(String, u16), ApiError> {
    let snap = rt.snapshot.load();
    let Some((_, _, svc)) = find_service(&snap.config, service) else {
        return Err(ApiError::not_found(format!(
            "no service {service:?}; {}",
            known_services(&snap.config)
        )));
    };
    let Some(pool) = svc
        .pools
        .iter()
        .find(|p| snap.config.regions[p.region].name == region)
    else {
        let pools: Vec<&str> = svc
            .pools
            .iter()
            .map(|p| snap.config.regions[p.region].name.as_str())
            .collect();
        return Err(ApiError::not_found(format!(
            "service {service} has no pool in region {region:?}; its pools are in {}",
            pools.join(", ")
        )));
    };
    Ok((svc.name.to_ascii(), pool.weight))
}

async fn put_weight(
    State(rt): State<Rt>,
    Path((service, region)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<api::Changed>, ApiError> {
    let expect = if_match(&headers)?;
    let req: api::WeightRequest = body(&bytes)?;
    let (full_name, _) = find_pool(&rt, &service, &region)?;
    let weight = u16::try_from(req.weight)
        .ok()
        .filter(|w| *w <= 1000)
        .ok_or_else(|| {
            ApiError::bad_request(format!("weight {} is outside 0..=1000", req.weight))
        })?;
    let until = expiry(req.for_.as_deref())?;
    let what = format!("set the weight of {full_name} in {region} to {weight}");
    rt.change(
        expect,
        guard::guarded(rt.health.view().load_full(), req.force, what, |set, _| {
            let pools = set.weights.entry(full_name.clone()).or_default();
            let since = pools
                .get(&region)
                .filter(|o| o.weight == weight)
                .map_or_else(|| Some(unix_now_ms()), |o| o.since);
            pools.insert(
                region.clone(),
                WeightOverride {
                    weight,
                    until,
                    since,
                },
            );
            Ok(())
        }),
    )
    .await?;
    let until_text = until.map_or_else(
        || "until removed".into(),
        |t| format!("until {}", rfc3339(t)),
    );
    info!(service = %full_name, %region, weight, until = %until_text, "admin: weight of {full_name} in {region} set to {weight} {until_text}");
    Ok(Json(api::Changed {
        region,
        service: Some(full_name),
        override_: None,
        weight: Some(api::WeightShown {
            weight,
            until: until.map(rfc3339),
        }),
        effective_weight: Some(weight),
        revision: rt.revision(),
    }))
}

async fn delete_weight(
    State(rt): State<Rt>,
    Path((service, region)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<api::Changed>, ApiError> {
    let expect = if_match(&headers)?;
    let (full_name, configured) = match find_pool(&rt, &service, &region) {
        Ok(found) => found,
        Err(e) => {
            // A dormant override (SPEC 5.3) is removed by the name it was set under.
            let set = rt.overrides.lock().await;
            let held = set
                .weights
                .iter()
                .find(|(s, pools)| {
                    s.trim_end_matches('.')
                        .eq_ignore_ascii_case(service.trim_end_matches('.'))
                        && pools.contains_key(&region)
                })
                .map(|(s, _)| s.clone());
            match held {
                Some(name) => (name, 0),
                None => return Err(e),
            }
        }
    };
    rt.change(expect, |set, _| {
        if let Some(pools) = set.weights.get_mut(&full_name) {
            pools.remove(&region);
            if pools.is_empty() {
                set.weights.remove(&full_name);
            }
        }
        Ok(())
    })
    .await?;
    info!(service = %full_name, %region, "admin: weight of {full_name} in {region} back to configured ({configured})");
    Ok(Json(api::Changed {
        region,
        service: Some(full_name),
        override_: None,
        weight: None,
        effective_weight: Some(configured),
        revision: rt.revision(),
    }))
}

/// `PUT /v1/services/{service}/pools/{region}/spill`: send that share of
/// the pool's tier's clients on to the next tier, optionally for a while.
async fn put_spill(
    State(rt): State<Rt>,
    Path((service, region)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<api::SpillShown>, ApiError> {
    let expect = if_match(&headers)?;
    let req: api::SpillRequest = body(&bytes)?;
    let (full_name, _) = find_pool(&rt, &service, &region)?;
    let percent = u8::try_from(req.percent)
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| {
            ApiError::bad_request(format!("percent {} is outside 0..=100", req.percent))
        })?;
    let until = expiry(req.for_.as_deref())?;
    rt.change(expect, |set, _| {
        set.spills
            .entry(full_name.clone())
            .or_default()
            .insert(region.clone(), SpillOverride { percent, until });
        Ok(())
    })
    .await?;
    let until_text = until.map_or_else(
        || "until removed".into(),
        |t| format!("until {}", rfc3339(t)),
    );
    info!(service = %full_name, %region, percent, until = %until_text, "admin: spill of {full_name} in {region} set to {percent}% {until_text}");
    Ok(Json(api::SpillShown {
        percent,
        until: until.map(rfc3339),
    }))
}

/// `DELETE .../spill`: back to the configured spill.
async fn delete_spill(
    State(rt): State<Rt>,
    Path((service, region)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<api::SpillShown>, ApiError> {
    let expect = if_match(&headers)?;
    let (full_name, _) = find_pool(&rt, &service, &region)?;
    rt.change(expect, |set, _| {
        if let Some(pools) = set.spills.get_mut(&full_name) {
            pools.remove(&region);
            if pools.is_empty() {
                set.spills.remove(&full_name);
            }
        }
        Ok(())
    })
    .await?;
    let snap = rt.snapshot.load();
    let configured = find_service(&snap.config, &full_name)
        .and_then(|(_, _, svc)| {
            svc.pools
                .iter()
                .find(|p| snap.config.regions[p.region].name == region)
        })
        .map_or(0, |p| p.spill);
    info!(service = %full_name, %region, "admin: spill of {full_name} in {region} back to configured ({configured}%)");
    Ok(Json(api::SpillShown {
        percent: configured,
        until: None,
    }))
}

async fn reload(State(rt): State<Rt>) -> Result<Json<api::Reloaded>, ApiError> {
    match rt.reload().await {
        Ok(generation) => Ok(Json(api::Reloaded { generation })),
        Err(errors) => Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            body: api::ErrorBody {
                error: format!(
                    "configuration not valid ({} error(s)); still serving generation {}",
                    errors.len(),
                    rt.snapshot.load().generation
                ),
                errors,
            },
        }),
    }
}

/// Bind the admin listener (before the runtime serves it).
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Query string of `/v1/explain`.
#[derive(Debug, serde::Deserialize)]
pub struct ExplainQuery {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub qtype: Option<String>,
    pub client: Option<String>,
}
