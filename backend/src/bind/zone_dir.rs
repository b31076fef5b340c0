//! The zone directory (`BIND_ZONE_DIR`): zone files written atomically, and the record of which
//! zones this API manages (one marker per zone under `.bindcar/zones/`). Every path is built
//! from a validated `ZoneName`, so nothing lands outside the directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::zone_name::ZoneName;

/// Suffix of the zone files (bindcar's convention: `<zone>.zone`).
pub(super) const ZONE_SUFFIX: &str = ".zone";
/// Files named keeps next to a zone file, removed with the zone.
pub(super) const COMPANION_SUFFIXES: [&str; 5] = [".jnl", ".jbk", ".signed", ".signed.jnl", ".tmp"];
/// Where the markers live, relative to the zone directory.
const STATE_DIR: &str = ".bindcar/zones";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What this API remembers about a zone it created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    pub zone_name: String,
    pub zone_type: String,
    pub created_at: u64,
}

#[derive(Debug, Clone)]
pub struct ZoneDir {
    pub(super) root: PathBuf,
    pub(super) state: PathBuf,
}

impl ZoneDir {
    /// Opens the directory once at startup: it must exist, be a directory, and its canonical
    /// path must be safe to quote in an rndc command (it goes into `file "..."`).
    pub fn open(path: &Path) -> Result<ZoneDir, String> {
        let root = fs::canonicalize(path).map_err(|e| {
            format!(
                "BIND_ZONE_DIR {}: {e} (it must be an existing directory that named can read)",
                path.display()
            )
        })?;
        if !root.is_dir() {
            return Err(format!(
                "BIND_ZONE_DIR {} is not a directory",
                root.display()
            ));
        }
        let text = root.to_string_lossy();
        if text
            .chars()
            .any(|c| c.is_control() || matches!(c, '"' | '\\' | ';' | '{' | '}'))
        {
            return Err(format!(
                "BIND_ZONE_DIR {} contains a character that cannot be quoted in a named.conf string",
                root.display()
            ));
        }
        let state = root.join(STATE_DIR);
        fs::create_dir_all(&state).map_err(|e| {
            format!(
                "cannot create {}: {e} (BIND_ZONE_DIR must be writable)",
                state.display()
            )
        })?;
        Ok(ZoneDir { root, state })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<dir>/<zone>.zone`.
    pub fn zone_file(&self, zone: &ZoneName) -> PathBuf {
        self.root.join(format!("{zone}{ZONE_SUFFIX}"))
    }

    pub(super) fn marker_file(&self, zone: &ZoneName) -> PathBuf {
        self.state.join(format!("{zone}.json"))
    }

    /// Writes the zone file through a temporary file and a rename, so named never sees a
    /// half-written file and a crash leaves either the old file or the new one.
    pub async fn write_zone_file(&self, zone: &ZoneName, content: String) -> io::Result<PathBuf> {
        let target = self.zone_file(zone);
        let dir = self.root.clone();
        let path = target.clone();
        blocking(move || write_atomically(&dir, &path, content.as_bytes(), 0o644)).await?;
        Ok(target)
    }

    /// Removes the zone file and what named keeps next to it (journal, signed copies).
    pub async fn remove_zone_files(&self, zone: &ZoneName) -> io::Result<()> {
        let base = self.zone_file(zone);
        blocking(move || {
            remove_if_present(&base)?;
            for suffix in COMPANION_SUFFIXES {
                let mut companion = base.clone().into_os_string();
                companion.push(suffix);
                remove_if_present(Path::new(&companion))?;
            }
            Ok(())
        })
        .await
    }

    pub async fn write_marker(&self, zone: &ZoneName, marker: &Marker) -> io::Result<()> {
        let content = serde_json::to_vec_pretty(marker).map_err(io::Error::other)?;
        let (root, dir) = (self.root.clone(), self.state.clone());
        let path = self.marker_file(zone);
        blocking(move || {
            ensure_state_dir(&root, &dir)?;
            write_atomically(&dir, &path, &content, 0o644)
        })
        .await
    }

    pub async fn remove_marker(&self, zone: &ZoneName) -> io::Result<()> {
        let path = self.marker_file(zone);
        blocking(move || remove_if_present(&path)).await
    }

    pub async fn has_marker(&self, zone: &ZoneName) -> bool {
        tokio::fs::try_exists(self.marker_file(zone))
            .await
            .unwrap_or(false)
    }

    /// Zones this API may manage: those with a marker, plus `<zone>.zone` files (zones created
    /// by bindcar before this service took over). Callers confirm each one with BIND.
    pub async fn candidates(&self) -> io::Result<Vec<(ZoneName, bool)>> {
        let root = self.root.clone();
        let state = self.state.clone();
        blocking(move || {
            let mut found = std::collections::BTreeMap::new();
            for entry in fs::read_dir(&root)? {
                let name = entry?.file_name();
                let name = name.to_string_lossy();
                if let Some(stem) = name.strip_suffix(ZONE_SUFFIX) {
                    // Only names already in normal form: `Example.test.zone` is not ours.
                    if let Ok(zone) = ZoneName::parse(stem) {
                        if zone.as_str() == stem {
                            found.entry(zone).or_insert(false);
                        }
                    }
                }
            }
            let markers = match fs::read_dir(&state) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Ok(found.into_iter().collect())
                }
                other => other?,
            };
            for entry in markers {
                let name = entry?.file_name();
                let name = name.to_string_lossy();
                if let Some(zone) = name.strip_suffix(".json") {
                    if let Ok(zone) = ZoneName::parse(zone) {
                        found.insert(zone, true);
                    }
                }
            }
            Ok(found.into_iter().collect())
        })
        .await
    }

    /// Readiness: the directory is there and we can create (and remove) a file in it.
    pub async fn probe(&self) -> Result<(), String> {
        let (root, state) = (self.root.clone(), self.state.clone());
        blocking(move || {
            ensure_state_dir(&root, &state)?;
            let probe = state.join(format!(".probe-{}", unique_suffix()));
            File::create(&probe)?;
            fs::remove_file(&probe)
        })
        .await
        .map_err(|e| e.to_string())
    }
}

/// Recreates the state directory if needed, but never the zone directory itself: a vanished
/// zone directory is an error to report, not something to paper over.
pub(super) fn ensure_state_dir(root: &Path, state: &Path) -> io::Result<()> {
    if !root.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("zone directory {} is gone", root.display()),
        ));
    }
    fs::create_dir_all(state)
}

pub(super) fn write_atomically(
    dir: &Path,
    target: &Path,
    content: &[u8],
    mode: u32,
) -> io::Result<()> {
    // The temporary name does not embed the target's: a long zone name must not push it
    // past the file-name limit.
    let temp = dir.join(format!(".tmp-{}", unique_suffix()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(content)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&temp, target)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

pub(super) fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

pub(super) fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{nanos}-{n}", std::process::id())
}

pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)?
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bindcar-zone-dir-{}", unique_suffix()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn writes_atomically_and_lists_candidates() {
        let path = scratch();
        let dir = ZoneDir::open(&path).unwrap();
        let zone = ZoneName::parse("Example.TEST.").unwrap();
        let written = dir
            .write_zone_file(&zone, "content\n".into())
            .await
            .unwrap();
        assert_eq!(written, dir.root().join("example.test.zone"));
        assert_eq!(fs::read_to_string(&written).unwrap(), "content\n");
        let mode = fs::metadata(&written).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        // no temporary file is left behind
        let names: Vec<_> = fs::read_dir(dir.root())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}"); // the zone file and .bindcar
        let other = ZoneName::parse("sec.test").unwrap();
        dir.write_marker(
            &other,
            &Marker {
                zone_name: "sec.test".into(),
                zone_type: "secondary".into(),
                created_at: 1,
            },
        )
        .await
        .unwrap();
        let candidates = dir.candidates().await.unwrap();
        assert_eq!(
            candidates,
            vec![(zone.clone(), false), (other.clone(), true)]
        );
        dir.remove_zone_files(&zone).await.unwrap();
        dir.remove_marker(&other).await.unwrap();
        assert!(dir.candidates().await.unwrap().is_empty());
        dir.probe().await.unwrap();
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn refuses_a_directory_that_cannot_be_quoted() {
        let path = scratch().join("we\"ird");
        fs::create_dir_all(&path).unwrap();
        assert!(ZoneDir::open(&path).is_err());
        assert!(ZoneDir::open(Path::new("/nonexistent/bindcar")).is_err());
    }
}
