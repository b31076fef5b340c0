//! The zone directory (`BIND_ZONE_DIR`): zone files, and the record of which zones this API
//! manages (one marker per zone, `.bindcar/zones/<zone>.zone`: for a primary, a hard link to
//! the zone file as the create wrote it; for a secondary, an empty file). Every path is built
//! from a validated `ZoneName`, so nothing lands outside the directory. Writing: `zone_claim`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::dir_sync::DirSync;
use super::zone_name::ZoneName;

/// Suffix of the zone files (bindcar's convention: `<zone>.zone`).
pub(super) const ZONE_SUFFIX: &str = ".zone";
/// Files named keeps next to a zone file, removed with the zone.
pub(super) const COMPANION_SUFFIXES: [&str; 5] = [".jnl", ".jbk", ".signed", ".signed.jnl", ".tmp"];
/// Where the markers live, relative to the zone directory.
const STATE_DIR: &str = ".bindcar/zones";
/// Where a deleted zone's marker goes (a tombstone): named answers `delzone` before its
/// new-zone database forgets the zone, so a named killed right after can bring the zone back;
/// the tombstone tells the reconciliation to delete it again (`zones::reconcile`).
const TOMBSTONE_DIR: &str = ".bindcar/deleted";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What the zone directory holds for a zone (`candidates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// `<zone>.zone` without a marker: a zone of the reference bindcar, if BIND says so.
    FileOnly,
    /// A marker, with the zone file (or a secondary's, which has none).
    Marked,
    /// A primary's marker whose `<zone>.zone` is gone: `relink` restores it.
    Unlinked,
    /// A marker and zone file (one inode) with no content: a create whose content a power
    /// loss took before it was synced, so never acknowledged.
    Empty,
}

impl Found {
    pub fn marked(self) -> bool {
        self != Found::FileOnly
    }
}

#[derive(Debug, Clone)]
pub struct ZoneDir {
    pub(super) root: PathBuf,
    pub(super) state: PathBuf,
    pub(super) tombstones: PathBuf,
    /// fsyncs of the zone directory, shared by concurrent creates.
    pub(super) root_sync: Arc<DirSync>,
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
        upgrade_markers(&state)
            .map_err(|e| format!("upgrading the markers in {}: {e}", state.display()))?;
        let tombstones = root.join(TOMBSTONE_DIR);
        fs::create_dir_all(&tombstones)
            .map_err(|e| format!("cannot create {}: {e}", tombstones.display()))?;
        Ok(ZoneDir {
            root_sync: Arc::new(DirSync::new(root.clone())),
            root,
            state,
            tombstones,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<dir>/<zone>.zone`.
    pub fn zone_file(&self, zone: &ZoneName) -> PathBuf {
        self.root.join(format!("{zone}{ZONE_SUFFIX}"))
    }

    pub(super) fn marker_file(&self, zone: &ZoneName) -> PathBuf {
        self.state.join(format!("{zone}{ZONE_SUFFIX}"))
    }

    /// Removes the zone's marker and, with `zone_files`, its zone file and what named keeps
    /// next to it (journal, signed copies), in one trip to the blocking pool.
    pub async fn remove(&self, zone: &ZoneName, zone_files: bool) -> io::Result<()> {
        self.remove_files(zone, zone_files, None).await
    }

    /// The same after a `delzone` named acknowledged: the marker becomes the zone's tombstone
    /// (one rename instead of the unlink), kept until the reconciliation has seen BIND
    /// without the zone for a while.
    pub async fn retire(&self, zone: &ZoneName, zone_files: bool) -> io::Result<()> {
        let tombstone = self.tombstones.join(zone.as_str());
        self.remove_files(zone, zone_files, Some(tombstone)).await
    }

    async fn remove_files(
        &self,
        zone: &ZoneName,
        zone_files: bool,
        tombstone: Option<PathBuf>,
    ) -> io::Result<()> {
        let (base, marker) = (self.zone_file(zone), self.marker_file(zone));
        blocking(move || {
            if zone_files {
                remove_if_present(&base)?;
                for suffix in COMPANION_SUFFIXES {
                    let mut companion = base.clone().into_os_string();
                    companion.push(suffix);
                    remove_if_present(Path::new(&companion))?;
                }
            }
            // The marker goes last: until then the reconciliation knows the rest was ours.
            fail::fail_point!("delete.after_files");
            if let Some(tombstone) = tombstone {
                match fs::rename(&marker, &tombstone) {
                    Ok(()) => return Ok(()),
                    // no marker (a zone of the reference bindcar): a tombstone of its own
                    Err(e) if e.kind() == io::ErrorKind::NotFound && !marker.exists() => {
                        return File::create(&tombstone).map(drop)
                    }
                    // the tombstone directory removed by hand: no tombstone
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            remove_if_present(&marker)
        })
        .await
    }

    /// The tombstones of deleted zones, with their age.
    pub async fn tombstones(&self) -> io::Result<Vec<(ZoneName, Duration)>> {
        let dir = self.tombstones.clone();
        blocking(move || {
            let entries = match fs::read_dir(&dir) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                other => other?,
            };
            let mut found = Vec::new();
            for entry in entries {
                let entry = entry?;
                let Some(zone) = entry
                    .file_name()
                    .to_str()
                    .and_then(|z| ZoneName::parse(z).ok())
                else {
                    continue;
                };
                let age = entry
                    .metadata()?
                    .modified()
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .unwrap_or_default();
                found.push((zone, age));
            }
            Ok(found)
        })
        .await
    }

    /// Removes a zone's tombstone (the reconciliation saw BIND without the zone long enough,
    /// or the zone was created again).
    pub async fn bury(&self, zone: &ZoneName) -> io::Result<()> {
        let tombstone = self.tombstones.join(zone.as_str());
        blocking(move || remove_if_present(&tombstone)).await
    }

    /// Whether the zone has a marker. One `stat` of a name the kernel keeps cached, made in
    /// place: a trip to the blocking pool costs more than the call.
    pub fn has_marker(&self, zone: &ZoneName) -> bool {
        fs::symlink_metadata(self.marker_file(zone)).is_ok()
    }

    /// Zones this API may manage: those with a marker, plus `<zone>.zone` files (zones created
    /// by bindcar before this service took over). Callers confirm each one with BIND.
    pub async fn candidates(&self) -> io::Result<Vec<(ZoneName, Found)>> {
        let root = self.root.clone();
        let state = self.state.clone();
        blocking(move || {
            use std::os::unix::fs::DirEntryExt;
            let mut found = std::collections::BTreeMap::new();
            // each zone file's inode: a marker linked to it is the same file
            let mut inodes = std::collections::HashMap::new();
            for entry in fs::read_dir(&root)? {
                let entry = entry?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if let Some(stem) = name.strip_suffix(ZONE_SUFFIX) {
                    // Only names already in normal form: `Example.test.zone` is not ours.
                    if let Ok(zone) = ZoneName::parse(stem) {
                        if zone.as_str() == stem {
                            inodes.insert(zone.clone(), entry.ino());
                            found.insert(zone, Found::FileOnly);
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
                let entry = entry?;
                let name = entry.file_name();
                let Some(zone) = name
                    .to_string_lossy()
                    .strip_suffix(ZONE_SUFFIX)
                    .and_then(|z| ZoneName::parse(z).ok())
                else {
                    continue;
                };
                // A marker with content is a primary's: its zone file should be there too. An
                // empty one is a secondary's, unless it is linked to a zone file: then that
                // primary's content never reached the disk.
                let empty = entry.metadata()?.len() == 0;
                let linked = inodes.get(&zone) == Some(&entry.ino());
                let mark = match (found.contains_key(&zone), empty) {
                    (true, true) if linked => Found::Empty,
                    (true, _) | (false, true) => Found::Marked,
                    (false, false) => Found::Unlinked,
                };
                found.insert(zone, mark);
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

/// Markers of earlier versions (`<zone>.json`, JSON) become markers of this one: an empty
/// `<zone>.zone` says "ours" as before (the zone file, if any, stays where it is). Returns how
/// many were upgraded.
fn upgrade_markers(state: &Path) -> io::Result<usize> {
    let mut upgraded = 0;
    for entry in fs::read_dir(state)? {
        let path = entry?.path();
        let Some(zone) = path
            .file_name()
            .and_then(|n| n.to_str()?.strip_suffix(".json"))
            .and_then(|z| ZoneName::parse(z).ok())
        else {
            continue;
        };
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(state.join(format!("{zone}{ZONE_SUFFIX}")))
        {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        File::open(state)?.sync_all()?;
        fs::remove_file(&path)?;
        upgraded += 1;
    }
    Ok(upgraded)
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
    async fn lists_candidates_and_removes_files() {
        let path = scratch();
        let dir = ZoneDir::open(&path).unwrap();
        // a zone file of the reference bindcar (no marker) and a secondary created here
        let zone = ZoneName::parse("Example.TEST.").unwrap();
        fs::write(dir.zone_file(&zone), "content\n").unwrap();
        assert_eq!(dir.zone_file(&zone), dir.root().join("example.test.zone"));
        fs::write(path.join("example.test.zone.jnl"), "journal").unwrap();
        let other = ZoneName::parse("sec.test").unwrap();
        dir.claim(&other, None).await.unwrap();
        assert!(dir.has_marker(&other));
        assert!(!dir.zone_file_exists(&other).await);
        // not candidates: a name not in normal form, a file with another suffix
        fs::write(path.join("Upper.test.zone"), "").unwrap();
        fs::write(path.join("notes.txt"), "").unwrap();
        let candidates = dir.candidates().await.unwrap();
        assert_eq!(
            candidates,
            vec![
                (zone.clone(), Found::FileOnly),
                (other.clone(), Found::Marked)
            ]
        );
        dir.remove(&zone, true).await.unwrap();
        assert!(!path.join("example.test.zone.jnl").exists());
        dir.remove(&other, false).await.unwrap();
        assert!(dir.candidates().await.unwrap().is_empty());
        dir.probe().await.unwrap();
        fs::remove_dir_all(path).unwrap();
    }

    #[tokio::test]
    async fn markers_of_earlier_versions_are_upgraded_at_open() {
        let path = scratch();
        let state = path.join(STATE_DIR);
        fs::create_dir_all(&state).unwrap();
        fs::write(state.join("sec.test.json"), r#"{"zoneName":"sec.test"}"#).unwrap();
        fs::write(state.join("a..b.json"), "not a zone name").unwrap();
        let dir = ZoneDir::open(&path).unwrap();
        let sec = ZoneName::parse("sec.test").unwrap();
        assert!(dir.has_marker(&sec));
        assert!(!state.join("sec.test.json").exists());
        assert_eq!(dir.candidates().await.unwrap(), vec![(sec, Found::Marked)]);
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
