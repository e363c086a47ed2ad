//! The layering rule of `docs/design.md` ("Layering"), checked: every
//! `crate::` and `super::` path in every file under `src/` must point to a
//! module on a lower floor than the file's own (or into its own module).
//! The floors are read from the `layering` block of the design notes, so
//! the drawing and the check cannot drift apart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Floors by module path; a `+` joins modules into one room.
struct Floors {
    /// Module path (segments) → (floor, room name).
    units: BTreeMap<Vec<String>, (u32, String)>,
}

impl Floors {
    fn parse(design: &str) -> Self {
        let start = design
            .find("```layering\n")
            .expect("docs/design.md has a ```layering block");
        let body = &design[start + "```layering\n".len()..];
        let body = &body[..body.find("```").expect("the layering block ends")];
        let mut units = BTreeMap::new();
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let mut words = line.split_whitespace();
            let floor: u32 = words
                .next()
                .and_then(|w| w.parse().ok())
                .unwrap_or_else(|| panic!("layering line without a floor number: {line:?}"));
            for room in words {
                for module in room.split('+') {
                    let path = module.split("::").map(str::to_owned).collect();
                    let old = units.insert(path, (floor, room.to_owned()));
                    assert!(old.is_none(), "{module} is on two floors");
                }
            }
        }
        Self { units }
    }

    /// The listed module `path` falls in: the longest listed prefix.
    fn unit(&self, path: &[String]) -> Option<(&[String], u32, &str)> {
        (1..=path.len()).rev().find_map(|n| {
            self.units
                .get_key_value(&path[..n])
                .map(|(k, (floor, room))| (k.as_slice(), *floor, room.as_str()))
        })
    }
}

/// `src/a/b.rs` → `a::b`; `src/a/mod.rs` → `a`; the crate root → empty.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut segs: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    if segs.last().is_some_and(|s| s == "mod") {
        segs.pop();
    }
    if segs == ["lib"] || segs == ["main"] {
        segs.clear();
    }
    segs
}

/// Every `crate::a::b` or `super::x` path on `line` (comments cut), made
/// absolute from `module`, the file's module (`super` of `a/b.rs` and of
/// `a/b/mod.rs` is `a`). `super::*`, which an inline `mod tests` uses for
/// its own file, is left out.
fn paths_on(line: &str, module: &[String]) -> Vec<Vec<String>> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start).map(|i| i + from) {
            from = at + start.len();
            // Only whole words: not `$crate::` or `my_crate::`.
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || b"_$".contains(&bytes[at - 1])) {
                continue;
            }
            if start == "super::" && at >= 7 && &code[at - 7..at] == "super::" {
                continue; // the tail of a super::super:: chain
            }
            let tail: String = code[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segs: Vec<&str> = tail.split("::").filter(|s| !s.is_empty()).collect();
            let mut base: Vec<String> = Vec::new();
            if segs.first() == Some(&"crate") {
                segs.remove(0);
            } else {
                base = module.to_vec();
                while segs.first() == Some(&"super") {
                    segs.remove(0);
                    base.pop();
                }
            }
            if segs.is_empty() {
                continue; // `super::*` or a group: the glob of a `mod tests`
            }
            base.extend(segs.iter().map(|s| (*s).to_owned()));
            out.push(base);
        }
    }
    out
}

/// Every breach of the rule in the files under `src`, one line each.
fn breaches(src: &Path, floors: &Floors) -> Vec<String> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let module = module_of(src, &file);
        if module.is_empty() {
            continue; // lib.rs and main.rs declare and call; they are the roof
        }
        let shown = file
            .strip_prefix(src.parent().unwrap_or(src))
            .unwrap_or(&file);
        let Some((own, floor, room)) = floors.unit(&module) else {
            out.push(format!(
                "{}: module {} has no floor in docs/design.md",
                shown.display(),
                module.join("::")
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            if line.split("//").next().unwrap_or("").contains("crate::{") {
                out.push(format!(
                    "{}:{}: `crate::{{...}}` groups are not read by this check; name each path",
                    shown.display(),
                    n + 1
                ));
            }
            for target in paths_on(line, &module) {
                if target.starts_with(own) {
                    continue; // within its own module
                }
                let Some((_, to_floor, to_room)) = floors.unit(&target) else {
                    continue; // a crate root item (none today) or a macro
                };
                if to_room == room {
                    continue;
                }
                if to_floor >= floor {
                    out.push(format!(
                        "{}:{}: {} (floor {floor}) uses {} (floor {to_floor}): a module uses only those below it",
                        shown.display(),
                        n + 1,
                        module.join("::"),
                        target.join("::"),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn no_module_uses_one_above_it() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let design = std::fs::read_to_string(root.join("docs/design.md")).expect("docs/design.md");
    let floors = Floors::parse(&design);
    let found = breaches(&root.join("src"), &floors);
    assert!(
        found.is_empty(),
        "{} breach(es) of the layering in docs/design.md:\n{}",
        found.len(),
        found.join("\n")
    );
}

/// The check itself fails on an upward, a sideways and an unlisted use,
/// and passes a downward one and a use within the room.
#[test]
fn the_check_catches_upward_sideways_and_unlisted_uses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("low")).expect("mkdir");
    let write = |rel: &str, text: &str| std::fs::write(src.join(rel), text).expect("write");
    write(
        "lib.rs",
        "pub mod low; pub mod high; pub mod side; pub mod stray;\n",
    );
    write("low/mod.rs", "mod inner;\nuse crate::high::Thing;\n");
    write(
        "low/inner.rs",
        "use super::super::side::X; // crate::high in a comment\n",
    );
    write(
        "high.rs",
        "use crate::low::Y;\nfn f() { crate::low::g(); super::side::z(); }\n",
    );
    write("side.rs", "use crate::low::Y;\n");
    write("stray.rs", "use crate::low::Y;\n");
    let floors = Floors::parse("```layering\n2  high side\n1  low\n```\n");
    let found = breaches(&src, &floors);
    let joined = found.join("\n");
    assert_eq!(found.len(), 4, "{joined}");
    assert!(
        joined.contains("src/low/mod.rs:2: low (floor 1) uses high::Thing (floor 2)"),
        "{joined}"
    );
    assert!(
        joined.contains("src/low/inner.rs:1: low::inner (floor 1) uses side::X (floor 2)"),
        "{joined}"
    );
    assert!(
        joined.contains("src/high.rs:2: high (floor 2) uses side::z (floor 2)"),
        "{joined}"
    );
    assert!(joined.contains("module stray has no floor"), "{joined}");

    let rooms = Floors::parse("```layering\n2  high+side\n1  low\n```\n");
    let found = breaches(&src, &rooms);
    assert_eq!(found.len(), 3, "{}", found.join("\n"));
}
