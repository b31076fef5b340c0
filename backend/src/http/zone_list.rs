//! The body of `GET /api/v1/zones`, rendered once per index snapshot: while no zone is added
//! or removed, a listing of 100,000 zones is a pointer comparison and a reference-counted
//! copy of the same bytes (the index hands out the same `Arc` until the set changes).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::zones::ZoneName;

#[derive(Default)]
pub struct ListCache(Mutex<Option<(Arc<Vec<ZoneName>>, Bytes)>>);

impl ListCache {
    /// `{"zones":[...],"count":N}` for `zones` (bindcar's `ZoneListResponse`).
    pub fn body(&self, zones: Arc<Vec<ZoneName>>) -> Result<Bytes, serde_json::Error> {
        // A poisoned lock only means a panic mid-render; the cache is rebuilt below.
        let mut cached = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((of, body)) = cached.as_ref() {
            if Arc::ptr_eq(of, &zones) {
                return Ok(body.clone());
            }
        }
        let body = Bytes::from(serde_json::to_vec(&Listing(&zones))?);
        *cached = Some((zones, body.clone()));
        Ok(body)
    }
}

/// The list serialized from the names as they are, without a copy of each.
struct Listing<'a>(&'a [ZoneName]);

impl Serialize for Listing<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Names<'a>(&'a [ZoneName]);
        impl Serialize for Names<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.iter().map(ZoneName::as_str))
            }
        }
        let mut body = serializer.serialize_struct("ZoneListResponse", 2)?;
        body.serialize_field("zones", &Names(self.0))?;
        body.serialize_field("count", &self.0.len())?;
        body.end()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::http::api_types::ZoneListResponse;

    #[test]
    fn renders_bindcars_list_once_per_snapshot() {
        let cache = ListCache::default();
        let zones = Arc::new(vec![
            ZoneName::parse("a.test").unwrap(),
            ZoneName::parse("b.test").unwrap(),
        ]);
        let body = cache.body(zones.clone()).unwrap();
        let parsed: ZoneListResponse = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed.zones, ["a.test", "b.test"]);
        assert_eq!(parsed.count, 2);
        // the same snapshot: the same bytes, not rendered again
        assert_eq!(cache.body(zones).unwrap().as_ptr(), body.as_ptr());
        // another snapshot (even an equal one): rendered again
        let other = Arc::new(vec![ZoneName::parse("a.test").unwrap()]);
        let again = cache.body(other).unwrap();
        assert_ne!(again.as_ptr(), body.as_ptr());
        assert_eq!(&again[..], br#"{"zones":["a.test"],"count":1}"#);
    }
}
