//! Per-zone serialisation of mutations: a fixed set of striped async locks, so two requests for
//! the same zone never interleave (N concurrent creates → one 201, N−1 409) while different
//! zones mostly proceed in parallel, with no map that grows with the number of names seen.

use std::hash::{DefaultHasher, Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

use crate::bind::ZoneName;

const STRIPES: usize = 64;

pub struct ZoneLocks {
    stripes: Vec<Mutex<()>>,
}

impl Default for ZoneLocks {
    fn default() -> Self {
        ZoneLocks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl ZoneLocks {
    pub async fn lock(&self, zone: &ZoneName) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        zone.hash(&mut hasher);
        let index = (hasher.finish() % STRIPES as u64) as usize;
        self.stripes[index].lock().await
    }
}
