//! The configuration reference (`docs/configuration.md`) cannot drift from the code: the table
//! of the backend's environment variables lists exactly the variables the backend reads, the
//! table of the filter's plugin configuration exactly the keys its parser takes, and the table
//! of make and devstack variables exactly the variables the Makefile, the scripts and the
//! programs `make run`, `make test` and `make bench` start read. The migration guide's table of
//! bindcar 0.9.0's variables claims nothing about them the backend does not do.
//!
//! The sets come from the code itself, not from a copy: the variables from the backend's
//! command-line definition (clap's `env` of every argument, via `Cli::command()`) plus the two
//! read by libraries (`RUST_LOG`, `KUBECONFIG`); the plugin keys from the parser's own refusal
//! of an unknown key at each level (serde's "expected one of ..."); the make and devstack
//! variables from the sources that read them (`?=` in the Makefile, `${X:-` in the scripts,
//! `env::var("X")`, `find_tool(_, "X")` and `artifact("X", ...)` in the Rust). A variable or
//! key added to the code without its row, or a row left behind by a removed one, fails here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use bindcar::config::Cli;
use bindcar_policy::config::FilterConfig;
use bindcar_testbed::envoy::workspace_root;
use clap::CommandFactory;

/// Where each reference lives: (file, the heading of its section).
const ENV_REFERENCE: (&str, &str) = ("docs/configuration.md", "## Backend: environment variables");
const PLUGIN_REFERENCE: (&str, &str) = ("docs/configuration.md", "## Filter: plugin configuration");
const MAKE_REFERENCE: (&str, &str) = ("docs/configuration.md", "## make and devstack variables");
const MIGRATION_VARIABLES: (&str, &str) = (
    "docs/migrating-from-bindcar.md",
    "## Environment variables, one by one",
);

/// Read by libraries rather than through the command line (tracing's filter, kube's config).
const LIBRARY_VARIABLES: [&str; 2] = ["RUST_LOG", "KUBECONFIG"];

/// The cells of every row of the first table under `heading` in `file` (a `\|` inside a cell
/// is part of it).
fn rows((file, heading): (&str, &str)) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(workspace_root().join(file)).unwrap();
    let section = text
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("{file} has no section {heading:?}"))
        .1;
    let rows: Vec<Vec<String>> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // the header and its rule
        .map(|row| {
            row.replace("\\|", "\u{0}")
                .split('|')
                .skip(1)
                .map(|c| c.replace('\u{0}', "|").trim().to_string())
                .collect()
        })
        .collect();
    assert!(!rows.is_empty(), "{file} {heading}: no table");
    rows
}

/// The first cell of every row of the first table under `heading` in `file`.
fn first_cells(reference: (&str, &str)) -> Vec<String> {
    rows(reference).into_iter().map(|r| r[0].clone()).collect()
}

/// Every `code` span of a cell.
fn spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn documented_variables() -> BTreeSet<String> {
    first_cells(ENV_REFERENCE)
        .iter()
        .flat_map(|c| spans(c))
        .filter(|s| {
            s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        })
        .collect()
}

fn variables_in_code() -> BTreeSet<String> {
    Cli::command()
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .chain(LIBRARY_VARIABLES.iter().map(|v| v.to_string()))
        .collect()
}

#[test]
fn the_environment_table_lists_exactly_the_variables_the_backend_reads() {
    let code = variables_in_code();
    let docs = documented_variables();
    assert!(code.len() > 40, "{code:?}");
    let missing: Vec<_> = code.difference(&docs).collect();
    let stale: Vec<_> = docs.difference(&code).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "{} {}: variables the backend reads without a row: {missing:?}; rows for variables it \
         does not read: {stale:?}",
        ENV_REFERENCE.0,
        ENV_REFERENCE.1
    );
}

/// The keys the parser takes in the object at `path`, from its own refusal of an unknown
/// one; `None` when the value at `path` is not an object (the refusal is about its type).
fn keys_at(path: &[&str]) -> Option<Vec<String>> {
    let mut probe = serde_json::json!({"zzUnknownKey": 1});
    for key in path.iter().rev() {
        probe = serde_json::json!({ *key: probe });
    }
    let error = match FilterConfig::from_json(probe.to_string().as_bytes()) {
        Ok(_) => panic!("{probe} accepted"),
        Err(e) => e.0,
    };
    let (_, expected) = error.split_once("unknown field `zzUnknownKey`, expected ")?;
    Some(spans(expected))
}

/// `a.b` for every key of the configuration, and the objects' own names (`throttle`).
fn keys_in_code() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for top in keys_at(&[]).expect("the configuration is an object") {
        if let Some(nested) = keys_at(&[&top]) {
            all.extend(nested.iter().map(|k| format!("{top}.{k}")));
        }
        all.insert(top);
    }
    all
}

/// Every key a row names: `a.b`, and `a.b` / `.c` as `a.b`, `a.c`.
fn documented_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for cell in first_cells(PLUGIN_REFERENCE) {
        let mut parent = String::new();
        for key in spans(&cell) {
            let full = match key.strip_prefix('.') {
                Some(child) => format!("{parent}{child}"),
                None => key.clone(),
            };
            parent = full
                .rsplit_once('.')
                .map(|(p, _)| format!("{p}."))
                .unwrap_or_default();
            keys.insert(full);
        }
    }
    keys
}

#[test]
fn the_plugin_table_lists_exactly_the_keys_the_filter_takes() {
    let code = keys_in_code();
    let docs = documented_keys();
    assert!(
        code.contains("tokenReview.audiences") && code.contains("mode"),
        "{code:?}"
    );
    // An object's own row is optional (`throttle` has one: any of its keys turns it on).
    let objects: BTreeSet<String> = code
        .iter()
        .filter_map(|k| k.split_once('.').map(|(p, _)| p.to_string()))
        .collect();
    let missing: Vec<_> = code
        .iter()
        .filter(|k| !docs.contains(*k) && !objects.contains(*k))
        .collect();
    let stale: Vec<_> = docs.difference(&code).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "{} {}: keys the filter takes without a row: {missing:?}; rows for keys it does not \
         take: {stale:?}",
        PLUGIN_REFERENCE.0,
        PLUGIN_REFERENCE.1
    );
}

#[test]
fn the_extraction_sees_what_it_claims_to() {
    // The probe reads serde's list: a known key is in it, an unknown one is not.
    let top = keys_at(&[]).unwrap();
    assert!(top.contains(&"exemptPaths".to_string()), "{top:?}");
    assert!(!top.contains(&"zzUnknownKey".to_string()));
    assert!(keys_at(&["tokenReview"])
        .unwrap()
        .contains(&"cacheTtlSeconds".to_string()));
    assert_eq!(keys_at(&["mode"]), None, "a string is not an object");
    // A row naming two keys reads as two; a table row without a key is caught.
    let cells = spans("`authorization.cluster` / `.authority`");
    assert_eq!(cells, ["authorization.cluster", ".authority"]);
    assert!(variables_in_code().contains("BIND_ZONE_DIR"));
    assert!(documented_variables().contains("NSUPDATE_PORT"));
}

/// Set by the system or read by cargo, not by us.
const SYSTEM_VARIABLES: [&str; 3] = ["PATH", "HOME", "RUSTFLAGS"];

/// Every file under `dir` (recursively) whose name ends with `suffix`.
fn files_under(dir: &str, suffix: &str) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, suffix: &str, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, suffix, out);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&workspace_root().join(dir), suffix, &mut out);
    out
}

/// The variables the Makefile, the scripts, and the programs the make targets start read: each
/// source with the pattern that reads a variable there (the variable is its first group that
/// matched).
fn make_variables_in_code() -> BTreeSet<String> {
    let root = workspace_root();
    let rust = r#"env::var(?:_os)?\(\s*"([A-Z][A-Z0-9_]*)"|find_tool\(\s*"[^"]*",\s*"([A-Z][A-Z0-9_]*)"|artifact\(\s*"([A-Z][A-Z0-9_]*)""#;
    let shell = r"\$\{([A-Z][A-Z0-9_]*):-";
    let python = r#"os\.environ(?:\.get\(|\[)"([A-Z][A-Z0-9_]*)""#;
    let mut sources: Vec<(std::path::PathBuf, &str)> = vec![
        (root.join("Makefile"), r"(?m)^([A-Z][A-Z0-9_]*) \?="),
        (root.join("tests/fuzz/run.sh"), shell),
        (root.join("bench/run.py"), python),
    ];
    sources.extend(
        files_under("scripts", ".sh")
            .into_iter()
            .map(|p| (p, shell)),
    );
    sources.extend(
        files_under("scripts", ".py")
            .into_iter()
            .map(|p| (p, python)),
    );
    for dir in [
        "tests/testbed/src",
        "tests/devstack/src",
        "bench/driver/src",
    ] {
        sources.extend(files_under(dir, ".rs").into_iter().map(|p| (p, rust)));
    }
    let mut found = BTreeSet::new();
    for (path, pattern) in sources {
        let text = std::fs::read_to_string(&path).unwrap();
        let re = regex::Regex::new(pattern).unwrap();
        for caps in re.captures_iter(&text) {
            let name = caps.iter().skip(1).flatten().next().unwrap().as_str();
            found.insert(name.to_string());
        }
    }
    for system in SYSTEM_VARIABLES {
        found.remove(system);
    }
    found
}

fn documented_make_variables() -> BTreeSet<String> {
    first_cells(MAKE_REFERENCE)
        .iter()
        .flat_map(|c| spans(c))
        .collect()
}

#[test]
fn the_make_table_lists_exactly_the_variables_the_tools_read() {
    let code = make_variables_in_code();
    let docs = documented_make_variables();
    for known in [
        "MODE",
        "DEVSTACK_PORT_OFFSET",
        "ENVOY_BIN",
        "NAMED_BIN",
        "WITH_BENCH",
    ] {
        assert!(
            code.contains(known),
            "{known} not found in the code: {code:?}"
        );
    }
    let missing: Vec<_> = code.difference(&docs).collect();
    let stale: Vec<_> = docs.difference(&code).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "{} {}: variables read without a row: {missing:?}; rows for variables nothing reads: \
         {stale:?}",
        MAKE_REFERENCE.0,
        MAKE_REFERENCE.1
    );
}

/// The migration guide's table: bindcar 0.9.0's variable, then `same` (the backend reads it
/// under that name), `not read` (it does not), or the variables that take its place. Each
/// claim is checked against what the backend reads.
#[test]
fn the_migration_table_claims_only_what_the_backend_reads() {
    let ours = variables_in_code();
    let rows = rows(MIGRATION_VARIABLES);
    let upper = |s: &String| {
        s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    let mut named = 0;
    for row in &rows {
        let theirs: Vec<String> = spans(&row[0]).into_iter().filter(upper).collect();
        assert!(!theirs.is_empty(), "a row without a variable: {row:?}");
        named += theirs.len();
        let here = row[1].as_str();
        match here {
            "same" => {
                for v in &theirs {
                    assert!(ours.contains(v), "{v} is said to be read as is, and is not");
                }
            }
            "not read" => {
                for v in &theirs {
                    assert!(!ours.contains(v), "{v} is said to be ignored, and is read");
                }
            }
            _ => {
                let instead: Vec<String> = spans(here).into_iter().filter(upper).collect();
                assert!(
                    !instead.is_empty(),
                    "{theirs:?}: {here:?} names no variable"
                );
                for v in instead {
                    assert!(
                        ours.contains(&v),
                        "{theirs:?}: {v} is not read by the backend"
                    );
                }
            }
        }
    }
    // bindcar 0.9.0 reads 33 variables itself and two through libraries (RUST_LOG,
    // KUBECONFIG); bindy's sidecar also sets TMPDIR.
    assert!(
        named >= 36,
        "only {named} of bindcar's variables have a row"
    );
}
