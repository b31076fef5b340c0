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
