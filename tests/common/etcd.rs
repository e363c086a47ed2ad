//! A real etcd on loopback ports for the cluster and registry tests, and
//! `etcdctl` to write into it as an operator or a service would.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::eventually;

/// A real etcd on loopback ports, with its data in a temporary directory;
/// killed when dropped.
pub struct Etcd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub client: u16,
    peer: u16,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Etcd {
    pub fn start() -> Self {
        let mut e = Self {
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
            client: free_port(),
            peer: free_port(),
        };
        e.run();
        e
    }

    /// Start (again) on the same ports and data directory; wait until it
    /// answers its health endpoint.
    pub fn run(&mut self) {
        let client = format!("http://127.0.0.1:{}", self.client);
        let peer = format!("http://127.0.0.1:{}", self.peer);
        let log = std::fs::File::create(self.dir.path().join("etcd.log")).expect("etcd log");
        let child = Command::new("etcd")
            .args(["--name", "t", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("t={peer}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn etcd (Debian package etcd-server)");
        self.child = Some(child);
        let url = format!("{client}/health");
        eventually(Duration::from_secs(15), "etcd to be healthy", || {
            let r = super::curl("GET", &url, None, None);
            r.body.contains("\"health\":\"true\"").then_some(())
        });
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Etcd {
    /// `http://127.0.0.1:PORT`, for `--endpoints`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client)
    }

    /// Run `etcdctl ARGS` against this etcd; its stdout, or a panic with
    /// its stderr.
    pub fn ctl(&self, args: &[&str]) -> String {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url(), "--command-timeout", "5s"])
            .args(args)
            .output()
            .expect("run etcdctl (Debian package etcd-client)");
        assert!(
            out.status.success(),
            "etcdctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Grant a lease of `ttl` seconds; its id (hex, as etcdctl prints it).
    pub fn lease(&self, ttl: u32) -> String {
        let out = self.ctl(&["lease", "grant", &ttl.to_string()]);
        // "lease 694d7a3f0a4d5a0b granted with TTL(30s)"
        out.split_whitespace()
            .nth(1)
            .expect("lease id in etcdctl output")
            .to_string()
    }
}
