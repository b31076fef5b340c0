//! Whether a built artifact is older than what it is built from: an end-to-end test run on a
//! stale `dist/bindcar_auth_filter.wasm` or `target/debug/bindcar` would prove something about
//! code that is no longer there. Such a run fails, saying what to rebuild. What an artifact is
//! built from is cargo's own record of it (the `.d` dep-info file next to the build output),
//! so a change to a test file never counts, and every source that is compiled in does.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The source files listed in a cargo dep-info file (`target: a.rs b\ c.rs …`).
pub fn sources(depinfo: &str) -> Vec<PathBuf> {
    let Some(line) = depinfo.lines().next() else {
        return Vec::new();
    };
    let Some((_, deps)) = line.split_once(": ") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = deps.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ' ' => {
                if !current.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut current)));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(PathBuf::from(current));
    }
    out
}

/// Fails when `artifact` is older than a source its build record `depinfo` lists (or there is
/// no record), naming the file and `rebuild`.
pub fn ensure_fresh(artifact: &Path, depinfo: &Path, rebuild: &str) -> Result<()> {
    let built = std::fs::metadata(artifact)?.modified()?;
    let record = std::fs::read_to_string(depinfo).with_context(|| {
        format!(
            "cannot tell whether {} is current (no build record at {}): run `{rebuild}`",
            artifact.display(),
            depinfo.display()
        )
    })?;
    let newest = sources(&record)
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max_by_key(|(t, _)| *t);
    if let Some((_, file)) = newest.filter(|(t, _)| *t > built) {
        bail!(
            "{} is older than {}, changed since it was built: run `{rebuild}` (or set the \
             override variable to test another build on purpose)",
            artifact.display(),
            file.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::time::{Duration, SystemTime};

    fn touch(p: &Path, t: SystemTime) {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    #[test]
    fn dep_info_paths_with_escaped_spaces() {
        assert_eq!(
            sources("/t/a.wasm: /s/a.rs /s/my\\ dir/b.rs\n/s/a.rs:\n"),
            [PathBuf::from("/s/a.rs"), PathBuf::from("/s/my dir/b.rs")]
        );
        assert!(sources("").is_empty());
    }

    #[test]
    fn an_artifact_older_than_a_source_it_lists_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (artifact, source, record) = (
            dir.path().join("module.wasm"),
            dir.path().join("lib.rs"),
            dir.path().join("module.d"),
        );
        std::fs::write(&artifact, b"built").unwrap();
        std::fs::write(&source, b"fn f() {}").unwrap();
        std::fs::write(
            &record,
            format!("{}: {}\n", artifact.display(), source.display()),
        )
        .unwrap();
        let now = SystemTime::now();
        touch(&artifact, now - Duration::from_secs(60));
        touch(&source, now);
        let e = ensure_fresh(&artifact, &record, "make wasm")
            .unwrap_err()
            .to_string();
        assert!(e.contains("is older than") && e.contains("lib.rs"), "{e}");
        assert!(e.contains("make wasm"), "{e}");
        touch(&artifact, now + Duration::from_secs(1));
        ensure_fresh(&artifact, &record, "make wasm").unwrap();
        let e = ensure_fresh(&artifact, &dir.path().join("none.d"), "make wasm").unwrap_err();
        assert!(e.to_string().contains("no build record"), "{e}");
    }
}
