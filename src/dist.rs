//! Files the package ships that are generated from the clap definitions,
//! so they cannot drift from the binary: the man pages `meridian.8` and
//! `meridian-<command>.8` (clap_mangen) and the bash, zsh and fish
//! completions (clap_complete). `meridian.yaml.5` is written by hand in
//! `packaging/`. Reached through the hidden `meridian dist` command.

use std::path::Path;

use anyhow::Context;
use clap_complete::Shell;

/// Write `man/*.8` and `completions/{meridian.bash,_meridian,meridian.fish}`
/// under `out`; the paths written. `cmd` carries the name and version the
/// pages print (the command line's, with its build commit).
pub fn generate(cmd: clap::Command, out: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let man = out.join("man");
    let completions = out.join("completions");
    for dir in [&man, &completions] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut written = Vec::new();
    pages(&cmd, "meridian", &man, &mut written)?;
    let mut cmd = cmd;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut cmd, "meridian", &completions)
            .with_context(|| format!("writing {shell} completions"))?;
        written.push(path);
    }
    Ok(written)
}

/// `name.8` for `cmd`, then one page per visible subcommand, recursively
/// (`meridian-geoip-build.8`).
fn pages(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<std::path::PathBuf>,
) -> anyhow::Result<()> {
    // No `help` subcommand in the pages: it has no page of its own.
    let named = cmd
        .clone()
        .name(name.to_string())
        .bin_name(name.replace('-', " "))
        .disable_help_subcommand(true);
    let page = clap_mangen::Man::new(named)
        .section("8")
        .manual("meridian")
        .source(format!("meridian {}", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    page.render(&mut buf)
        .with_context(|| format!("rendering {name}.8"))?;
    let path = dir.join(format!("{name}.8"));
    std::fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
