//! Envoy's serialized header map (the proxy-wasm ABI's `proxy_get_header_map_pairs`), read
//! over borrowed bytes. The filter fetches every request header in one host call and takes
//! what a decision needs from it, instead of one host call (and one allocation) per header.
//!
//! Layout: a little-endian `u32` count N, then N pairs of `u32` sizes (name, value), then
//! each name and value in order, each followed by one NUL byte. The whole layout is checked
//! once in [`HeaderMap::new`]; a map that does not add up is refused, never half-read, so a
//! caller can fail closed on it.

/// A checked view of a serialized header map.
#[derive(Debug, Clone, Copy)]
pub struct HeaderMap<'a> {
    bytes: &'a [u8],
    count: usize,
}

/// The bytes are not a serialized header map (truncated, sizes past the end, missing NULs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

impl<'a> HeaderMap<'a> {
    /// Checks the layout. Empty bytes are the empty map (what the host returns for no
    /// headers).
    pub fn new(bytes: &'a [u8]) -> Result<Self, Malformed> {
        if bytes.is_empty() {
            return Ok(HeaderMap { bytes, count: 0 });
        }
        let count = u32_at(bytes, 0).ok_or(Malformed)?;
        let mut data = count
            .checked_mul(8)
            .and_then(|n| n.checked_add(4))
            .filter(|&n| n <= bytes.len())
            .ok_or(Malformed)?;
        for i in 0..count {
            for size_at in [4 + i * 8, 8 + i * 8] {
                let size = u32_at(bytes, size_at).ok_or(Malformed)?;
                let nul = data.checked_add(size).ok_or(Malformed)?;
                if bytes.get(nul) != Some(&0) {
                    return Err(Malformed);
                }
                data = nul + 1;
            }
        }
        Ok(HeaderMap { bytes, count })
    }

    /// Every (name, value) pair, in the host's order.
    pub fn pairs(&self) -> Pairs<'a> {
        Pairs {
            bytes: self.bytes,
            count: self.count,
            index: 0,
            data: 4 + self.count * 8,
        }
    }

    /// The first value of `name` (ASCII case-insensitive: Envoy lowercases names, a
    /// configured name may not be).
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.pairs()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// The values of `name`, at most `N` of them (a caller that refuses repeats needs to see
    /// only two), without allocating; returns how many it found, up to `N`.
    pub fn get_all<const N: usize>(&self, name: &[u8], out: &mut [&'a [u8]; N]) -> usize {
        let mut found = 0;
        for (n, v) in self.pairs() {
            if found == N {
                break;
            }
            if n.eq_ignore_ascii_case(name) {
                out[found] = v;
                found += 1;
            }
        }
        found
    }
}

/// What one request's filter needs from its headers, read in one pass: `:path`, up to two
/// `Authorization` values (a caller refuses repeats), which of the identity header names the
/// filter strips are present, and the value of one more header (the throttle's client key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestView<'a> {
    pub path: &'a [u8],
    pub authorization: [&'a [u8]; 2],
    /// `Authorization` values seen, at most 2.
    pub authorization_count: usize,
    /// Bit i set: `strip[i]` is present.
    pub present: u32,
    /// The value of the `extra` header, if asked for and present.
    pub extra: Option<&'a [u8]>,
}

impl<'a> HeaderMap<'a> {
    /// The view of a request's headers, for at most 32 `strip` names (lowercase, as Envoy
    /// hands names over; names are compared ignoring ASCII case all the same).
    pub fn request_view<S: AsRef<str>>(&self, strip: &[S], extra: Option<&str>) -> RequestView<'a> {
        let mut view = RequestView::default();
        let mut path = None;
        for (name, value) in self.pairs() {
            if name == b":path" {
                path = path.or(Some(value));
            } else if name.eq_ignore_ascii_case(b"authorization") {
                if let Some(slot) = view.authorization.get_mut(view.authorization_count) {
                    *slot = value;
                    view.authorization_count += 1;
                }
            } else {
                for (i, s) in strip.iter().take(32).enumerate() {
                    if name.eq_ignore_ascii_case(s.as_ref().as_bytes()) {
                        view.present |= 1 << i;
                    }
                }
                if view.extra.is_none()
                    && extra.is_some_and(|e| name.eq_ignore_ascii_case(e.as_bytes()))
                {
                    view.extra = Some(value);
                }
            }
        }
        view.path = path.unwrap_or_default();
        view
    }
}

/// Iterator over a checked map's pairs.
pub struct Pairs<'a> {
    bytes: &'a [u8],
    count: usize,
    index: usize,
    data: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.count {
            return None;
        }
        let name_len = u32_at(self.bytes, 4 + self.index * 8)?;
        let value_len = u32_at(self.bytes, 8 + self.index * 8)?;
        let name = self.bytes.get(self.data..self.data + name_len)?;
        let value_at = self.data + name_len + 1;
        let value = self.bytes.get(value_at..value_at + value_len)?;
        self.data = value_at + value_len + 1;
        self.index += 1;
        Some((name, value))
    }
}

/// The serialized form of `pairs`, as the host writes it (tests and fuzzing build inputs).
pub fn serialize(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (n, v) in pairs {
        out.extend_from_slice(&(n.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (n, v) in pairs {
        out.extend_from_slice(n);
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    const REQUEST: &[(&[u8], &[u8])] = &[
        (b":method", b"GET"),
        (b":path", b"/api/v1/zones"),
        (b"authorization", b"Bearer abc"),
        (b"x-empty", b""),
    ];

    #[wasm_bindgen_test(unsupported = test)]
    fn reads_what_the_host_wrote() {
        let bytes = serialize(REQUEST);
        let map = HeaderMap::new(&bytes).unwrap();
        assert_eq!(map.pairs().collect::<Vec<_>>(), REQUEST.to_vec());
        assert_eq!(map.get(b":path"), Some(&b"/api/v1/zones"[..]));
        assert_eq!(map.get(b"Authorization"), Some(&b"Bearer abc"[..]));
        assert_eq!(map.get(b"x-empty"), Some(&b""[..]));
        assert!(!map.contains(b"x-bindcar-user"));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn one_pass_sees_what_the_filter_needs() {
        let bytes = serialize(&[
            (b":path", b"/api/v1/zones"),
            (b"X-Remote-Group", b"admins"),
            (b"authorization", b"Bearer a"),
            (b"x-forwarded-for", b"192.0.2.1"),
            (b"authorization", b"Bearer b"),
            (b"authorization", b"Bearer c"),
            (b":path", b"/second"),
        ]);
        let map = HeaderMap::new(&bytes).unwrap();
        let strip = ["x-remote-user", "x-remote-group"];
        let v = map.request_view(&strip, Some("x-forwarded-for"));
        assert_eq!(v.path, b"/api/v1/zones");
        assert_eq!(v.authorization_count, 2);
        assert_eq!(v.authorization, [&b"Bearer a"[..], &b"Bearer b"[..]]);
        assert_eq!(v.present, 0b10);
        assert_eq!(v.extra, Some(&b"192.0.2.1"[..]));
        let none = HeaderMap::new(b"").unwrap().request_view(&strip, None);
        assert_eq!(none, RequestView::default());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn empty_bytes_are_the_empty_map() {
        let map = HeaderMap::new(b"").unwrap();
        assert_eq!(map.pairs().count(), 0);
        assert_eq!(map.get(b":path"), None);
        let zero = serialize(&[]);
        assert_eq!(HeaderMap::new(&zero).unwrap().pairs().count(), 0);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn repeats_are_all_seen_up_to_the_bound() {
        let bytes = serialize(&[
            (b"authorization", b"Bearer a"),
            (b"host", b"x"),
            (b"authorization", b"Bearer b"),
            (b"authorization", b"Bearer c"),
        ]);
        let map = HeaderMap::new(&bytes).unwrap();
        let mut out = [&b""[..]; 2];
        assert_eq!(map.get_all(b"authorization", &mut out), 2);
        assert_eq!(out, [&b"Bearer a"[..], &b"Bearer b"[..]]);
        let mut one = [&b""[..]; 2];
        assert_eq!(map.get_all(b"host", &mut one), 1);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn every_truncation_and_corruption_is_refused_not_misread() {
        let bytes = serialize(REQUEST);
        for cut in 1..bytes.len() {
            assert_eq!(
                HeaderMap::new(&bytes[..cut]).err(),
                Some(Malformed),
                "cut {cut}"
            );
        }
        // A NUL replaced: the sizes no longer line up with the data.
        let last = bytes.len() - 1;
        let mut bad = bytes.clone();
        bad[last] = b'x';
        assert_eq!(HeaderMap::new(&bad).err(), Some(Malformed));
        // A count far past the end, and sizes that overflow.
        assert_eq!(HeaderMap::new(&[0xff; 4]).err(), Some(Malformed));
        let mut huge = serialize(&[(b"a", b"b")]);
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(HeaderMap::new(&huge).err(), Some(Malformed));
    }
}
