//! Tokens of BIND's configuration syntax (rndc.conf, `rndc showzone` answers).
//! Properties: no token is empty; a bare word has no whitespace, brace, `;` or quote; a
//! quoted token starts and ends with `"`; the tokens joined by spaces tokenize to themselves;
//! `unquote` of a bare word is the word.
#![no_main]

use bindcar::bind::conf_tokens::{tokenize, unquote};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(tokens) = tokenize(text) else { return };
    for t in &tokens {
        assert!(!t.is_empty());
        if t.starts_with('"') {
            assert!(t.len() >= 2 && t.ends_with('"'), "{t:?}");
            let _ = unquote(t);
        } else if !matches!(t.as_str(), "{" | "}" | ";") {
            assert!(
                !t.contains(|c: char| c.is_whitespace() || "{};\"".contains(c)),
                "{t:?}"
            );
            assert_eq!(&unquote(t), t);
        }
    }
    let joined = tokens.join(" ");
    assert_eq!(
        tokenize(&joined).as_ref(),
        Ok(&tokens),
        "re-tokenizing {joined:?}"
    );
});
