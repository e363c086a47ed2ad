//! The command line (SPEC section 1): `run`, `check`, `geoip build`,
//! `geoip lookup`, `ctl` (the control client, `crate::ctl`). Maps every
//! outcome to an exit code: 0 success, 1 invalid input (configuration, zone
//! files, databases, sockets), 2 usage; `ctl` adds 3 (server unreachable).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::admin::auth::Token;
use crate::clock::unix_now;
use crate::health::{DEFAULT_CONCURRENCY, HealthChecks};
use crate::metrics::Registry;
use crate::runtime::{PrepareError, Runtime, Stages, prepare};
use crate::state::{self, OverrideSet};

/// What `meridian --version` prints after the name: the crate version and
/// the git commit it was built from (`build.rs`; `unknown` without git).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MERIDIAN_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "meridian",
    version = VERSION,
    about = "Authoritative DNS server for global server load balancing",
    after_long_help = "Exit status: 0 success, 1 invalid input (configuration, zone files, \
        databases, state file, sockets), 2 usage; `meridian ctl` adds 3 (server unreachable).\n\
        Packaged files: /etc/meridian/meridian.yaml (configuration, see meridian.yaml(5)), \
        /etc/meridian/admin.token (admin API token), /var/lib/meridian/state.json (admin \
        overrides), /etc/default/meridian (environment for the service)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve DNS (and the admin API) from a configuration file.
    Run {
        /// Configuration file.
        #[arg(short, long, default_value = "meridian.yaml")]
        config: PathBuf,
        /// Log format on stderr.
        #[arg(long, value_enum, default_value_t = LogFormat::Human)]
        log_format: LogFormat,
    },
    /// Validate a configuration, its zone files and its GeoIP database.
    Check {
        /// Configuration file.
        #[arg(short, long, default_value = "meridian.yaml")]
        config: PathBuf,
        /// Also bind every listen address (DNS UDP and TCP, admin) and
        /// release it, as `run` would bind them.
        #[arg(long)]
        bind_check: bool,
    },
    /// Build or query GeoIP databases.
    #[command(subcommand)]
    Geoip(GeoipCommand),
    /// Drive a running server through its admin API (like knotc, gdnsdctl).
    Ctl(crate::ctl::CtlArgs),
    /// Make DNSSEC keys and print the DS records for the parent zone.
    #[command(subcommand)]
    Dnssec(DnssecCommand),
    /// Write the man pages and shell completions (for packaging).
    #[command(hide = true)]
    Dist {
        /// Directory to write `man/` and `completions/` into.
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum GeoipCommand {
    /// Compile a CSV of networks into a MaxMind DB file (SPEC 2.5).
    Build {
        /// CSV: network,country,continent,latitude,longitude[,subdivision,asn]
        csv: PathBuf,
        /// Where to write the database.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print what a database holds for an address, and the matched network.
    Lookup {
        /// The database to read.
        #[arg(long, conflicts_with = "config", required_unless_present = "config")]
        db: Option<PathBuf>,
        /// Read the database named by this configuration's `geoip.database`.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// IPv4 or IPv6 address.
        ip: std::net::IpAddr,
    },
}

#[derive(Debug, Subcommand)]
enum DnssecCommand {
    /// Make a key pair in BIND's format (Kzone.+013+12345.key/.private),
    /// ready to name in the zone's `dnssec.keys`.
    Keygen {
        /// The zone, e.g. gslb.example.com.
        zone: String,
        /// 13 (ECDSA P-256 SHA-256) or 15 (Ed25519).
        #[arg(short, long, default_value_t = 13, value_parser = dnssec_algorithm)]
        algorithm: u8,
        /// A key-signing key of a KSK/ZSK split (flags 257; it signs the
        /// DNSKEY set). Without --ksk or --zsk: one combined signing key
        /// (also flags 257), which signs everything.
        #[arg(long, conflicts_with = "zsk")]
        ksk: bool,
        /// A zone-signing key of a KSK/ZSK split (flags 256).
        #[arg(long)]
        zsk: bool,
        /// Directory to write the two files into.
        #[arg(short, long, default_value = ".")]
        dir: PathBuf,
    },
    /// Print the DS record of a key for the parent zone (as
    /// dnssec-dsfromkey prints it).
    Ds {
        /// The zone the key belongs to.
        zone: String,
        /// The key's .key file (or .private, or their common stem).
        #[arg(short, long)]
        key: PathBuf,
        /// Digest: 2 (SHA-256) or 4 (SHA-384).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=4))]
        digest: u8,
    },
}

/// `--algorithm`: 13 or 15.
fn dnssec_algorithm(s: &str) -> Result<u8, String> {
    match s {
        "13" => Ok(13),
        "15" => Ok(15),
        _ => Err("13 (ECDSAP256SHA256) or 15 (ED25519)".into()),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// Parse the command line and run; never returns an error, only exit codes.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; usage errors exit 2.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Check { config, bind_check } => check(&config, bind_check),
        Command::Ctl(args) => crate::ctl::run(args),
        Command::Dnssec(cmd) => match dnssec(cmd) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("meridian: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Dist { output } => dist(&output),
        Command::Geoip(GeoipCommand::Build { csv, output }) => {
            match crate::geo::build::build_file(&csv, &output) {
                Ok(summary) => {
                    println!("wrote {}: {summary}", output.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Geoip(GeoipCommand::Lookup { db, config, ip }) => geoip_lookup(db, config, ip),
        Command::Run { config, log_format } => {
            init_logging(log_format);
            match serve(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    // Once: as a log line where logs are JSON, else plainly.
                    match log_format {
                        LogFormat::Json => error!("{e:#}"),
                        LogFormat::Human => eprintln!("meridian: {e:#}"),
                    }
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// `meridian dnssec keygen|ds` (issue 16).
fn dnssec(cmd: DnssecCommand) -> anyhow::Result<()> {
    use crate::dnssec::keys;
    let zone_name = |z: &str| -> anyhow::Result<hickory_proto::rr::Name> {
        let mut n = hickory_proto::rr::Name::from_ascii(z)
            .with_context(|| format!("{z:?} is not a valid zone name"))?;
        n.set_fqdn(true);
        Ok(n)
    };
    match cmd {
        DnssecCommand::Keygen {
            zone,
            algorithm,
            ksk: _,
            zsk,
            dir,
        } => {
            let zone = zone_name(&zone)?;
            let algorithm =
                keys::KeyAlgorithm::from_number(algorithm).context("algorithm must be 13 or 15")?;
            let flags = if zsk {
                keys::FLAG_ZONE
            } else {
                keys::FLAG_ZONE | keys::FLAG_SEP
            };
            let made = keys::generate(&zone, algorithm, flags, &dir)?;
            // The stem, as dnssec-keygen prints it; never the key.
            let stem = made.key_file.with_extension("");
            println!("{}", stem.display());
            Ok(())
        }
        DnssecCommand::Ds { zone, key, digest } => {
            let zone = zone_name(&zone)?;
            let (key_file, _) = keys::key_paths(&key);
            let public = keys::read_public(&key_file)?;
            if hickory_proto::rr::LowerName::new(&public.zone)
                != hickory_proto::rr::LowerName::new(&zone)
            {
                anyhow::bail!(
                    "{}: the key is for {}, not for {zone}",
                    key_file.display(),
                    public.zone
                );
            }
            let digest = match digest {
                2 => hickory_proto::dnssec::DigestType::SHA256,
                4 => hickory_proto::dnssec::DigestType::SHA384,
                _ => anyhow::bail!("--digest must be 2 (SHA-256) or 4 (SHA-384)"),
            };
            let line = public
                .ds_line(digest)
                .map_err(|e| anyhow::anyhow!("{}: {e}", key_file.display()))?;
            println!("{line}");
            Ok(())
        }
    }
}

fn check(path: &Path, bind: bool) -> ExitCode {
    // What named-checkzone and kzonecheck warn about; `run` warns too.
    // Read before the snapshot is built, so the zones are not held twice.
    let loaded = crate::config::load(path).and_then(|config| {
        let zone_warnings = crate::zone::config_warnings(&config);
        Ok((zone_warnings, state::build(config, 1)?))
    });
    match loaded {
        Ok((zone_warnings, snap)) => {
            for w in &zone_warnings {
                eprintln!("warning: {w}");
            }
            // What `run` refuses after the configuration (SPEC 1: check
            // says ok only when run would start).
            let found = crate::preflight::check(&snap.config, path, bind);
            for w in &found.warnings {
                eprintln!("warning: {w}");
            }
            if !found.errors.is_empty() {
                for e in &found.errors {
                    eprintln!("{e}");
                }
                eprintln!(
                    "{}: {} error(s); meridian run would refuse to start",
                    path.display(),
                    found.errors.len()
                );
                return ExitCode::from(1);
            }
            let bound = if bind {
                " (every listen address can be bound)"
            } else {
                ""
            };
            println!("{}: ok: {}{bound}", path.display(), snap.summary());
            // The process ends now: freeing a large snapshot piece by piece
            // (100,000 services) was a tenth of `check` (issue 19).
            std::mem::forget(snap);
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            eprintln!(
                "{}: {} error(s); configuration not valid",
                path.display(),
                errors.0.len()
            );
            ExitCode::from(1)
        }
    }
}

/// The hidden `meridian dist -o DIR`: man pages and completions.
fn dist(out: &Path) -> ExitCode {
    use clap::CommandFactory;
    match crate::dist::generate(Cli::command(), out) {
        Ok(paths) => {
            for p in paths {
                println!("wrote {}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("meridian dist: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn geoip_lookup(db: Option<PathBuf>, config: Option<PathBuf>, ip: std::net::IpAddr) -> ExitCode {
    let path = match (db, config) {
        (Some(db), _) => db,
        (None, Some(config)) => match crate::config::load(&config) {
            Ok(c) => match c.geoip {
                Some(g) => g.database,
                None => {
                    eprintln!("{}: has no geoip.database", config.display());
                    return ExitCode::from(1);
                }
            },
            Err(errors) => {
                eprintln!("{errors}");
                return ExitCode::from(1);
            }
        },
        (None, None) => {
            eprintln!("give --db FILE or -c CONFIG");
            return ExitCode::from(2);
        }
    };
    let db = match crate::geo::lookup::GeoDb::open(&path) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    match db.lookup(ip) {
        Ok(found) => {
            println!("{ip}");
            println!("{found}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(format: LogFormat) {
    // hickory logs per query at info, and the platform verifier logs every
    // rejected certificate at error: the health writer reports those once
    // per state change instead. Keep both quiet unless asked.
    //
    // hickory-proto also warns once per malformed packet, with every byte
    // it read (issue 14: 4.8 KB of log per 1 KB packet). The listeners
    // count those and log a sample a second; hickory's own line stays out
    // even under `RUST_LOG=info` or `debug`, unless RUST_LOG names
    // hickory_proto itself.
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let mut filter = from_env
        .as_deref()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info,rustls_platform_verifier=off"));
    if !from_env.is_some_and(|v| v.contains("hickory_proto"))
        && let Ok(quiet) = "hickory_proto=error".parse()
    {
        filter = filter.add_directive(quiet);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The configuration's errors, logged one a line; the error `run` exits
/// with counts them rather than print the first one twice (issue 18).
fn not_valid(path: &Path, errors: &[crate::config::ConfigError]) -> anyhow::Error {
    for e in errors {
        error!("{e}");
    }
    anyhow::anyhow!(
        "{}: configuration not valid ({} error(s) above); not started",
        path.display(),
        errors.len()
    )
}

fn serve(path: &Path) -> anyhow::Result<()> {
    crate::runtime::tune_allocator();
    let config = crate::config::load(path).map_err(|errors| not_valid(path, &errors.0))?;

    // Operator overrides from the last run (SPEC 5.3): a state file that
    // cannot be read stops the start rather than silently undoing a drain.
    // (Blocking file work here runs before the async runtime exists.)
    let mut overrides = match &config.state_file {
        Some(file) => {
            // A write cut short by a crash leaves its temporary file.
            for stale in state::overrides::remove_stale_temps(file) {
                info!("removed {}, left by an interrupted write", stale.display());
            }
            crate::preflight::load_state_file(file).map_err(anyhow::Error::msg)?
        }
        None => {
            warn!("no state_file configured: admin overrides will not survive a restart");
            OverrideSet::new()
        }
    };
    let expired = overrides.prune_expired(unix_now());
    // SPEC 5.3: overrides naming what the configuration lacks stay, dormant.
    for w in overrides.dormant(&config) {
        warn!("{w}");
    }
    if let (true, Some(file)) = (expired, &config.state_file) {
        overrides.save(file).context("rewriting the state file")?;
    }

    let admin = match &config.admin {
        Some(a) => {
            let token = Token::from_config(a).context("admin API")?;
            let listener = crate::admin::bind(a.listen).map_err(|e| {
                anyhow::Error::msg(crate::preflight::bind_problem(
                    path,
                    "admin.listen",
                    a.listen,
                    "TCP",
                    &e,
                ))
            })?;
            Some((listener, token))
        }
        None => None,
    };
    let dns = config.dns.clone();
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let bound = crate::dns::bind(&dns.listen, threads).map_err(|e| {
        anyhow::Error::msg(crate::preflight::dns_bind_problem(path, &dns.listen, &e))
    })?;

    // Before any HTTPS client exists (reqwest panics without a provider).
    crate::health::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let cluster = config
            .cluster
            .clone()
            .map(|c| Arc::new(crate::cluster::Cluster::new(c)));
        let health = Arc::new(HealthChecks::start(
            DEFAULT_CONCURRENCY,
            cluster.is_some(),
            shutdown.clone(),
        ));
        // In a cluster the overrides are etcd's, when it answers.
        let (overrides, revision) = match &cluster {
            Some(c) => {
                let (set, revision) = crate::cluster::sync::initial(c, overrides).await;
                if revision > 0
                    && let Some(file) = config.state_file.clone()
                {
                    // The local cache, written off the async workers.
                    let cache = set.clone();
                    match tokio::task::spawn_blocking(move || cache.save(&file)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => warn!("cluster: {e} (the local cache)"),
                        Err(e) => warn!("cluster: the local cache was not written: {e}"),
                    }
                }
                (set, revision)
            }
            None => (overrides, 0),
        };
        let metrics = Arc::new(Registry::default());
        // Endpoints from the registry join before the first round of
        // checks, so they are probed like the others before any answer.
        let link = crate::cluster::discovery::Link::for_config(&config, cluster.as_ref());
        let prefixes = std::sync::Mutex::new(std::collections::BTreeMap::new());
        if let Some(link) = &link {
            crate::cluster::discovery::initial(&prefixes, link, &config).await;
        }
        let prefixes = prefixes.into_inner().unwrap_or_else(|e| e.into_inner());
        let discovered = state::registry::discovered(&prefixes);
        let stages = Stages {
            health: &health,
            metrics: &metrics,
            discovered: &discovered,
            previous: None,
        };
        let prepared = match prepare(config, 1, stages).await {
            Ok(p) => p,
            Err(PrepareError::Invalid(errors)) => return Err(not_valid(path, &errors)),
            // Expressions Prometheus rejects stop the start, naming the monitor.
            Err(PrepareError::Rejected(rejected)) => {
                for e in &rejected {
                    error!("{e}");
                }
                let first = rejected
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                anyhow::bail!(
                    "{}: configuration not valid ({} error(s)): {first}",
                    path.display(),
                    rejected.len()
                );
            }
            Err(PrepareError::Failed(e)) => anyhow::bail!("loading {}: {e}", path.display()),
        };
        info!("loaded {}: {}", path.display(), prepared.snapshot.summary());
        for w in &prepared.warnings {
            warn!("{w}");
        }
        let first_round = prepared.first_round;
        let (token, admin_listener) = match admin {
            Some((l, t)) => (t, Some(l)),
            None => (Token::default(), None),
        };
        let (rt, reload_rx) = Runtime::new(
            path.to_path_buf(),
            prepared.snapshot,
            health.clone(),
            metrics.clone(),
            (overrides, revision),
            token,
            cluster.clone(),
            prefixes,
        );
        let shared = rt.snapshot.clone();
        // The parse tree and what the build freed go back to the system.
        crate::runtime::release_freed_memory().await;
        // The admin API comes up first, so /readyz can say "not yet".
        let admin_task = match admin_listener {
            Some(l) => {
                let l = tokio::net::TcpListener::from_std(l).context("admin listener")?;
                // Logged here, before DNS starts, so the line always comes
                // first (the test harness relies on the order).
                if let Ok(addr) = l.local_addr() {
                    info!("listening for admin HTTP on {addr}");
                }
                Some(tokio::spawn(crate::admin::serve(
                    l,
                    rt.clone(),
                    shutdown.clone(),
                )))
            }
            None => None,
        };
        // The first round of checks runs before DNS is served (SPEC 4); the
        // sockets are bound already, so early queries wait in the kernel.
        first_round.wait().await;
        if let Some(c) = &cluster {
            // Answers follow our own probes until the votes are in.
            health.answer_from_local();
            tokio::spawn(crate::cluster::sync::run(
                rt.clone(),
                c.clone(),
                shutdown.clone(),
            ));
            tokio::spawn(crate::cluster::health::run(
                c.clone(),
                health.clone(),
                shared.clone(),
                shutdown.clone(),
            ));
        }
        if let Some(link) = link {
            tokio::spawn(crate::cluster::discovery::run(
                rt.clone(),
                link,
                shutdown.clone(),
            ));
        }
        if let Some(c) = &cluster {
            tokio::spawn(crate::cluster::drains::run(
                rt.clone(),
                c.clone(),
                shutdown.clone(),
            ));
        }
        rt.ready.store(true, std::sync::atomic::Ordering::Relaxed);
        // Signal handlers are in place before DNS is served: a SIGHUP that
        // arrives first must reload, not kill the process.
        use tokio::signal::unix::{SignalKind, signal};
        let hup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
        let term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        let published = crate::dns::Published {
            snapshot: shared.clone(),
            health: health.view(),
            rrl: rt.metrics.rrl.clone(),
            packets: rt.metrics.packets.clone(),
            verdicts: Default::default(),
        };
        let limits = crate::dns::TcpLimits {
            idle: dns.tcp_idle_timeout,
            total: dns.tcp_timeout,
            max_connections: dns.tcp_max_connections,
        };
        let dns_task = tokio::spawn(crate::dns::serve(
            bound,
            published,
            limits,
            shutdown.clone(),
        ));
        tokio::spawn(rt.clone().run_reloads(reload_rx, shutdown.clone()));
        tokio::spawn(rt.clone().run_expiry(shutdown.clone()));
        tokio::spawn(rt.clone().run_ramps(shutdown.clone()));
        tokio::spawn(crate::runtime::events::watch(rt.clone(), shutdown.clone()));
        tokio::spawn(crate::runtime::events::notify(rt.clone(), shutdown.clone()));
        tokio::spawn(crate::runtime::rollout::run(rt.clone(), shutdown.clone()));
        tokio::spawn(reload_on_sighup(rt.clone(), hup));
        wait_for_termination(term).await?;
        info!("shutting down");
        shutdown.cancel();
        if let Some(task) = admin_task {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
        match tokio::time::timeout(std::time::Duration::from_secs(5), dns_task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(anyhow::Error::from(e).context("DNS listeners")),
            Ok(Err(e)) => Err(anyhow::Error::from(e).context("DNS task")),
            Err(_) => {
                warn!("DNS listeners did not stop within 5s");
                Ok(())
            }
        }
    })
}

async fn wait_for_termination(mut term: tokio::signal::unix::Signal) -> anyhow::Result<()> {
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
    }
    Ok(())
}

/// SIGHUP: hand a reload to the reload task (the same one `POST
/// /v1/reload` uses); it logs the outcome.
async fn reload_on_sighup(rt: Arc<Runtime>, mut hup: tokio::signal::unix::Signal) {
    while hup.recv().await.is_some() {
        info!("SIGHUP: reloading {}", rt.config_path.display());
        let _ = rt.reload().await;
    }
}
