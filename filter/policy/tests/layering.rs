//! The module graphs of the policy crate (`src/`) and the filter glue (`../src/`) have no
//! cycles: every `crate::<module>` a file names is an edge, and a cycle fails the test with
//! the modules on it. A `crate::<item>` that is not a module (a re-export at the crate root)
//! counts as an edge to `lib`. Reads the sources, so native only.
#![cfg(not(target_family = "wasm"))]
// A test file: its helpers may fail loudly.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn graph(dir: &Path) -> Graph {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            files.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    assert!(files.contains_key("lib"), "{} has no lib.rs", dir.display());
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(name, text)| {
            let edges = crate_paths(text)
                .into_iter()
                .map(|m| {
                    if modules.contains(&m) {
                        m
                    } else {
                        "lib".into()
                    }
                })
                .filter(|m| m != name)
                .collect();
            (name.clone(), edges)
        })
        .collect()
}

/// The first segment after every `crate::` in code (comments stripped), groups expanded:
/// `use crate::{a::X, b};` names `a` and `b`.
fn crate_paths(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let preceded_by_ident = rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[i + "crate::".len()..];
        if preceded_by_ident {
            continue; // e.g. `bindcar_policy::...` never matches, but `foocrate::` would
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain([',']) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

/// A cycle as the list of modules on it, if there is one.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        g: &Graph,
        n: &str,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(g, m, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(g, n, &mut Vec::new(), &mut done))
}

fn assert_acyclic(dir: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let g = graph(&dir);
    if let Some(cycle) = find_cycle(&g) {
        panic!("import cycle in {}: {}", dir.display(), cycle.join(" -> "));
    }
}

#[test]
fn the_policy_crate_has_no_import_cycle() {
    assert_acyclic("src");
}

#[test]
fn the_filter_glue_has_no_import_cycle() {
    assert_acyclic("../src");
}

#[test]
fn the_checker_sees_imports_and_cycles() {
    let found = crate_paths(
        "use crate::a::X;\nuse crate::{b::{Y, Z}, c, self};\nfn f() { crate::d::g(); }\n// crate::e\n",
    );
    assert_eq!(found, ["a", "b", "c", "d"]);
    let g: Graph = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(x, y)| (x.to_string(), BTreeSet::from([y.to_string()])))
        .collect();
    assert_eq!(find_cycle(&g).unwrap(), ["a", "b", "c", "a"]);
    let dag: Graph = [("a", "b"), ("b", "c")]
        .into_iter()
        .map(|(x, y)| (x.to_string(), BTreeSet::from([y.to_string()])))
        .collect();
    assert_eq!(find_cycle(&dag), None);
}
