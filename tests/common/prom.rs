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
