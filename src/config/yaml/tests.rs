//! The reader's contract, written against serde_saphyr's behaviour before
//! the reader was built from parser events: how plain and quoted scalars are
//! typed, where every node and key starts, anchors, aliases and merge keys,
//! tags, documents and syntax errors. Each case is rendered as a line of
//! text (`{key@line:col: value@line:col}`) and compared whole.

use std::fmt::Write as _;
use std::path::Path;

use super::*;
use crate::config::tree::{Diag, report_duplicate_keys};

/// `value@line:col`; maps as `{key@l:c: value@l:c, ...}`, lists as `[...]`.
fn show(node: &Node<'_>) -> String {
    let mut out = String::new();
    write_node(&mut out, node);
    out
}

fn write_node(out: &mut String, node: &Node<'_>) {
    match &node.kind {
        Kind::Null => out.push('~'),
        Kind::Bool(b) => write!(out, "{b}").expect("a String takes any write"),
        Kind::Int(i) => write!(out, "i{i}").expect("a String takes any write"),
        Kind::Float(x) => write!(out, "f{x:?}").expect("a String takes any write"),
        Kind::Str(s) => write!(out, "{s:?}").expect("a String takes any write"),
        Kind::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_node(out, item);
            }
            out.push(']');
        }
        Kind::Map(entries) => {
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write!(out, "{:?}@{}:{}: ", key.name, key.pos.line, key.pos.column)
                    .expect("a String takes any write");
                write_node(out, value);
            }
            out.push('}');
        }
    }
    write!(out, "@{}:{}", node.pos.line, node.pos.column).expect("a String takes any write");
}

fn render(text: &str) -> String {
    match parse_yaml(text) {
        Ok(node) => show(&node),
        Err((loc, message)) => format!("error {}:{}: {message}", loc.line, loc.column),
    }
}

/// Every case whose rendering differs, with what it rendered. On a thread
/// with a large stack: serde_saphyr recurses once per level of nesting, and
/// an unoptimised build needs more than a test thread's 2 MB for the 64
/// levels its budget allows.
fn mismatches(cases: &'static [(&'static str, &'static str)], wrap: bool) -> Vec<String> {
    on_a_big_stack(move || mismatches_here(cases, wrap))
}

/// Run `f` on a thread with a stack deep enough for the readers' recursion
/// on the deepest cases; its result, or the test fails with its panic.
fn on_a_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .expect("a thread can be started")
        .join()
        .expect("the readers agree")
}

fn mismatches_here(cases: &[(&str, &str)], wrap: bool) -> Vec<String> {
    let mut wrong = Vec::new();
    for (text, want) in cases {
        let text = if wrap {
            format!("v: {text}\n")
        } else {
            (*text).to_owned()
        };
        let got = render(&text);
        if got != *want {
            wrong.push(format!("{text:?}\n  want {want}\n  got  {got}"));
        }
    }
    wrong
}

#[test]
fn plain_scalars_are_typed_the_yaml_1_2_way_and_quoted_ones_are_strings() {
    let wrong = mismatches(SCALARS, true);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn documents_keep_their_structure_positions_and_errors() {
    let wrong = mismatches(DOCUMENTS, false);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
#[ignore = "writes the renderings of the cases to $DUMP_CASES, to record them (RUST_MIN_STACK=268435456)"]
fn dump_cases() {
    let path = std::env::var("DUMP_CASES").expect("DUMP_CASES names the output file");
    let mut all = Vec::new();
    for (text, _) in SCALARS {
        let text = format!("v: {text}\n");
        all.push((render(&text), text));
    }
    for (text, _) in DOCUMENTS {
        all.push((render(text), (*text).to_owned()));
    }
    let json: serde_json::Map<String, serde_json::Value> = all
        .into_iter()
        .map(|(got, text)| (text, serde_json::Value::String(got)))
        .collect();
    std::fs::write(
        path,
        serde_json::to_string(&json).expect("strings serialise"),
    )
    .expect("the dump file can be written");
}

/// Every YAML file of the repository's configuration tests: the error
/// fixtures, the fuzzing corpus and the packaged example.
fn yaml_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["tests/fixtures/config/bad", "fuzz/corpus/config"] {
        let entries =
            std::fs::read_dir(root.join(dir)).expect("the directory is in the repository");
        for entry in entries {
            let path = entry.expect("the directory can be listed").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).expect("the file can be read");
                files.push((path.display().to_string(), text));
            }
        }
    }
    let example = root.join("packaging/meridian.yaml");
    let text = std::fs::read_to_string(&example).expect("the example can be read");
    files.push((example.display().to_string(), text));
    files.sort();
    files
}

/// A large file's shape: geo services in flow style, as bench/benchtool.py
/// writes them, and the same in block style.
fn generated(services: usize) -> String {
    let mut text = String::from("zones:\n  - origin: gslb.example.\n    file: z\n    services:\n");
    for i in 0..services {
        let b = i % 250;
        text.push_str(&format!(
            "      s{i}: {{ttl: 30, policy: geo, map: world, max_answers: 2, pools: \
             {{us-east: {{endpoints: [192.0.2.{b}, 192.0.2.{}]}}, weight: 1.5}}}}\n",
            b + 1
        ));
        text.push_str(&format!(
            "      b{i}:\n        ttl: 30\n        pools:\n          eu-west:\n            \
             endpoints:\n              - 198.51.100.{b}\n              - \"2001:db8::{b}\"\n"
        ));
    }
    text
}

/// The event reader, where it answers, gives serde_saphyr's tree.
fn agree(name: &str, text: &str) -> bool {
    let fast = parse_events(text);
    if let Some(fast) = &fast {
        match parse_serde(text) {
            Ok(slow) => assert_eq!(
                show(fast),
                show(&slow),
                "{name}: the readers disagree on\n{text}"
            ),
            Err((loc, message)) => panic!(
                "{name}: the event reader accepted what serde_saphyr refuses \
                 ({}:{}: {message}):\n{text}",
                loc.line, loc.column
            ),
        }
    }
    fast.is_some()
}

#[test]
fn the_event_reader_agrees_with_serde_saphyr_on_every_case_and_file_and_cut() {
    on_a_big_stack(|| {
        for (text, _) in SCALARS {
            agree("scalar", &format!("v: {text}\n"));
        }
        for (text, _) in DOCUMENTS {
            agree("document", text);
        }
        for (name, text) in &yaml_files() {
            // A whole file is left to serde_saphyr only when it is not
            // a configuration's shape: a syntax error, empty, not a map.
            if !agree(name, text) {
                let shaped = parse_serde(text).is_ok_and(|n| matches!(n.kind, Kind::Map(_)));
                assert!(!shaped, "{name}: the event reader declined it");
            }
            // Every cut at a line end, and the example at every character.
            let cuts: Vec<usize> = if name.ends_with("packaging/meridian.yaml") {
                text.char_indices().map(|(i, _)| i).collect()
            } else {
                text.match_indices('\n').map(|(i, _)| i).collect()
            };
            for i in cuts {
                agree(name, &text[..i]);
            }
        }
        // The configurations a large operator writes take the fast way.
        assert!(
            agree("generated", &generated(50)),
            "the event reader declined"
        );
        // With fewer `#` than the parser buffers, comments are not read
        // as events; with more, they are, as serde_saphyr reads them.
        let commented: String = generated(3)
            .lines()
            .flat_map(|line| [line, "# a comment"])
            .map(|line| format!("{line}\n"))
            .collect();
        assert!(agree("commented", &commented), "the event reader declined");
        let many = format!("a:\n{}  b: 1\n", "# c\n".repeat(200));
        agree("many comments", &many);
        let many = format!("{}{}", "# c\n".repeat(200), generated(50));
        assert!(agree("many comments", &many), "the event reader declined");
    });
}

const SCALARS: &[(&str, &str)] = &[
    ("NO", "{\"v\"@1:1: \"NO\"@1:4}@1:1"),
    ("yes", "{\"v\"@1:1: \"yes\"@1:4}@1:1"),
    ("no", "{\"v\"@1:1: \"no\"@1:4}@1:1"),
    ("on", "{\"v\"@1:1: \"on\"@1:4}@1:1"),
    ("off", "{\"v\"@1:1: \"off\"@1:4}@1:1"),
    ("y", "{\"v\"@1:1: \"y\"@1:4}@1:1"),
    ("n", "{\"v\"@1:1: \"n\"@1:4}@1:1"),
    ("Yes", "{\"v\"@1:1: \"Yes\"@1:4}@1:1"),
    ("True", "{\"v\"@1:1: true@1:4}@1:1"),
    ("true", "{\"v\"@1:1: true@1:4}@1:1"),
    ("TRUE", "{\"v\"@1:1: true@1:4}@1:1"),
    ("False", "{\"v\"@1:1: false@1:4}@1:1"),
    ("false", "{\"v\"@1:1: false@1:4}@1:1"),
    ("tRue", "{\"v\"@1:1: \"tRue\"@1:4}@1:1"),
    ("\"30\"", "{\"v\"@1:1: \"30\"@1:4}@1:1"),
    ("'30'", "{\"v\"@1:1: \"30\"@1:4}@1:1"),
    ("30", "{\"v\"@1:1: i30@1:4}@1:1"),
    ("-30", "{\"v\"@1:1: i-30@1:4}@1:1"),
    ("+30", "{\"v\"@1:1: i30@1:4}@1:1"),
    ("0", "{\"v\"@1:1: i0@1:4}@1:1"),
    ("-0", "{\"v\"@1:1: i0@1:4}@1:1"),
    ("+0", "{\"v\"@1:1: i0@1:4}@1:1"),
    ("007", "{\"v\"@1:1: \"007\"@1:4}@1:1"),
    ("-007", "{\"v\"@1:1: \"-007\"@1:4}@1:1"),
    ("1_000", "{\"v\"@1:1: \"1_000\"@1:4}@1:1"),
    ("0x1F", "{\"v\"@1:1: i31@1:4}@1:1"),
    ("0X1F", "{\"v\"@1:1: \"0X1F\"@1:4}@1:1"),
    ("0o17", "{\"v\"@1:1: i15@1:4}@1:1"),
    ("0b101", "{\"v\"@1:1: i5@1:4}@1:1"),
    ("0xg", "{\"v\"@1:1: \"0xg\"@1:4}@1:1"),
    ("1e3", "{\"v\"@1:1: f1000.0@1:4}@1:1"),
    ("1.5", "{\"v\"@1:1: f1.5@1:4}@1:1"),
    (".5", "{\"v\"@1:1: f0.5@1:4}@1:1"),
    ("-1.5", "{\"v\"@1:1: f-1.5@1:4}@1:1"),
    ("1.", "{\"v\"@1:1: f1.0@1:4}@1:1"),
    ("00.5", "{\"v\"@1:1: f0.5@1:4}@1:1"),
    ("+1.5", "{\"v\"@1:1: f1.5@1:4}@1:1"),
    ("1e+3", "{\"v\"@1:1: f1000.0@1:4}@1:1"),
    ("1E3", "{\"v\"@1:1: f1000.0@1:4}@1:1"),
    ("0.0", "{\"v\"@1:1: f0.0@1:4}@1:1"),
    ("-0.0", "{\"v\"@1:1: f-0.0@1:4}@1:1"),
    (
        "1e999",
        "error 1:4: invalid YAML: value `1e999` is not a finite number",
    ),
    (
        "-1e999",
        "error 1:4: invalid YAML: value `-1e999` is not a finite number",
    ),
    (
        ".inf",
        "error 1:4: invalid YAML: value `.inf` is not a finite number",
    ),
    (
        "-.inf",
        "error 1:4: invalid YAML: value `-.inf` is not a finite number",
    ),
    (
        "+.inf",
        "error 1:4: invalid YAML: value `+.inf` is not a finite number",
    ),
    (
        ".Inf",
        "error 1:4: invalid YAML: value `.Inf` is not a finite number",
    ),
    (
        ".nan",
        "error 1:4: invalid YAML: value `.nan` is not a finite number",
    ),
    ("-.nan", "{\"v\"@1:1: \"-.nan\"@1:4}@1:1"),
    (
        ".NaN",
        "error 1:4: invalid YAML: value `.NaN` is not a finite number",
    ),
    ("inf", "{\"v\"@1:1: \"inf\"@1:4}@1:1"),
    ("nan", "{\"v\"@1:1: \"nan\"@1:4}@1:1"),
    ("infinity", "{\"v\"@1:1: \"infinity\"@1:4}@1:1"),
    ("Infinity", "{\"v\"@1:1: \"Infinity\"@1:4}@1:1"),
    ("10.0.0.1", "{\"v\"@1:1: \"10.0.0.1\"@1:4}@1:1"),
    ("30s", "{\"v\"@1:1: \"30s\"@1:4}@1:1"),
    ("1m30s", "{\"v\"@1:1: \"1m30s\"@1:4}@1:1"),
    ("500ms", "{\"v\"@1:1: \"500ms\"@1:4}@1:1"),
    (
        "18446744073709551615",
        "{\"v\"@1:1: i18446744073709551615@1:4}@1:1",
    ),
    (
        "18446744073709551616",
        "{\"v\"@1:1: f1.8446744073709552e19@1:4}@1:1",
    ),
    (
        "9223372036854775807",
        "{\"v\"@1:1: i9223372036854775807@1:4}@1:1",
    ),
    (
        "9223372036854775808",
        "{\"v\"@1:1: i9223372036854775808@1:4}@1:1",
    ),
    (
        "-9223372036854775808",
        "{\"v\"@1:1: i-9223372036854775808@1:4}@1:1",
    ),
    (
        "-9223372036854775809",
        "{\"v\"@1:1: f-9.223372036854776e18@1:4}@1:1",
    ),
    (
        "123456789012345678901234567890",
        "{\"v\"@1:1: f1.2345678901234568e29@1:4}@1:1",
    ),
    ("~", "{\"v\"@1:1: ~@1:4}@1:1"),
    ("null", "{\"v\"@1:1: ~@1:4}@1:1"),
    ("Null", "{\"v\"@1:1: ~@1:4}@1:1"),
    ("NULL", "{\"v\"@1:1: ~@1:4}@1:1"),
    ("nULL", "{\"v\"@1:1: \"nULL\"@1:4}@1:1"),
    ("", "{\"v\"@1:1: ~@1:2}@1:1"),
    ("\"\"", "{\"v\"@1:1: \"\"@1:4}@1:1"),
    ("''", "{\"v\"@1:1: \"\"@1:4}@1:1"),
    ("'a''b'", "{\"v\"@1:1: \"a'b\"@1:4}@1:1"),
    ("\"a\\tb\"", "{\"v\"@1:1: \"a\\tb\"@1:4}@1:1"),
    ("12:30", "{\"v\"@1:1: \"12:30\"@1:4}@1:1"),
    ("2001:db8::1", "{\"v\"@1:1: \"2001:db8::1\"@1:4}@1:1"),
    ("::1", "{\"v\"@1:1: \"::1\"@1:4}@1:1"),
    ("1:2", "{\"v\"@1:1: \"1:2\"@1:4}@1:1"),
    ("1__0", "{\"v\"@1:1: \"1__0\"@1:4}@1:1"),
    ("_1", "{\"v\"@1:1: \"_1\"@1:4}@1:1"),
    ("1_", "{\"v\"@1:1: \"1_\"@1:4}@1:1"),
    ("0_1", "{\"v\"@1:1: \"0_1\"@1:4}@1:1"),
    ("1-2", "{\"v\"@1:1: \"1-2\"@1:4}@1:1"),
    ("1 2", "{\"v\"@1:1: \"1 2\"@1:4}@1:1"),
    (
        "- 1",
        "error 1:4: invalid YAML: block sequence entries are not allowed in this context",
    ),
    ("a b", "{\"v\"@1:1: \"a b\"@1:4}@1:1"),
    ("\u{e9}", "{\"v\"@1:1: \"\u{e9}\"@1:4}@1:1"),
    ("1e", "{\"v\"@1:1: \"1e\"@1:4}@1:1"),
    ("e1", "{\"v\"@1:1: \"e1\"@1:4}@1:1"),
    ("0.", "{\"v\"@1:1: f0.0@1:4}@1:1"),
    ("-.5", "{\"v\"@1:1: f-0.5@1:4}@1:1"),
    (".", "{\"v\"@1:1: \".\"@1:4}@1:1"),
    (
        "-",
        "error 1:4: invalid YAML: block sequence entries are not allowed in this context",
    ),
    ("+", "{\"v\"@1:1: \"+\"@1:4}@1:1"),
    ("1.2.3", "{\"v\"@1:1: \"1.2.3\"@1:4}@1:1"),
    ("US-CA", "{\"v\"@1:1: \"US-CA\"@1:4}@1:1"),
    ("10.0.0.0/8", "{\"v\"@1:1: \"10.0.0.0/8\"@1:4}@1:1"),
    ("@", "error 1:4: invalid YAML: unexpected character: `@'"),
    ("true # comment", "{\"v\"@1:1: true@1:4}@1:1"),
    ("[]", "{\"v\"@1:1: []@1:4}@1:1"),
    ("{}", "{\"v\"@1:1: {}@1:4}@1:1"),
    (
        "[1, two, 3.0]",
        "{\"v\"@1:1: [i1@1:5, \"two\"@1:8, f3.0@1:13]@1:4}@1:1",
    ),
    (
        "{a: 1, b: [x]}",
        "{\"v\"@1:1: {\"a\"@1:5: i1@1:8, \"b\"@1:11: [\"x\"@1:15]@1:14}@1:4}@1:1",
    ),
];

const DOCUMENTS: &[(&str, &str)] = &[
    (
        "a: |-\n  line one\n  line two\nb: >\n  folded\n  text\nc: x\n",
        "{\"a\"@1:1: \"line one\\nline two\"@2:3, \"b\"@4:1: \"folded text\\n\"@5:3, \"c\"@7:1: \"x\"@7:4}@1:1",
    ),
    (
        "a: plain\n  continued\n  lines\nb: 1\n",
        "{\"a\"@1:1: \"plain continued lines\"@1:4, \"b\"@4:1: i1@4:4}@1:1",
    ),
    (
        "\"q\": 1\n'r': 2\n10: 3\ntrue: 4\n1.5: 5\nnull: 6\n",
        "error 6:1: invalid YAML: null is not allowed here",
    ),
    (
        "~: 1\n",
        "error 1:1: invalid YAML: null is not allowed here",
    ),
    (
        "\"q\": 1\n'r': 2\n10: 3\ntrue: 4\n1.5: 5\n0x1F: 6\n'': 7\n\"~\": 8\nNO: 9\n",
        "{\"q\"@1:1: i1@1:6, \"r\"@2:1: i2@2:6, \"10\"@3:1: i3@3:5, \"true\"@4:1: i4@4:7, \"1.5\"@5:1: i5@5:6, \"0x1F\"@6:1: i6@6:7, \"\"@7:1: i7@7:5, \"~\"@8:1: i8@8:6, \"NO\"@9:1: i9@9:5}@1:1",
    ),
    (": 1\n", "error 1:1: invalid YAML: null is not allowed here"),
    ("? complex\n: 1\n", "{\"complex\"@1:3: i1@2:3}@1:1"),
    (
        "[a]: 1\n",
        "error 1:1: invalid YAML: expected string scalar",
    ),
    (
        "{a: 1}: 2\n",
        "error 1:1: invalid YAML: expected string scalar",
    ),
    (
        "a: 1\na: 2\nb: {c: 1, c: 2}\n",
        "{\"a\"@1:1: i1@1:4, \"a\"@2:1: i2@2:4, \"b\"@3:1: {\"c\"@3:5: i1@3:8, \"c\"@3:11: i2@3:14}@3:4}@1:1",
    ),
    (
        "# top comment\n\ndns:   # trailing\n  listen: [\"127.0.0.1:53\", \"[::1]:53\"]\n  list:\n    - a\n    - b: 1\n      c:\n    -\n    - [x, {y: z}]\n  empty:\nlast: {  k: v  ,  j : [ 1 , 2 ] }\n",
        "{\"dns\"@3:1: {\"listen\"@4:3: [\"127.0.0.1:53\"@4:12, \"[::1]:53\"@4:28]@4:11, \"list\"@5:3: [\"a\"@6:7, {\"b\"@7:7: i1@7:10, \"c\"@8:7: ~@8:8}@7:7, ~@9:6, [\"x\"@10:8, {\"y\"@10:12: \"z\"@10:15}@10:11]@10:7]@6:5, \"empty\"@11:3: ~@11:8}@4:3, \"last\"@12:1: {\"k\"@12:10: \"v\"@12:13, \"j\"@12:19: [i1@12:25, i2@12:29]@12:23}@12:7}@3:1",
    ),
    (
        "seq:\n- a\n- - b\n  - c\n",
        "{\"seq\"@1:1: [\"a\"@2:3, [\"b\"@3:5, \"c\"@4:5]@3:3]@2:3}@1:1",
    ),
    (
        "a: &x 1\nb: *x\n",
        "{\"a\"@1:1: i1@1:7, \"b\"@2:1: i1@2:4}@1:1",
    ),
    (
        "a: &m {p: 1, q: [2]}\nb: *m\nc: *m\n",
        "{\"a\"@1:1: {\"p\"@1:8: i1@1:11, \"q\"@1:14: [i2@1:18]@1:17}@1:7, \"b\"@2:1: {\"p\"@2:4: i1@2:4, \"q\"@2:4: [i2@2:4]@2:4}@2:4, \"c\"@3:1: {\"p\"@3:4: i1@3:4, \"q\"@3:4: [i2@3:4]@3:4}@3:4}@1:1",
    ),
    (
        "base: &b {ttl: 30, policy: geo}\nsvc: {<<: *b, ttl: 60}\n",
        "{\"base\"@1:1: {\"ttl\"@1:11: i30@1:16, \"policy\"@1:20: \"geo\"@1:28}@1:10, \"svc\"@2:1: {\"ttl\"@2:15: i60@2:20, \"policy\"@2:11: \"geo\"@2:11}@2:6}@1:1",
    ),
    (
        "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n",
        "{\"a\"@1:1: {\"x\"@1:8: i1@1:11}@1:7, \"b\"@2:1: {\"y\"@2:8: i2@2:11}@2:7, \"c\"@3:1: {\"z\"@5:3: i3@5:6, \"x\"@4:8: i1@4:8, \"y\"@4:12: i2@4:12}@4:3}@1:1",
    ),
    (
        "a: {<<: {x: 1}, y: 2}\n",
        "{\"a\"@1:1: {\"y\"@1:17: i2@1:20, \"x\"@1:9: i1@1:9}@1:4}@1:1",
    ),
    (
        "a: *nope\n",
        "error 1:4: invalid YAML: reference to unknown value",
    ),
    (
        "a: &r [*r]\n",
        "error 1:8: invalid YAML: Recursive reference not allowed here",
    ),
    (
        "a: 1\n---\nb: 2\n",
        "error 3:1: invalid YAML: only single YAML document expected but multiple found",
    ),
    ("", "~@1:1"),
    ("# only a comment\n", "~@2:1"),
    ("---\n", "~@1:4"),
    ("---\na: 1\n...\n", "{\"a\"@2:1: i1@2:4}@2:1"),
    (
        "---\na: 1\n...\n---\n",
        "error 4:4: invalid YAML: only single YAML document expected but multiple found",
    ),
    ("%YAML 1.2\n---\na: 1\n", "{\"a\"@3:1: i1@3:4}@3:1"),
    ("--- \na: 1\n", "{\"a\"@2:1: i1@2:4}@2:1"),
    ("a: !!str 5\n", "{\"a\"@1:1: \"5\"@1:10}@1:1"),
    ("a: !!int \"5\"\n", "{\"a\"@1:1: i5@1:10}@1:1"),
    ("a: !custom x\n", "{\"a\"@1:1: \"x\"@1:12}@1:1"),
    ("a: ! 5\n", "{\"a\"@1:1: \"5\"@1:6}@1:1"),
    (
        "a: !!map {b: 1}\n",
        "{\"a\"@1:1: {\"b\"@1:11: i1@1:14}@1:10}@1:1",
    ),
    ("a: !!binary aGVsbG8=\n", "{\"a\"@1:1: \"hello\"@1:13}@1:1"),
    ("a: !!float 1\n", "{\"a\"@1:1: f1.0@1:12}@1:1"),
    (
        "a: !!bool yes\n",
        "error 1:11: invalid YAML: invalid boolean (true or false expected)",
    ),
    ("a: !!null \"\"\n", "{\"a\"@1:1: ~@1:11}@1:1"),
    ("a: !!seq [1]\n", "{\"a\"@1:1: [i1@1:11]@1:10}@1:1"),
    ("!!map\nb: 1\n", "{\"b\"@2:1: i1@2:4}@2:1"),
    ("a: !!str\n", "{\"a\"@1:1: \"\"@1:9}@1:1"),
    (
        "a: [1, 2\n",
        "error 1:4: invalid YAML: unclosed bracket '['",
    ),
    (
        "a: b: c\n",
        "error 1:5: invalid YAML: mapping values are not allowed in this context",
    ),
    (
        "a:\n\tb: 1\n",
        "error 2:2: invalid YAML: tabs disallowed within this context (block indentation)",
    ),
    (
        "- a\nb: 1\n",
        "error 2:1: invalid YAML: while parsing a block collection, did not find expected '-' indicator",
    ),
    ("a: 'open\n", "error 1:4: invalid YAML: unclosed quote"),
    (
        "a: \"\\q\"\n",
        "error 1:4: invalid YAML: while parsing a quoted scalar, found unknown escape character",
    ),
    (
        "a: 1\n b: 2\n",
        "error 2:3: invalid YAML: mapping values are not allowed in this context",
    ),
    (
        "  a: 1\nb: 2\n",
        "error 2:1: invalid YAML: did not find expected <document start>",
    ),
    ("- 1\n- 2\n", "[i1@1:3, i2@2:3]@1:1"),
    ("5\n", "i5@1:1"),
    ("x\n", "\"x\"@1:1"),
    (
        "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
        "error 1:67: invalid YAML: YAML document too large or too complex: limits breached: Depth { depth: 65 }",
    ),
    ("\u{feff}a: 1\n", "{\"a\"@1:1: i1@1:4}@1:1"),
    (
        "a: 1\r\nb: 2\r\n",
        "{\"a\"@1:1: i1@1:4, \"b\"@2:1: i2@2:4}@1:1",
    ),
    ("a:    x   \n", "{\"a\"@1:1: \"x\"@1:7}@1:1"),
    (
        "a: \"multi\n  line\"\n",
        "{\"a\"@1:1: \"multi line\"@1:4}@1:1",
    ),
    ("a: 'x'  # c\n", "{\"a\"@1:1: \"x\"@1:4}@1:1"),
    (
        "\u{e9}: \u{fc}\nb: \"\u{e9}\"\n",
        "{\"\u{e9}\"@1:1: \"\u{fc}\"@1:4, \"b\"@2:1: \"\u{e9}\"@2:4}@1:1",
    ),
    (
        "a:\n  - b: 1\n    c: 2\n  - d\n",
        "{\"a\"@1:1: [{\"b\"@2:5: i1@2:8, \"c\"@3:5: i2@3:8}@2:5, \"d\"@4:5]@2:3}@1:1",
    ),
    (
        "a: {b: [1, {c: d}], e: }\n",
        "{\"a\"@1:1: {\"b\"@1:5: [i1@1:9, {\"c\"@1:13: \"d\"@1:16}@1:12]@1:8, \"e\"@1:21: ~@1:22}@1:4}@1:1",
    ),
    (
        "a: [b, c,]\n",
        "{\"a\"@1:1: [\"b\"@1:5, \"c\"@1:8]@1:4}@1:1",
    ),
    ("? a\n? b\n", "{\"a\"@1:3: ~@2:1, \"b\"@2:3: ~@3:1}@1:1"),
];

#[test]
fn the_tree_is_compact() {
    // A large file's tree is mostly map entries and list items.
    assert_eq!(size_of::<Node<'_>>(), 40);
    assert_eq!(size_of::<(Key<'_>, Node<'_>)>(), 72);
}

#[test]
fn plain_strings_borrow_from_the_text() {
    let text = "a: {b: plain, c: 'quoted', d: \"esc\\taped\"}\n";
    let root = parse_events(text).expect("the event reader answers");
    assert_borrowed(&root);
}

/// What both readers make of `a: {b: plain, c: 'quoted', d: "esc\taped",
/// ...}`: the key and the unescaped strings borrowed from the text, the
/// escaped one owned. The inner map's entries, for more checks.
fn assert_borrowed<'n, 'a>(root: &'n Node<'a>) -> &'n [(Key<'a>, Node<'a>)] {
    let Kind::Map(top) = &root.kind else {
        panic!("a map: {}", show(root))
    };
    assert!(matches!(top[0].0.name, Cow::Borrowed("a")));
    let Kind::Map(inner) = &top[0].1.kind else {
        panic!("a map: {}", show(root))
    };
    assert!(matches!(inner[0].1.kind, Kind::Str(Cow::Borrowed("plain"))));
    assert!(matches!(
        inner[1].1.kind,
        Kind::Str(Cow::Borrowed("quoted"))
    ));
    assert!(matches!(&inner[2].1.kind, Kind::Str(Cow::Owned(s)) if s == "esc\taped"));
    inner
}

/// What the readers before the fast one make of `text`.
fn render_slow(text: &str) -> String {
    match parse_events(text) {
        Some(node) => show(&node),
        None => match parse_serde(text) {
            Ok(node) => show(&node),
            Err((loc, message)) => format!("error {}:{}: {message}", loc.line, loc.column),
        },
    }
}

/// The fast reader, where it answers, gives the other readers' tree; says
/// whether it answered.
fn fast_agrees(name: &str, text: &str) -> bool {
    deferring_agrees(name, text);
    let Some(fast) = fast::parse(text) else {
        return false;
    };
    assert_eq!(
        show(&fast),
        render_slow(text),
        "{name}: the fast reader disagrees on\n{text}"
    );
    true
}

/// The tree of `text` as the deferring reader gives it, each skipped
/// `services:` map read entry by entry into its place; `None` where it
/// declines, at once or when a map is read.
fn read_deferred(text: &str) -> Option<Node<'_>> {
    let (mut root, mut deferred) = fast::parse_deferring(text)?;
    if let Kind::Map(top) = &mut root.kind
        && let Some((_, zones)) = top.iter_mut().find(|(k, _)| k.name == "zones")
        && let Kind::Seq(items) = &mut zones.kind
    {
        for (i, item) in items.iter_mut().enumerate() {
            let Some(mut lazy) = deferred.services(i) else {
                continue;
            };
            let Kind::Map(keys) = &mut item.kind else {
                panic!("a zone's services were skipped outside a map");
            };
            let Some((_, services)) = keys.iter_mut().find(|(k, _)| k.name == "services") else {
                panic!("a zone's services were skipped where it has none");
            };
            let mut entries = Vec::new();
            while let Some(entry) = lazy.next() {
                entries.push(entry);
            }
            services.kind = Kind::Map(entries);
        }
    }
    deferred.finish().then_some(root)
}

/// The deferring reader declines what the fast reader declines, and gives
/// its tree once its skipped maps are read.
fn deferring_agrees(name: &str, text: &str) {
    assert_eq!(
        read_deferred(text).map(|n| show(&n)),
        fast::parse(text).map(|n| show(&n)),
        "{name}: the deferring reader disagrees on\n{text}"
    );
}

#[test]
fn the_deferring_reader_skips_the_zones_services_and_reads_them_as_the_fast_one() {
    let text = "zones:\n  - origin: a.\n    services:\n      s: {ttl: 1}\n      # c\n      t:\n        ttl: 2\n    file: f\n  - services: {u: 1}\n  - services:\n      v: [1,\n        2]\n";
    let (root, mut deferred) = fast::parse_deferring(text).expect("ours");
    // The tree holds empty maps where the block maps were.
    assert!(show(&root).contains("services"));
    let mut first = deferred.services(0).expect("skipped");
    assert_eq!(first.len_hint(), 2);
    let (key, _) = first.next().expect("s");
    assert_eq!(
        (key.name.as_ref(), key.pos.line, key.pos.column),
        ("s", 4, 7)
    );
    let (key, value) = first.next().expect("t");
    assert_eq!(
        (key.name.as_ref(), value.pos.line, value.pos.column),
        ("t", 7, 9)
    );
    assert!(first.next().is_none());
    drop(first);
    // A flow map is in the tree; the third zone's map is read at the end.
    assert!(deferred.services(1).is_none());
    assert!(deferred.finish());
    deferring_agrees("zones", text);
    // Declined when the skipped map is read: a key twice, a block scalar,
    // a line at no key's column.
    for bad in [
        "zones:\n  - services:\n      s: 1\n      s: 2\n",
        "zones:\n  - services:\n      s: |\n        x\n",
        "zones:\n  - services:\n      s: 1\n        t: 2\n",
    ] {
        let (_, mut deferred) = fast::parse_deferring(bad).expect("skipped over");
        drop(deferred.services(0));
        assert!(!deferred.finish(), "accepted:\n{bad}");
        assert!(fast::parse(bad).is_none(), "{bad}");
    }
}

/// Every configuration file of the repository: the error fixtures, the
/// fuzzing corpus, the test fixtures, the packaged and benchmark examples.
fn all_configs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = yaml_files();
    for name in [
        "bench/meridian.yaml",
        "fuzz/fixtures/fuzz.yaml",
        "tests/fixtures/admin/admin.yaml",
        "tests/fixtures/geo/geo.yaml",
        "tests/fixtures/static/static.yaml",
        "zones/demo.yaml",
    ] {
        let text = std::fs::read_to_string(root.join(name)).expect("the file can be read");
        files.push((name.to_owned(), text));
    }
    files
}

/// The shapes a large file is written in, as bench/benchtool.py writes
/// them: flow maps nested in flow maps.
fn bench_shaped(services: usize) -> String {
    let mut text = String::from(
        "# generated\ndns:\n  listen: [\"127.0.0.1:15356\"]\nregions:\n  us-east:      \
         { location: [39.04, -77.49] }\ngeo_maps:\n  world:\n    nets:\n      \
         \"10.0.0.0/8\": [eu-west, us-east]\n    default: nearest\nzones:\n  - origin: \
         gslb.example.\n    file: gslb.example.zone\n    services:\n",
    );
    for i in 0..services {
        let b = i % 250;
        text.push_str(&format!(
            "      s{i}: {{ttl: 30, policy: geo, map: world, max_answers: 2, pools: \
             {{us-east: {{endpoints: [192.0.2.{b}, 192.0.2.{}]}}, eu-west: {{endpoints: \
             [198.51.100.{b}]}}}}}}\n",
            b + 1
        ));
    }
    text
}

#[test]
fn the_fast_reader_agrees_with_the_others_on_every_case_file_and_cut() {
    on_a_big_stack(|| {
        let mut taken = 0;
        for (text, _) in SCALARS {
            taken += usize::from(fast_agrees("scalar", &format!("v: {text}\n")));
        }
        for (text, _) in DOCUMENTS {
            taken += usize::from(fast_agrees("document", text));
        }
        for text in EDGES {
            taken += usize::from(fast_agrees("edge", text));
        }
        for len in [990, 1000, 1023, 1024, 1025, 1100] {
            let key = "k".repeat(len);
            fast_agrees("long key", &format!("{key}: 1\n"));
            fast_agrees("long quoted key", &format!("a: {{'{key}': 1}}\n"));
        }
        // It takes the common shapes, not only the trivial ones.
        assert!(taken > 100, "the fast reader took {taken} cases");
        for (name, text) in &all_configs() {
            let shaped = parse_serde(text).is_ok_and(|mut n| {
                // A key written twice is left to the other readers.
                let mut diag = Diag::new(name.into());
                report_duplicate_keys(&mut n, "", &mut diag);
                matches!(n.kind, Kind::Map(_)) && diag.is_empty()
            });
            let taken = fast_agrees(name, text);
            // Every well-formed configuration of the repository is ours.
            assert!(taken || !shaped, "{name}: the fast reader declined it");
            for (i, _) in text.char_indices() {
                fast_agrees(name, &text[..i]);
            }
        }
        for text in [generated(50), bench_shaped(50)] {
            assert!(fast_agrees("generated", &text), "declined:\n{text}");
        }
        let many = format!("a:\n{}  b: 1\n", "# c\n".repeat(200));
        fast_agrees("many comments", &many);
        let many = format!("{}{}", "# c\n".repeat(200), generated(5));
        fast_agrees("many comments", &many);
        let spread: String = generated(40)
            .lines()
            .flat_map(|line| [line, "  # a comment"])
            .map(|line| format!("{line}\n"))
            .collect();
        assert!(fast_agrees("spread comments", &spread), "declined");
    });
}

/// Shapes at the fast reader's edges: each is either declined or read as
/// the other readers read it.
const EDGES: &[&str] = &[
    "a:   # c\nb: 1\n",
    "a:\n\n  b: 1\n",
    "a: 1 \n  \nb: 2\n",
    "a: [\n  1,\n  2\n]\n",
    "a: [\n  1,\n\n  # c\n  2\n  ]\n",
    "a: [1,\n2]\n",
    "a:\n  b: [1,\n  2]\n",
    "a:\n- b: 1\n  c: 2\n- d\ne: 1\n",
    "a:\n- b:\n  - c\n  d: 2\n",
    "a:\n  -\n    b: 1\n  - c\n",
    "a:\n-\n  b: 1\n",
    "- a: x\n",
    "a: {b: }\n",
    "a: {b:}\n",
    "a: {\"b\":1}\n",
    "a: {\"b\": 1, 'c' : 2}\n",
    "a: b #c\n",
    "a: b#c\n",
    "a: 'x'#c\n",
    "a: \"\\x41\\u00e9\\U0001F600\\N\\_\\L\\P\\0\\e\\/\\ \"\n",
    "a: \"\\ud800\"\n",
    "a: \"\\x4\"\n",
    "a: x: y\n",
    "k:\n  - [a, b]\n  - {c: d}\n  - 'e'\n",
    "a: -1\nb: -x\nc: -.5\nd: -\n",
    "a: [a:b, c]\n",
    "a: [a: b]\n",
    "a: {a:b: c}\n",
    "a: [a, , b]\n",
    "a: [a,]\nb: {c: 1,}\n",
    "'a': 1\n\"b\" : 2\n",
    "a: foo [bar] {baz}\n",
    "a: foo, bar\n",
    "a: ~\nb: null\nc: Null\nd: NULL\n",
    "a: [~, null, '', \"\"]\n",
    "a: b\n  c\n",
    "zones:\n- origin: a.\n  services:\n    s: 1\n    t: {a: 1}\n",
    "zones:\n  - services:\n      a: 1\n    # c\n      b: 2\n  - services:\n      c: 3\n",
    "zones:\n  - services:\n      a: 1\n# c\n    file: f\n",
    "zones:\n  - services:\n      a: 1\n      a: 2\n",
    "zones:\n  - services:\n      a: {b: 1,\n        c: 2}\n      d: 3\n",
    "zones:\n  - services:\n      a: {b: 1,\n      c: 2}\n",
    "zones:\n  - services:\n      a: 1\n    b: 2\n",
    "zones:\n  - services:\n      a: 1\n     b: 2\n",
    "zones:\n  - services:\n    - a\n",
    "zones:\n  - services:\n      a: 1",
    "zones:\n  - services:\n      a: 1\n---\n",
    "zones:\n  - services:\n      a:\n        services:\n          b: 1\n",
    "zones:\n  - services:\n\n      a: 1\nservices:\n  b: 2\n",
    "x:\n  zones:\n    - services:\n        a: 1\n",
    "zones:\n  -\n    services:\n      a: 1\n  - {services: {b: 1}}\n  - services:\n      c: 1\n",
    "a: 'b'\n  c: d\n",
    "a:\n  b: 1\n c: 2\n",
    "a:\n    b: 1\n  c: 2\n",
    "a: [b]c\n",
    "a: [b] # c\n",
    "a: {b: [c, {d: [e, {f: g}]}]}\n",
    "a: 1\n...\n",
    "a: 1\n--- \n",
    "<<: {a: 1}\n",
    "~: 1\n",
    "a: '''quoted'''\n",
    "a: 'x''\n",
    "a: \"x\n",
    "a: [\"x\"y]\n",
    "a: %x\n",
    "a: x%\n",
    "a: ?x\n",
    "a: ? x\n",
    "a: :x\n",
    "a: x:\n",
    "a:x\n",
    "a : x\n",
    "a  :  x  \n",
    "a: 1.5e3\nb: 1e\nc: 0x1F\nd: 0o7\ne: +1\n",
    "a: .inf\n",
    "a: [.5, -.5, 5.]\n",
];

/// Pieces of YAML syntax that mutations insert.
const PIECES: &[&str] = &[
    " ", "  ", "\n", "\n  ", "\n    ", "- ", "-", ":", ": ", "#", " #", "'", "\"", "''", "[", "]",
    "{", "}", ",", ", ", "\\", "\\x41", "\\u00e9", "\\n", "x", "0", "-1", "1.5", "0x1F", "~",
    "null", "true", "NO", "&a ", "*a", "!t ", "|", ">", "? ", "%", "---", "...", "\t", "\r", "<<",
    "@", "`", "é", "a: b", "{a: 1}", "[1, 2]", "\n- x", "\n  - y",
];

/// A small deterministic generator (xorshift), so that a failure repeats.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// `text` with one to three random edits: a piece inserted, a character
/// removed or a line duplicated.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut text = text.to_owned();
    for _ in 0..=rng.below(3) {
        let cuts: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let at = cuts[rng.below(cuts.len())];
        match rng.below(3) {
            0 => text.insert_str(at, PIECES[rng.below(PIECES.len())]),
            1 if at < text.len() => {
                let next = cuts
                    .iter()
                    .find(|&&c| c > at)
                    .copied()
                    .unwrap_or(text.len());
                text.replace_range(at..next, "");
            }
            _ => {
                let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
                let line = text[start..end].to_owned();
                text.insert_str(start, &line);
            }
        }
    }
    text
}

/// A differential fuzz: mutated configurations and cases, compared.
/// `YAML_MUTATIONS` (rounds) and `YAML_MUTATION_SEED` widen it.
#[test]
fn the_fast_reader_agrees_with_the_others_on_mutated_files() {
    on_a_big_stack(|| {
        let mut seeds: Vec<String> = all_configs().into_iter().map(|(_, t)| t).collect();
        seeds.extend(DOCUMENTS.iter().map(|(t, _)| (*t).to_owned()));
        seeds.push(bench_shaped(3));
        seeds.push(generated(2));
        let rounds: usize = std::env::var("YAML_MUTATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4000);
        let seed = std::env::var("YAML_MUTATION_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        let mut rng = Rng(seed);
        let mut taken = 0;
        for round in 0..rounds {
            let seed = &seeds[rng.below(seeds.len())];
            let text = mutate(seed, &mut rng);
            taken += usize::from(fast_agrees(&format!("mutation {round}"), &text));
        }
        // Most mutations keep a file the fast reader's.
        assert!(
            taken > rounds / 4,
            "the fast reader took {taken} of {rounds}"
        );
    });
}

#[test]
fn the_fast_reader_declines_a_key_written_twice_so_that_it_is_reported() {
    let wide: String = (0..40).map(|i| format!("  k{i}: {i}\n")).collect();
    for text in [
        "a: 1\nb: 2\na: 3\n".to_owned(),
        "a: {b: 1, b: 2}\n".to_owned(),
        format!("a:\n{wide}  k7: again\n"),
    ] {
        assert!(fast::parse(&text).is_none(), "accepted:\n{text}");
        assert!(matches!(read(&text), Ok((_, false))), "{text}");
    }
    assert!(matches!(read("a: 1\nb: {a: 1}\n"), Ok((_, true))));
    assert!(fast::parse(&format!("a:\n{wide}")).is_some());
}

#[test]
fn the_fast_reader_borrows_plain_and_unescaped_strings() {
    let text = "a: {b: plain, c: 'quoted', d: \"esc\\taped\", e: 'it''s'}\n";
    let root = fast::parse(text).expect("the fast reader answers");
    let inner = assert_borrowed(&root);
    assert!(matches!(&inner[3].1.kind, Kind::Str(Cow::Owned(s)) if s == "it's"));
}
