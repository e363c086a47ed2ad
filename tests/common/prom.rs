//! A real Prometheus (Debian `prometheus`) on a loopback port, scraping
//! one target every second, with its configuration and storage in a
//! temporary directory; killed by PID when dropped.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::etcd::free_port;
use super::{curl, eventually};

pub struct Prometheus {
    child: Option<Child>,
    _dir: tempfile::TempDir,
    pub port: u16,
}

impl Prometheus {
    /// Start scraping `target` (`/metrics`) every second; returns once
    /// Prometheus says it is ready.
    pub fn start(target: SocketAddr) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\n\
             scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: [\"{target}\"]\n"
        );
        let file = dir.path().join("prometheus.yml");
        std::fs::write(&file, config).expect("write prometheus.yml");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (apt-get install prometheus: make deps-test)");
        let p = Self {
            child: Some(child),
            _dir: dir,
            port,
        };
        eventually(Duration::from_secs(20), "Prometheus to be ready", || {
            (curl("GET", &p.url("/-/ready"), None, None).status == 200).then_some(())
        });
        p
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Wait until `expr` has at least one sample (the first scrapes are in).
    pub fn wait_for_samples(&self, expr: &str) {
        let q = expr
            .replace('"', "%22")
            .replace('{', "%7B")
            .replace('}', "%7D");
        eventually(
            Duration::from_secs(15),
            "Prometheus to have samples",
            || {
                let r = curl(
                    "GET",
                    &self.url(&format!("/api/v1/query?query={q}")),
                    None,
                    None,
                );
                let n = serde_json::from_str::<serde_json::Value>(&r.body)
                    .ok()?
                    .pointer("/data/result")?
                    .as_array()?
                    .len();
                (n > 0).then_some(())
            },
        );
    }

    /// Stop it now (SIGKILL, by PID).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A real Alertmanager (Debian `prometheus-alertmanager`) on a loopback
/// port, clustering off, sending every alert at once (short group waits)
/// to one webhook with a bearer token, resolved ones too; killed by PID
/// when dropped.
pub struct Alertmanager {
    child: Option<Child>,
    _dir: tempfile::TempDir,
    pub port: u16,
}

impl Alertmanager {
    pub fn start(webhook: &str, token: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "route:\n  receiver: meridian\n  group_by: [alertname]\n  group_wait: 200ms\n  group_interval: 500ms\n  repeat_interval: 1h\n\
             receivers:\n  - name: meridian\n    webhook_configs:\n      - url: \"{webhook}\"\n        send_resolved: true\n        http_config:\n          authorization: {{ credentials: \"{token}\" }}\n"
        );
        let file = dir.path().join("alertmanager.yml");
        std::fs::write(&file, config).expect("write alertmanager.yml");
        let port = free_port();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager (apt-get install prometheus-alertmanager)");
        let a = Self {
            child: Some(child),
            _dir: dir,
            port,
        };
        eventually(Duration::from_secs(20), "Alertmanager to be ready", || {
            (curl("GET", &a.url("/-/ready"), None, None).status == 200).then_some(())
        });
        a
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Post one alert with `labels` (JSON object text) through Alertmanager's
    /// own API, as Prometheus would: firing, or resolved (ends now).
    pub fn post(&self, labels: &str, resolved: bool) {
        let ends = if resolved {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            format!(",\"endsAt\":\"{}\"", rfc3339(now.saturating_sub(1)))
        } else {
            String::new()
        };
        let body = format!("[{{\"labels\":{labels}{ends}}}]");
        let r = curl("POST", &self.url("/api/v2/alerts"), Some(&body), None);
        assert_eq!(r.status, 200, "Alertmanager refused the alert: {}", r.body);
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
