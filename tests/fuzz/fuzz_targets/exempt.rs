//! Exempt-path matching. Input: lines; the last is the request's `:path`, the ones before it
//! (when there are any) the configured exempt paths (else the defaults).
//! Properties: a path is exempt only when its part before `?` equals a configured path, is
//! canonical (no `..`, `%` so no `%2f`, `//`, `\`, `;`, `#`, dot segments, spaces, controls,
//! non-ASCII); a configured path accepted by `ExemptPaths::new` matches itself, with or without
//! a query string.
#![no_main]

use bindcar_policy::exempt::ExemptPaths;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let (configured, path) = lines.split_at(lines.len() - 1);
    let path = path[0];
    let exempt = if configured.is_empty() {
        ExemptPaths::default()
    } else {
        let Ok(texts) = configured
            .iter()
            .map(|l| std::str::from_utf8(l))
            .collect::<Result<Vec<_>, _>>()
        else {
            return;
        };
        match ExemptPaths::new(&texts) {
            Ok(e) => {
                for p in &texts {
                    assert!(e.is_exempt(p.as_bytes()), "{p:?} not exempt to itself");
                    assert!(e.is_exempt(format!("{p}?x=1").as_bytes()));
                }
                e
            }
            Err(_) => return,
        }
    };
    if exempt.is_exempt(path) {
        let part = path.split(|&b| b == b'?').next().unwrap_or_default();
        assert!(
            exempt.paths().any(|p| p == part),
            "matched no configured path"
        );
        assert!(part.starts_with(b"/"));
        assert!(part.iter().all(|b| b.is_ascii_graphic()));
        for bad in [&b".."[..], b"%", b"//", b"\\", b";", b"#"] {
            assert!(
                !part.windows(bad.len()).any(|w| w == bad),
                "exempt with {bad:?}"
            );
        }
        assert!(!part.split(|&b| b == b'/').any(|seg| seg == b"."));
        let lower = part.to_ascii_lowercase();
        assert!(!lower.windows(3).any(|w| w == b"%2f" || w == b"%2e"));
    }
});
