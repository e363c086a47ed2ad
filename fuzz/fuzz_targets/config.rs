//! Configuration YAML through `meridian::config::parse` (parse and
//! validate): errors are fine, a panic is not. Relative paths resolve
//! against a directory that does not exist, so nothing is read from disk.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = meridian::config::parse(&text, Path::new("/nonexistent/meridian-fuzz/meridian.yaml"));
});
