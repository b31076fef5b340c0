//! rndc.conf / rndc.key text (`RNDC_CONF`). Inputs with an `include` are skipped so the
//! target never reads the machine's files.
//! Properties: `key()` gives the named default key, else the only key, else refuses;
//! `normalise_algorithm` of a key's algorithm is one of the four `hmac-sha2` names or a refusal.
#![no_main]

use std::path::Path;

use bindcar::bind::conf_tokens::tokenize;
use bindcar::config::rndc_conf::{normalise_algorithm, ConfFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if tokenize(text).is_ok_and(|t| t.iter().any(|t| t == "include")) {
        return;
    }
    let Ok(conf) = ConfFile::parse_text(text, Path::new("/nonexistent/rndc.conf")) else {
        return;
    };
    for (algorithm, _secret) in conf.keys.values() {
        match normalise_algorithm(algorithm) {
            Ok(a) => assert!(
                ["hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"].contains(&a.as_str()),
                "{a}"
            ),
            Err(e) => assert!(!e.is_empty()),
        }
    }
    match (&conf.default_key, conf.key()) {
        (Some(name), Ok(Some(key))) => assert_eq!(conf.keys.get(name), Some(key)),
        (Some(name), Ok(None)) => panic!("default key {name:?} gave no key"),
        (Some(_), Err(_)) => {}
        (None, Ok(Some(_))) => assert_eq!(conf.keys.len(), 1),
        (None, Ok(None)) => assert!(conf.keys.is_empty()),
        (None, Err(_)) => assert!(conf.keys.len() > 1),
    }
});
