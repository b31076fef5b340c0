//! The configuration references cannot drift from the code: the table of the backend's
//! environment variables lists exactly the variables the backend reads, and the table of the
//! filter's plugin configuration lists exactly the keys its parser takes.
//!
//! Both sets come from the code itself, not from a copy: the variables from the backend's
//! command-line definition (clap's `env` of every argument, via `Cli::command()`) plus the two
//! read by libraries (`RUST_LOG`, `KUBECONFIG`); the plugin keys from the parser's own refusal
//! of an unknown key at each level (serde's "expected one of ..."). A variable or key added to
//! the code without its row, or a row left behind by a removed one, fails here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use bindcar::config::Cli;
use bindcar_policy::config::FilterConfig;
use bindcar_testbed::envoy::workspace_root;
use clap::CommandFactory;

/// Where each reference lives: (file, the heading of its section).
const ENV_REFERENCE: (&str, &str) = ("backend/README.md", "## Environment");
const PLUGIN_REFERENCE: (&str, &str) = ("README.md", "## Plugin configuration");

/// Read by libraries rather than through the command line (tracing's filter, kube's config).
const LIBRARY_VARIABLES: [&str; 2] = ["RUST_LOG", "KUBECONFIG"];

/// The first cell of every row of the first table under `heading` in `file`.
fn first_cells((file, heading): (&str, &str)) -> Vec<String> {
    let text = std::fs::read_to_string(workspace_root().join(file)).unwrap();
    let section = text
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("{file} has no section {heading:?}"))
        .1;
    let rows: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // the header and its rule
        .collect();
    assert!(!rows.is_empty(), "{file} {heading}: no table");
    rows.iter()
        .map(|r| r.split('|').nth(1).unwrap().trim().to_string())
        .collect()
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
