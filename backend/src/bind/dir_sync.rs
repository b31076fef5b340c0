//! Group commit for the fsync of a directory: callers that made names in it concurrently share
//! one fsync instead of queueing one each. A caller's names are durable once a sync that
//! started after they were made has completed; one sync runs at a time, and callers that
//! arrive while it runs share the next. Called from blocking threads.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug)]
pub struct DirSync {
    dir: PathBuf,
    /// Tickets handed out: one per caller, taken after its names were made.
    requested: AtomicU64,
    /// The highest ticket a completed sync covers; the lock makes syncs one at a time.
    covered: Mutex<u64>,
    /// fsyncs made (for tests: fewer than callers under concurrency).
    made: AtomicU64,
}

impl DirSync {
    pub fn new(dir: PathBuf) -> DirSync {
        DirSync {
            dir,
            requested: AtomicU64::new(0),
            covered: Mutex::new(0),
            made: AtomicU64::new(0),
        }
    }

    /// Returns once the names this caller made in the directory before calling are durable.
    pub fn sync(&self) -> io::Result<()> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        // A poisoned lock only means a panic in another sync; the count is still right.
        let mut covered = self.covered.lock().unwrap_or_else(|p| p.into_inner());
        if *covered >= ticket {
            return Ok(()); // a sync that started after our names were made has completed
        }
        // Every ticket taken so far belongs to names made before this sync starts.
        let covers = self.requested.load(Ordering::SeqCst);
        File::open(&self.dir)?.sync_all()?;
        self.made.fetch_add(1, Ordering::Relaxed);
        *covered = covers;
        Ok(())
    }

    pub fn syncs_made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn callers_during_a_sync_share_the_next_one() {
        let dir = std::env::temp_dir().join(format!("bindcar-dir-sync-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sync = std::sync::Arc::new(DirSync::new(dir.clone()));
        // alone: one sync per call
        sync.sync().unwrap();
        sync.sync().unwrap();
        assert_eq!(sync.syncs_made(), 2);
        // 16 callers whose names were all made while a sync ran (held here by taking its
        // lock): they wait, then the first of them syncs for all, and the others are covered
        // by it. Without the sharing this would be 16 syncs.
        let running = sync.covered.lock().unwrap();
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let sync = sync.clone();
                std::thread::spawn(move || sync.sync())
            })
            .collect();
        while sync.requested.load(Ordering::SeqCst) < 18 {
            std::thread::yield_now();
        }
        drop(running);
        for t in threads {
            t.join().unwrap().unwrap();
        }
        assert_eq!(sync.syncs_made() - 2, 1);
        assert_eq!(*sync.covered.lock().unwrap(), 18);
        // a caller after that sync is not covered by it: a sync of its own
        sync.sync().unwrap();
        assert_eq!(sync.syncs_made() - 2, 2);
        // a directory that is gone: the error reaches the caller
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(sync.sync().is_err());
    }
}
