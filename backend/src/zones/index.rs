//! The in-memory index of the zones this API manages that BIND has: what `GET /zones`
//! answers. The API's own creates and deletes update it as they succeed; a reconciliation
//! with BIND (`reconcile.rs`) replaces it at startup, in the background, and whenever named
//! restarted. API changes made while a reconciliation runs are logged and replayed onto its
//! result, so a reconciliation that started before a create does not forget the zone.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::bind::ZoneName;

/// API changes remembered during one reconciliation; past this the result is dropped and the
/// next listing reconciles again (bounded memory whatever the load).
const MAX_LOGGED_CHANGES: usize = 65_536;

#[derive(Default)]
pub struct Index {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    zones: BTreeSet<ZoneName>,
    /// named's boot time when the index was last reconciled; `None`: never (or invalidated).
    synced: Option<(String, Instant)>,
    /// `Some` while a reconciliation runs: (zone, added?) in order.
    log: Option<Vec<(ZoneName, bool)>>,
    overflowed: bool,
    /// The sorted list last handed out, shared by every listing until the set changes: a
    /// listing of 100,000 zones copies nothing while nothing changes.
    shared: Option<Arc<Vec<ZoneName>>>,
}

impl Index {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A poisoned lock only means a panic elsewhere mid-update; the set is still usable.
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    pub fn added(&self, zone: &ZoneName) {
        self.change(zone, true);
    }

    pub fn removed(&self, zone: &ZoneName) {
        self.change(zone, false);
    }

    fn change(&self, zone: &ZoneName, added: bool) {
        self.with(|i| {
            let changed = if added {
                i.zones.insert(zone.clone())
            } else {
                i.zones.remove(zone)
            };
            if changed {
                i.shared = None;
            }
            if let Some(log) = i.log.as_mut() {
                if log.len() >= MAX_LOGGED_CHANGES {
                    i.overflowed = true;
                } else {
                    log.push((zone.clone(), added));
                }
            }
        });
    }

    pub fn contains(&self, zone: &ZoneName) -> bool {
        self.with(|i| i.synced.is_some() && i.zones.contains(zone))
    }

    /// The zones and the boot time they were reconciled against; `None` before the first
    /// reconciliation. The same `Arc` until the set changes.
    pub fn snapshot(&self) -> Option<(Arc<Vec<ZoneName>>, String)> {
        self.with(|i| {
            let (boot, _) = i.synced.as_ref()?;
            let boot = boot.clone();
            let zones = i
                .shared
                .get_or_insert_with(|| Arc::new(i.zones.iter().cloned().collect()))
                .clone();
            Some((zones, boot))
        })
    }

    /// The set as it stands (for a reconciliation to reuse earlier verdicts).
    pub fn current(&self) -> BTreeSet<ZoneName> {
        self.with(|i| i.zones.clone())
    }

    /// A reconciliation starts: log API changes from now on.
    pub fn begin(&self) {
        self.with(|i| {
            i.log = Some(Vec::new());
            i.overflowed = false;
        });
    }

    /// A reconciliation ends with `zones` as BIND had them: replay the changes logged since
    /// `begin`, then install.
    pub fn install(&self, mut zones: BTreeSet<ZoneName>, boot: String) {
        self.with(|i| {
            let log = i.log.take().unwrap_or_default();
            if i.overflowed {
                i.synced = None;
                return;
            }
            for (zone, added) in log {
                if added {
                    zones.insert(zone);
                } else {
                    zones.remove(&zone);
                }
            }
            if i.zones != zones {
                i.zones = zones;
                i.shared = None;
            }
            i.synced = Some((boot, Instant::now()));
        });
    }

    /// A reconciliation failed: stop logging, keep what is known.
    pub fn abort(&self) {
        self.with(|i| i.log = None);
    }

    pub fn len(&self) -> usize {
        self.with(|i| i.zones.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn z(name: &str) -> ZoneName {
        ZoneName::parse(name).unwrap()
    }

    #[test]
    fn changes_during_a_reconciliation_are_replayed() {
        let index = Index::default();
        assert!(index.snapshot().is_none());
        index.begin();
        index.added(&z("new.test"));
        index.removed(&z("gone.test"));
        // BIND's list was taken before both changes
        index.install([z("gone.test"), z("old.test")].into(), "boot".into());
        let (zones, boot) = index.snapshot().unwrap();
        assert_eq!(*zones, [z("new.test"), z("old.test")]);
        assert_eq!(boot, "boot");
        // unchanged: the same list, not a copy; changed: a new one
        assert!(Arc::ptr_eq(&zones, &index.snapshot().unwrap().0));
        index.added(&z("old.test"));
        assert!(Arc::ptr_eq(&zones, &index.snapshot().unwrap().0));
        index.added(&z("more.test"));
        assert!(!Arc::ptr_eq(&zones, &index.snapshot().unwrap().0));
        index.removed(&z("more.test"));
        assert!(index.contains(&z("new.test")));
        index.removed(&z("new.test"));
        assert_eq!(index.len(), 1);
    }
}
