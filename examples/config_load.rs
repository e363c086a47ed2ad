//! `config::load` alone, for `bench/scale.sh check` and profiles of the
//! configuration's read: `config_load FILE` loads FILE once and prints how
//! many zones and services it holds, or its errors. Measure it with
//! `/usr/bin/time -v target/release/examples/config_load FILE` (no zone
//! files or GeoIP databases are read, unlike `meridian check`).

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: config_load FILE");
        return ExitCode::from(2);
    };
    match meridian::config::load(Path::new(&path)) {
        Ok(config) => {
            let services: usize = config.zones.iter().map(|z| z.services.len()).sum();
            println!(
                "{path}: {} zone(s), {services} service(s)",
                config.zones.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(1)
        }
    }
}
