//! The layering of `src/`, checked from the source text: which top-level module imports which
//! (`crate::<module>`), and which file of a folder imports which sibling (`super::<file>`,
//! `crate::<folder>::<file>`). Fails if `zones` imports `http`, if `bind` imports `zones`, `http`
//! or `auth`, if `catalog` imports anything but `bind`, if `tls` imports anything but `config`
//! and `serve`, if `serve` (the listener) imports what it carries, or if either graph has a
//! cycle. `mod.rs`
//! files only declare and re-export, so they are left out of the file graphs; lines that are
//! comments are skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first path segment after each `prefix` (`crate::`, `super::`, `crate::zones::`), with
/// `{a, b as c, d::e}` groups expanded to `a`, `b`, `d`.
fn segments_after(text: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            // `super::` must not match inside `super::super::`-less longer words
            let before = &rest[..at];
            rest = &rest[at + prefix.len()..];
            if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                found.extend(group[..end].split(',').map(ident));
            } else {
                found.push(ident(rest));
            }
        }
    }
    found.into_iter().filter(|s| !s.is_empty()).collect()
}

fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

struct Source {
    /// `http` for `src/http/zones.rs`, `metrics` for `src/metrics.rs`.
    module: String,
    /// `zones` for `src/http/zones.rs`; `None` for top-level files.
    file: Option<String>,
    text: String,
}

fn sources() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(&src).unwrap();
            let parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            let text = fs::read_to_string(&path).unwrap();
            match parts.as_slice() {
                [root] if root == "lib" || root == "main" => None,
                [module] => Some(Source {
                    module: module.clone(),
                    file: None,
                    text,
                }),
                [module, file, ..] => Some(Source {
                    module: module.clone(),
                    file: Some(file.clone()),
                    text,
                }),
                [] => None,
            }
        })
        .collect()
}

fn module_graph(sources: &[Source]) -> Graph {
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    let mut graph = Graph::new();
    for source in sources {
        let edges = graph.entry(source.module.clone()).or_default();
        for target in segments_after(&source.text, "crate::") {
            if target != source.module && modules.contains(&target) {
                edges.insert(target);
            }
        }
    }
    graph
}

#[test]
fn imports_point_one_way() {
    let graph = module_graph(&sources());
    let imports = |from: &str, to: &str| graph.get(from).is_some_and(|e| e.contains(to));
    // the scan sees real imports (else every check below would pass vacuously)
    assert!(
        imports("http", "zones") && imports("zones", "bind"),
        "{graph:?}"
    );
    assert!(!imports("zones", "http"), "zones imports http: {graph:?}");
    for upper in ["zones", "http", "auth"] {
        assert!(!imports("bind", upper), "bind imports {upper}: {graph:?}");
    }
    // The catalog is domain: the zone operations use it, it knows only named's vocabulary.
    assert!(
        imports("zones", "catalog") && imports("catalog", "bind"),
        "{graph:?}"
    );
    for other in [
        "zones",
        "http",
        "auth",
        "config",
        "server",
        "tls",
        "rate_limit",
    ] {
        assert!(
            !imports("catalog", other),
            "catalog imports {other}: {graph:?}"
        );
    }
    assert!(
        graph.get("metrics").is_none_or(BTreeSet::is_empty),
        "metrics is a leaf: {graph:?}"
    );
    // The transport knows its configuration and nothing of what it carries.
    assert!(
        imports("server", "tls") && imports("tls", "config"),
        "{graph:?}"
    );
    for upper in ["http", "auth", "zones", "bind", "server"] {
        assert!(!imports("tls", upper), "tls imports {upper}: {graph:?}");
    }
    // The listener serves any router over any transport (plain TCP, `tls`).
    assert!(
        imports("server", "serve") && imports("tls", "serve"),
        "{graph:?}"
    );
    for upper in ["http", "auth", "zones", "bind", "server", "tls"] {
        assert!(!imports("serve", upper), "serve imports {upper}: {graph:?}");
    }
    assert_eq!(find_cycle(&graph), None, "{graph:?}");
}

#[test]
fn files_of_a_folder_import_each_other_without_cycles() {
    let sources = sources();
    let mut folders: BTreeMap<String, Graph> = BTreeMap::new();
    let siblings: BTreeMap<String, BTreeSet<String>> =
        sources.iter().fold(BTreeMap::new(), |mut acc, s| {
            if let Some(file) = &s.file {
                acc.entry(s.module.clone())
                    .or_default()
                    .insert(file.clone());
            }
            acc
        });
    for source in &sources {
        let Some(file) = source.file.as_deref().filter(|f| *f != "mod") else {
            continue;
        };
        let names = &siblings[&source.module];
        let graph = folders.entry(source.module.clone()).or_default();
        let edges = graph.entry(file.to_string()).or_default();
        let mut targets = segments_after(&source.text, "super::");
        targets.extend(segments_after(
            &source.text,
            &format!("crate::{}::", source.module),
        ));
        for target in targets {
            if target != file && target != "mod" && names.contains(&target) {
                edges.insert(target);
            }
        }
    }
    assert!(
        folders["zones"]["create"].contains("service"),
        "{folders:?}"
    );
    for (folder, graph) in &folders {
        assert_eq!(find_cycle(graph), None, "{folder}: {graph:?}");
    }
}

#[test]
fn the_scanner_reads_groups_and_skips_comments() {
    let text = "use crate::{bind::X, zones as z};\n// crate::http\nlet a = crate::metrics::M;";
    assert_eq!(
        segments_after(text, "crate::"),
        ["bind", "zones", "metrics"]
    );
    let cycle: Graph = [("a", "b"), ("b", "a")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), BTreeSet::from([b.to_string()])))
        .collect();
    assert!(find_cycle(&cycle).is_some());
}
