//! Claiming a zone's name in the zone directory for a create, so a create can never replace a
//! file it does not own, with one new inode: the zone's content is written to its marker
//! (`.bindcar/zones/<zone>.zone`, created exclusively: the marker says "ours"), the marker's
//! content and name are synced side by side, then the marker is hard-linked to `<zone>.zone`,
//! which fails instead of replacing a file. The zone directory is synced by the caller beside
//! `addzone` (`sync_names`); a name lost to a power loss in between is restored from the
//! marker (`relink`). Also: the longest zone name whose files fit the file-name limit, and the
//! age of a marker (for the orphan sweep).

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::zone_dir::{blocking, ensure_state_dir, remove_if_present, ZoneDir, COMPANION_SUFFIXES};
use super::zone_name::ZoneName;

/// The file-name limit of Linux filesystems (ext4, xfs, tmpfs, overlayfs), in bytes.
const NAME_MAX: usize = 255;
/// The longest suffix a zone's files get: ours (`.zone`) plus named's, the journal of a
/// signed copy being compacted (`.zone.signed.jnl.jnw`); key files (`K<zone>.+013+12345.private`)
/// are as long.
const LONGEST_SUFFIX: &str = ".zone.signed.jnl.jnw";
/// Longest zone name whose files all fit (235 characters).
pub const MAX_ZONE_NAME_FOR_FILES: usize = NAME_MAX - LONGEST_SUFFIX.len();

/// The outcome of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The marker (and, for a primary, the zone file) are in place and durable.
    Claimed,
    /// `<dir>/<zone>.zone` exists and is not this API's: nothing was written.
    FileTaken(PathBuf),
}

/// Whether `zone`'s files fit the file-name limit; the error says why not.
pub fn check_fits(zone: &ZoneName) -> Result<(), String> {
    let len = zone.as_str().len();
    if len > MAX_ZONE_NAME_FOR_FILES {
        return Err(format!(
            "Zone name is {len} characters; at most {MAX_ZONE_NAME_FOR_FILES} are accepted, because \
             its file ({len} + up to {} characters of suffix: '{LONGEST_SUFFIX}') must fit the \
             filesystem's {NAME_MAX}-byte file-name limit",
            LONGEST_SUFFIX.len()
        ));
    }
    Ok(())
}

impl ZoneDir {
    /// Claims `zone` for a create: fails with `FileTaken` (writing nothing that stays) if its
    /// zone file exists; else creates the marker holding `content` (a primary's zone file; a
    /// secondary's marker is empty), syncs it and its name, links it to `<zone>.zone` (never
    /// replacing a file) and removes leftovers named would replay (an old journal). Callers
    /// hold the zone's lock, know there is no marker, and call `sync_names` before they answer.
    ///
    /// The order is what makes a power loss safe: the zone's content and the marker's name
    /// are durable before `<zone>.zone` exists, so a zone file of ours is never left without
    /// its marker, and what named's new-zone database will point at can always be restored
    /// from the marker (`relink`) if its name did not reach the disk.
    pub async fn claim(&self, zone: &ZoneName, content: Option<String>) -> io::Result<Claim> {
        let (root, state, state_sync) = (
            self.root.clone(),
            self.state.clone(),
            self.state_sync.clone(),
        );
        let (target, marker) = (self.zone_file(zone), self.marker_file(zone));
        let runtime = tokio::runtime::Handle::current();
        // One trip to the blocking pool; the marker's name is synced on a second thread while
        // its content is written and synced on this one.
        blocking(move || {
            if fs::symlink_metadata(&target).is_ok() {
                return Ok(Claim::FileTaken(target));
            }
            let create = || {
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&marker)
            };
            let mut file = match create() {
                // the state directory is gone (removed by hand): made again, unless the zone
                // directory itself is gone too
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    ensure_state_dir(&root, &state)?;
                    create()?
                }
                opened => opened?,
            };
            let (sent, name_synced) = std::sync::mpsc::channel();
            runtime.spawn_blocking(move || {
                let _ = sent.send(state_sync.sync());
            });
            let claimed = (|| {
                file.write_all(content.as_deref().unwrap_or_default().as_bytes())?;
                file.set_permissions(fs::Permissions::from_mode(0o644))?;
                file.sync_all()?;
                name_synced.recv().map_err(io::Error::other)??;
                let Some(_) = content else {
                    return Ok(Claim::Claimed);
                };
                match fs::hard_link(&marker, &target) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return Ok(Claim::FileTaken(target.clone()))
                    }
                    Err(e) => return Err(e),
                }
                // The name is ours now: what lies next to it is a leftover of an earlier zone
                // of that name (a journal would be replayed into the new zone).
                let settled = COMPANION_SUFFIXES.iter().try_for_each(|suffix| {
                    let mut companion = target.clone().into_os_string();
                    companion.push(suffix);
                    remove_if_present(Path::new(&companion))
                });
                if let Err(e) = settled {
                    remove_if_present(&target)?;
                    return Err(e);
                }
                Ok(Claim::Claimed)
            })();
            if !matches!(claimed, Ok(Claim::Claimed)) {
                // Refused or failed: nothing of this claim stays.
                remove_if_present(&marker)?;
            }
            claimed
        })
        .await
    }

    /// Makes the names made in the zone directory durable (after `claim`, beside `addzone`).
    pub async fn sync_names(&self) -> io::Result<()> {
        let root_sync = self.root_sync.clone();
        blocking(move || root_sync.sync()).await
    }

    /// Restores `<zone>.zone` from the marker of a primary whose zone file is gone (its name
    /// lost to a power loss between `claim` and `sync_names`, or removed by hand): `false`,
    /// changing nothing, if the name is taken (or the marker gone) meanwhile. Callers hold the zone's lock and
    /// know BIND has the zone.
    pub async fn relink(&self, zone: &ZoneName) -> io::Result<bool> {
        let (target, marker, root_sync) = (
            self.zone_file(zone),
            self.marker_file(zone),
            self.root_sync.clone(),
        );
        blocking(move || match fs::hard_link(&marker, &target) {
            Ok(()) => root_sync.sync().map(|()| true),
            // the name taken, or the zone deleted, meanwhile
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::AlreadyExists | io::ErrorKind::NotFound
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        })
        .await
    }

    /// Whether `<dir>/<zone>.zone` exists (whoever wrote it).
    pub async fn zone_file_exists(&self, zone: &ZoneName) -> bool {
        tokio::fs::symlink_metadata(self.zone_file(zone))
            .await
            .is_ok()
    }

    /// How long ago the zone's marker was written; `None` without a marker.
    pub async fn marker_age(&self, zone: &ZoneName) -> Option<Duration> {
        let modified = tokio::fs::metadata(self.marker_file(zone))
            .await
            .ok()?
            .modified()
            .ok()?;
        Some(
            SystemTime::now()
                .duration_since(modified)
                .unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::super::zone_dir::unique_suffix;
    use super::*;

    #[tokio::test]
    async fn claims_a_free_name_and_never_replaces_a_file() {
        let path = std::env::temp_dir().join(format!("bindcar-claim-{}", unique_suffix()));
        fs::create_dir_all(&path).unwrap();
        let dir = ZoneDir::open(&path).unwrap();
        let zone = ZoneName::parse("ok.test").unwrap();
        fs::write(path.join("ok.test.zone.jnl"), "old journal").unwrap();
        let claim = dir.claim(&zone, Some("ours\n".into())).await.unwrap();
        assert_eq!(claim, Claim::Claimed);
        assert_eq!(fs::read_to_string(dir.zone_file(&zone)).unwrap(), "ours\n");
        assert!(dir.has_marker(&zone));
        assert!(!path.join("ok.test.zone.jnl").exists());
        assert!(dir.marker_age(&zone).await.is_some());
        // one inode: the marker is the zone file as the create wrote it
        use std::os::unix::fs::MetadataExt;
        let (file, marker) = (
            fs::metadata(dir.zone_file(&zone)).unwrap(),
            fs::metadata(dir.marker_file(&zone)).unwrap(),
        );
        assert_eq!((file.ino(), file.nlink()), (marker.ino(), 2));
        assert_eq!(file.mode() & 0o777, 0o644);

        let theirs = ZoneName::parse("theirs.test").unwrap();
        fs::write(dir.zone_file(&theirs), "theirs\n").unwrap();
        let claim = dir.claim(&theirs, Some("ours\n".into())).await.unwrap();
        assert_eq!(claim, Claim::FileTaken(dir.zone_file(&theirs)));
        assert_eq!(
            fs::read_to_string(dir.zone_file(&theirs)).unwrap(),
            "theirs\n"
        );
        assert!(!dir.has_marker(&theirs));
        // nothing else written: the two zone files and .bindcar; one marker
        assert_eq!(fs::read_dir(&path).unwrap().count(), 3);
        assert_eq!(fs::read_dir(&dir.state).unwrap().count(), 1);
        // the state directory removed by hand is made again; a vanished zone directory is an
        // error, and nothing is made in its place
        fs::remove_dir_all(&dir.state).unwrap();
        let again = ZoneName::parse("again.test").unwrap();
        assert_eq!(dir.claim(&again, None).await.unwrap(), Claim::Claimed);
        assert!(dir.has_marker(&again));
        fs::remove_dir_all(&path).unwrap();
        let gone = ZoneName::parse("gone.test").unwrap();
        assert!(dir.claim(&gone, Some("x\n".into())).await.is_err());
        assert!(!path.exists());
    }

    #[test]
    fn names_whose_files_would_not_fit_are_refused() {
        // `n` characters: labels of 49 and dots (235 and 236 both end inside a label)
        let labels = |n: usize| -> ZoneName {
            let text: String = format!("{}.", "a".repeat(49)).repeat(6)[..n].to_string();
            ZoneName::parse(&text).unwrap()
        };
        let at_limit = labels(MAX_ZONE_NAME_FOR_FILES);
        assert_eq!(at_limit.as_str().len(), MAX_ZONE_NAME_FOR_FILES);
        assert!(check_fits(&at_limit).is_ok());
        let over = labels(MAX_ZONE_NAME_FOR_FILES + 1);
        assert_eq!(over.as_str().len(), MAX_ZONE_NAME_FOR_FILES + 1);
        let why = check_fits(&over).unwrap_err();
        assert!(why.contains("255-byte file-name limit"), "{why}");
        assert_eq!(MAX_ZONE_NAME_FOR_FILES, 235);
    }
}
