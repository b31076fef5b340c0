//! Every relative link in the repository's Markdown resolves: the file or directory it names
//! exists, and a `#fragment` into a Markdown file names one of its headings (as GitHub makes
//! anchors of them) or an explicit `<a id>`/`<a name>`. Docs move between the top-level
//! README, `docs/` and the per-directory READMEs; a link left behind fails here. Reads files
//! only: no process, no network (links with a scheme, `https:` and the like, are not followed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bindcar_testbed::envoy::workspace_root;

/// Directories that hold no documentation of ours: build output, installed tools, state.
const SKIPPED_DIRS: [&str; 3] = ["target", "dist", "node_modules"];

fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            // Dot directories are tools' (.git, .venv, .tools, .run): none is ours to check.
            if name.starts_with('.') || SKIPPED_DIRS.contains(&name.as_str()) {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                walk(&path, out);
            } else if name.ends_with(".md") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&workspace_root(), &mut out);
    out.sort();
    out
}

/// The text outside fenced code blocks and inline code spans, line by line (code shows
/// syntax, not links).
fn prose(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match fence {
            Some(f) if trimmed.starts_with(f) => fence = None,
            Some(_) => {}
            None if trimmed.starts_with("```") => fence = Some("```"),
            None if trimmed.starts_with("~~~") => fence = Some("~~~"),
            None => out.push(without_code_spans(line)),
        }
    }
    out
}

/// A line with its `code spans` removed (a span opened by N backticks closes with N).
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].bytes().take_while(|b| *b == b'`').count();
        let after = &rest[start + ticks..];
        let close = "`".repeat(ticks);
        match after.find(&close) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                // An unclosed run is literal text.
                out.push_str(&rest[start..start + ticks]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The targets of inline links `[text](target "title")`, images, and reference
/// definitions `[label]: target` in one line of prose.
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        // Up to the matching `)`: targets may hold balanced parentheses.
        let mut depth = 0usize;
        let mut end = None;
        for (j, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = Some(j);
                    break;
                }
                ')' => depth -= 1,
                _ => {}
            }
        }
        let Some(end) = end else { break };
        let inner = after[..end].trim();
        let target = match inner.strip_prefix('<') {
            Some(angled) => angled.split('>').next().unwrap_or_default(),
            None => inner.split_whitespace().next().unwrap_or_default(),
        };
        targets.push(target.to_string());
        rest = &after[end..];
    }
    let trimmed = line.trim_start();
    if let Some(label_end) = trimmed.strip_prefix('[').and_then(|t| t.find("]:")) {
        let target = trimmed[1 + label_end + 2..].split_whitespace().next();
        if let Some(target) = target {
            targets.push(target.trim_matches(['<', '>']).to_string());
        }
    }
    targets
}

/// `https:`, `mailto:`, `oci:` ...: not a path in this repository.
fn has_scheme(target: &str) -> bool {
    let Some((scheme, _)) = target.split_once(':') else {
        return false;
    };
    !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// GitHub's anchor for a heading: its text without markup, lower case, characters other than
/// letters, digits, `-`, `_` and spaces dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    // A link in a heading contributes its text only.
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        match rest[open..].find("](").map(|k| open + k) {
            Some(mid) => {
                let close = rest[mid..].find(')').map(|k| mid + k);
                let Some(close) = close else { break };
                text.push_str(&rest[..open]);
                text.push_str(&rest[open + 1..mid]);
                rest = &rest[close + 1..];
            }
            None => break,
        }
    }
    text.push_str(rest);
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor a Markdown file offers: its headings' (a repeated one gets `-1`, `-2`, ...,
/// as GitHub numbers them) and explicit `<a id="...">` / `<a name="...">`.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in prose(text) {
        let hashes = line.bytes().take_while(|b| *b == b'#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            let base = slug(line[hashes..].trim());
            let mut anchor = base.clone();
            let mut n = 0;
            while out.contains(&anchor) {
                n += 1;
                anchor = format!("{base}-{n}");
            }
            out.insert(anchor);
        }
        for attr in ["id=\"", "name=\""] {
            let mut rest = line.as_str();
            while let Some(i) = rest.find(attr) {
                let value = &rest[i + attr.len()..];
                if let Some(end) = value.find('"') {
                    out.insert(value[..end].to_string());
                }
                rest = &rest[i + attr.len()..];
            }
        }
    }
    out
}

/// What is wrong with one link of `file`, if anything.
fn check(file: &Path, target: &str) -> Option<String> {
    if target.is_empty() || has_scheme(target) {
        return None;
    }
    let (path, fragment) = match target.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (target, None),
    };
    let resolved = if path.is_empty() {
        file.to_path_buf()
    } else if let Some(absolute) = path.strip_prefix('/') {
        workspace_root().join(absolute)
    } else {
        file.parent().unwrap().join(path)
    };
    if !resolved.exists() {
        return Some(format!("{target}: {} does not exist", resolved.display()));
    }
    let fragment = fragment.filter(|f| !f.is_empty())?;
    if resolved.extension().is_some_and(|e| e == "md") {
        let text = std::fs::read_to_string(&resolved).unwrap();
        if !anchors(&text).contains(fragment) {
            return Some(format!(
                "{target}: {} has no heading with the anchor #{fragment}",
                resolved.display()
            ));
        }
    }
    None
}

#[test]
fn every_relative_link_in_the_markdown_resolves() {
    let root = workspace_root();
    let files = markdown_files();
    assert!(
        files.iter().any(|f| f.ends_with("docs/configuration.md"))
            && files.iter().any(|f| f.ends_with("backend/README.md")),
        "the walk missed the docs: {files:?}"
    );
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for line in prose(&text) {
            for target in link_targets(&line) {
                checked += 1;
                if let Some(problem) = check(file, &target) {
                    let shown = file.strip_prefix(&root).unwrap_or(file);
                    broken.push(format!("{}: {problem}", shown.display()));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_sees_what_it_claims_to() {
    // Links, images, titles, angle brackets, parentheses inside the target; not code.
    assert_eq!(
        link_targets("see [a](x.md), ![img](i.png \"t\") and [b](<y z.md>)"),
        ["x.md", "i.png", "y z.md"]
    );
    assert_eq!(link_targets("[f(x)](f_(x).md)"), ["f_(x).md"]);
    assert_eq!(link_targets("[ref]: ../r.md \"title\""), ["../r.md"]);
    assert_eq!(prose("`[a](gone.md)` and ``[b](`x`)``"), [" and "]);
    assert!(prose("```\n[a](gone.md)\n```\n").is_empty());
    // GitHub's anchors.
    assert_eq!(
        slug("API reference (Swagger UI)"),
        "api-reference-swagger-ui"
    );
    assert_eq!(
        slug("Backend: environment variables"),
        "backend-environment-variables"
    );
    assert_eq!(slug("`make` and [devstack](x.md)"), "make-and-devstack");
    assert_eq!(
        slug("Part 0's method: why the filter-cost figures disagreed"),
        "part-0s-method-why-the-filter-cost-figures-disagreed"
    );
    let a = anchors("# Title\n## Tests\n## Tests\n<a id=\"here\"></a>\n```\n# not\n```\n");
    assert_eq!(
        a,
        ["here", "tests", "tests-1", "title"]
            .map(String::from)
            .into()
    );
    // Schemes are not paths; a missing file and a missing anchor are reported.
    assert!(has_scheme("https://x") && has_scheme("mailto:a@b") && !has_scheme("a/b.md"));
    let readme = workspace_root().join("README.md");
    assert!(check(&readme, "no-such-file.md").is_some());
    assert!(check(&readme, "docs/configuration.md#no-such-heading").is_some());
    assert!(check(
        &readme,
        "docs/configuration.md#backend-environment-variables"
    )
    .is_none());
}
