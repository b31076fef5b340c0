//! Claiming a zone's name in the zone directory for a create, so a create can never replace a
//! file it does not own, with one new inode: the zone's content is written to its marker
//! (`.bindcar/zones/<zone>.zone`, created exclusively: the marker says "ours"), and the marker
//! is hard-linked to `<zone>.zone`, which fails instead of replacing a file. Nothing is synced
//! then: the claim's `Pending` makes the content and the zone file's name durable beside
//! `addzone`, and the create answers only once both are done ("a 201 means durable"). Until then a crash may
//! lose the names or the content; the reconciliation handles each case (`zones::reconcile`):
//! a zone BIND lacks loses its files, a zone BIND has whose file is gone gets it back from the
//! marker, and a zone BIND has with neither content nor marker was never acknowledged and is
//! removed from BIND. Also: the longest zone name whose files fit the file-name limit, and the
//! age of a marker (for the orphan sweep).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::dir_sync::DirSync;
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
#[derive(Debug)]
pub enum Claim {
    /// The marker (and, for a primary, the zone file) are in place, not yet durable.
    Claimed(Pending),
    /// `<dir>/<zone>.zone` exists and is not this API's: nothing was written.
    FileTaken(PathBuf),
}

/// A claim whose content and zone file name are not durable yet.
#[derive(Debug)]
pub enum Pending {
    /// A primary: its content (the marker's inode) and the zone directory, whose fsync
    /// concurrent creates share (`DirSync`).
    Primary { file: File, root_sync: Arc<DirSync> },
    /// A secondary: nothing of ours that named reads.
    Secondary,
}

impl Pending {
    /// Makes what named will read durable, in one trip to the blocking pool: the zone's
    /// content, then the zone directory (the name `<zone>.zone`).
    ///
    /// The marker's own name is not synced: it only serves to clean up after a create that
    /// was never acknowledged. A zone BIND has whose marker a power loss took is still
    /// recognised as this API's (added at runtime, with `<dir>/<zone>.zone` as its file, or a
    /// secondary without one: `Zones::is_managed`).
    pub async fn sync(self) -> io::Result<()> {
        let Pending::Primary { file, root_sync } = self else {
            return Ok(());
        };
        blocking(move || {
            fail::fail_point!("claim.before_sync");
            file.sync_all()?;
            root_sync.sync()?;
            fail::fail_point!("claim.after_sync");
            Ok(())
        })
        .await
    }
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
    /// Claims `zone` for a create, in one trip to the blocking pool: fails with `FileTaken`
    /// (writing nothing that stays) if its zone file exists; else creates the marker holding
    /// `content` (a primary's zone file; a secondary's marker is empty), links it to
    /// `<zone>.zone` (never replacing a file) and removes leftovers named would replay (an old
    /// journal). Callers hold the zone's lock, know there is no marker, and make the claim
    /// durable (`Pending::sync`) before they answer.
    pub async fn claim(&self, zone: &ZoneName, content: Option<String>) -> io::Result<Claim> {
        let (root, state) = (self.root.clone(), self.state.clone());
        let root_sync = self.root_sync.clone();
        let (target, marker) = (self.zone_file(zone), self.marker_file(zone));
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
            fail::fail_point!("claim.after_marker");
            let primary = content.is_some();
            let claimed = (|| {
                // named may run as another user: readable whatever the umask
                file.set_permissions(fs::Permissions::from_mode(0o644))?;
                let Some(content) = content else {
                    return Ok(None);
                };
                file.write_all(content.as_bytes())?;
                match fs::hard_link(&marker, &target) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return Ok(Some(Claim::FileTaken(target.clone())))
                    }
                    Err(e) => return Err(e),
                }
                fail::fail_point!("claim.after_link");
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
                Ok(None)
            })();
            match claimed {
                Ok(None) if primary => Ok(Claim::Claimed(Pending::Primary { file, root_sync })),
                Ok(None) => Ok(Claim::Claimed(Pending::Secondary)),
                refused => {
                    // Refused or failed: nothing of this claim stays.
                    remove_if_present(&marker)?;
                    refused.map(|r| r.unwrap_or(Claim::FileTaken(target)))
                }
            }
        })
        .await
    }

    /// Restores `<zone>.zone` from the marker of a primary whose zone file is gone (its name
    /// lost to a power loss before the claim was synced, or removed by hand): `false`,
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

    /// Marks a zone of the reference bindcar (which keeps no marker) as this API's, before a
    /// change whose answer may be lost: the marker is a hard link to its zone file
    /// (`with_file`), or empty (a secondary, or a file already gone). With the marker, the
    /// reconciliation removes the zone's files once BIND no longer has it.
    pub async fn adopt(&self, zone: &ZoneName, with_file: bool) -> io::Result<()> {
        let (root, state) = (self.root.clone(), self.state.clone());
        let (target, marker) = (self.zone_file(zone), self.marker_file(zone));
        blocking(move || {
            ensure_state_dir(&root, &state)?;
            let linked = with_file && fs::hard_link(&target, &marker).is_ok();
            if !linked {
                match OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&marker)
                {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
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
        let Claim::Claimed(pending) = dir.claim(&zone, Some("ours\n".into())).await.unwrap() else {
            panic!("not claimed");
        };
        let root_syncs = dir.root_sync.syncs_made();
        pending.sync().await.unwrap();
        // the content, then the zone file's directory
        assert_eq!(dir.root_sync.syncs_made(), root_syncs + 1);
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
        assert!(matches!(claim, Claim::FileTaken(p) if p == dir.zone_file(&theirs)));
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
        let Claim::Claimed(pending) = dir.claim(&again, None).await.unwrap() else {
            panic!("not claimed");
        };
        // a secondary: nothing named reads, nothing to sync
        assert!(matches!(pending, Pending::Secondary));
        let root_syncs = dir.root_sync.syncs_made();
        pending.sync().await.unwrap();
        assert_eq!(dir.root_sync.syncs_made(), root_syncs);
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
