//! Build script: generates the gRPC health client (`grpc.health.v1`, from
//! `src/health/proto/health.proto`, with protoc) and records the git commit
//! the binary is built from, for
//! `meridian --version`, as `MERIDIAN_GIT_COMMIT`: the short hash of
//! `HEAD`, or `unknown` outside a git checkout (or without git). Setting
//! `MERIDIAN_GIT_COMMIT` in the environment overrides it (builds from a
//! tarball).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=src/health/proto/health.proto");
    if let Err(e) = tonic_prost_build::configure()
        .build_server(false)
        .compile_protos(&["src/health/proto/health.proto"], &["src/health/proto"])
    {
        panic!("generating the gRPC health client (is protoc installed?): {e}");
    }
    println!("cargo:rerun-if-env-changed=MERIDIAN_GIT_COMMIT");
    let commit = match std::env::var("MERIDIAN_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => {
            // Rebuild when HEAD moves: a commit or checkout rewrites the
            // worktree's HEAD reflog (per worktree, so this works in
            // `git worktree`s as well as in a plain clone).
            for name in ["HEAD", "logs/HEAD"] {
                if let Some(path) = git(&["rev-parse", "--git-path", name])
                    && std::path::Path::new(&path).exists()
                {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
            git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
        }
    };
    println!("cargo:rustc-env=MERIDIAN_GIT_COMMIT={commit}");
}
