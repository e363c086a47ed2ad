//! [`prepare`]: the one way a validated configuration becomes a snapshot
//! that may answer. Start-up and every reload call it, so the stages run
//! once, in one order:
//!
//! 1. build (blocking, on a blocking thread): at a reload, the services
//!    that did not change taken from the replaced configuration; zone warnings, zone files and
//!    DNSSEC keys, GeoIP databases, placement trees, compiled maps,
//!    prepared static answers (`state::build`);
//! 2. the registry endpoints in effect merged into the pools that
//!    discover theirs;
//! 3. monitors' Prometheus expressions checked against their servers;
//! 4. counter blocks attached (the same blocks across reloads);
//! 5. the health checks bound: targets interned, new ones probed.
//!
//! What it hands back still waits for two things its caller owns: the
//! first round of checks of the new targets ([`FirstRound::wait`]), and the
//! operators' overrides, which are applied when the snapshot is published,
//! under the writer lock, so that a change made while a reload waits for
//! its checks is not lost (`Runtime::new`, `Runtime::install`).

use std::sync::Arc;

use crate::config::{Config, ConfigError};
use crate::health::{FirstRound, HealthChecks};
use crate::metrics::Registry;
use crate::state::registry::Discovered;
use crate::state::{self, Snapshot};

/// What the stages after the build need from the running server.
#[derive(Debug, Clone, Copy)]
pub struct Stages<'a> {
    pub health: &'a HealthChecks,
    pub metrics: &'a Registry,
    /// Registry endpoints by prefix (empty without a registry).
    pub discovered: &'a Discovered,
    /// The configuration (as read from its file) of the snapshot that
    /// answers now, at a reload: its services that did not change are
    /// shared, not held twice ([`Config::share_unchanged`]).
    pub previous: Option<&'a Arc<Config>>,
}

/// A snapshot built and bound, not yet answering.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub snapshot: Snapshot,
    /// Zone data a resolver would trip on (named-checkzone's warnings).
    pub warnings: Vec<String>,
    /// Wait for it before the snapshot answers (SPEC 4).
    pub first_round: FirstRound<'a>,
}

/// Why no snapshot was made; nothing was published.
#[derive(Debug)]
pub enum PrepareError {
    /// Zone files, DNSSEC keys, databases: each with its file and position.
    Invalid(Vec<ConfigError>),
    /// Monitors whose expression their Prometheus rejects.
    Rejected(Vec<ConfigError>),
    /// The build task did not finish (it panicked, or shutdown).
    Failed(String),
}

impl PrepareError {
    /// Every error, one line each.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Invalid(e) | Self::Rejected(e) => e.iter().map(ToString::to_string).collect(),
            Self::Failed(e) => vec![format!("reload task failed: {e}")],
        }
    }
}

/// Run the stages above on `config` (see the module's comment).
pub async fn prepare<'a>(
    mut config: Config,
    generation: u64,
    stages: Stages<'a>,
) -> Result<Prepared<'a>, PrepareError> {
    let started = std::time::Instant::now();
    let lap = |stage: &str| {
        tracing::debug!(
            stage,
            ms = started.elapsed().as_millis(),
            "prepare: {stage} done"
        );
    };
    // Zone warnings first, so that the zones are not held twice at once.
    let previous = stages.previous.cloned();
    let built = tokio::task::spawn_blocking(move || {
        if let Some(previous) = previous {
            let shared = config.share_unchanged(&previous);
            drop(previous);
            tracing::debug!(
                shared,
                "prepare: services shared with the replaced configuration"
            );
        }
        let warnings = crate::zone::config_warnings(&config);
        (warnings, state::build(config, generation))
    })
    .await;
    let (warnings, snap) = match built {
        Ok((warnings, Ok(snap))) => (warnings, snap),
        Ok((_, Err(errors))) => return Err(PrepareError::Invalid(errors.0)),
        Err(e) => return Err(PrepareError::Failed(e.to_string())),
    };
    lap("build");
    let mut snap = snap.with_discovered(stages.discovered);
    let rejected = crate::health::check_expressions(&snap.config).await;
    if !rejected.is_empty() {
        return Err(PrepareError::Rejected(rejected));
    }
    lap("registry and expressions");
    snap.attach_metrics(stages.metrics);
    lap("counters");
    let (targets, first_round) = stages.health.bind(&snap.config).await;
    snap.targets = Arc::new(targets);
    lap("health bind");
    Ok(Prepared {
        snapshot: snap,
        warnings,
        first_round,
    })
}

/// Set glibc's allocator for a server that loads large configurations
/// (issue 19; measured in docs/performance.md): one arena, so a reload
/// built on whichever blocking thread reuses the memory the last one freed
/// instead of growing an arena of its own (the answer path does not
/// allocate, so nothing contends for it); and a fixed mmap threshold of
/// 256 KiB, so that every large block (the configuration's text, the
/// parse tree's and the model's arrays, the hand-out table) is mapped on
/// its own, given back whole when freed, and, when allocated zeroed, made
/// resident only where it is written. Without a fixed threshold glibc
/// raises it to the largest block freed so far (up to 32 MiB), and later
/// large blocks come out of the heap, where freed holes stay. Call it
/// before any other thread starts.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's settings; called at
    // start-up, before other threads allocate.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Hand the memory a load freed (the parse tree, the replaced snapshot)
/// back to the system. glibc keeps freed memory in its arenas, one per
/// thread that allocated, so without this a server's RSS stays at its
/// start-up peak and grows with reloads that parse on other threads
/// (issue 19: 1.7 GB after three reloads of 100,000 services). Runs on a
/// blocking thread: trimming hundreds of megabytes takes milliseconds.
pub async fn release_freed_memory() {
    let _ = tokio::task::spawn_blocking(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free memory to the system; it
        // takes no pointers and may run at any time, from any thread.
        unsafe {
            libc::malloc_trim(0);
        }
    })
    .await;
}
