//! A host in trouble: every import the filter calls, made to answer an error status in the
//! in-process host of `bindcar-wasmhost`, on the real `dist/bindcar_auth_filter.wasm`. The
//! filter must never trap (a trap aborts the VM: every request on the worker fails from then
//! on), and must fail closed: a request it lets through carries no client identity header and,
//! in TokenReview mode, the reviewed identity. The configuration and randomness read at load
//! refuse the plugin with a log line instead.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use bindcar_testbed::envoy::wasm_path;
use bindcar_wasmhost::paths::{
    basic_config, review_answer, throttle_config, tokenreview_config, TOKEN, USER,
};
use bindcar_wasmhost::{Action, FilterVm, RequestRecord};

fn wasm() -> Vec<u8> {
    std::fs::read(wasm_path().unwrap()).unwrap()
}

fn headers(bearer: &str) -> Vec<(&str, &str)> {
    vec![
        (":method", "GET"),
        (":path", "/api/v1/zones"),
        (":authority", "bindcar"),
        ("authorization", bearer),
        // A client's forged identity: must never reach the upstream.
        ("x-remote-user", "system:admin"),
        ("x-remote-group", "system:masters"),
    ]
}

/// One request; a review it dispatches is answered (authenticated). Err only on a trap.
fn request(vm: &mut FilterVm, bearer: &str) -> anyhow::Result<RequestRecord> {
    let before = vm.http_calls().len();
    let started = vm.start(&headers(bearer))?;
    if let Some(call) = vm.http_calls().get(before).cloned() {
        vm.answer(call.token, 201, &review_answer())?;
    }
    vm.finish(started)
}

fn let_through(r: &RequestRecord) -> bool {
    r.local_response.is_none() && (r.action == Action::Continue || r.resumed)
}

/// The scenarios: a configuration, how many requests warm it up, and the request measured.
fn scenarios() -> Vec<(&'static str, String, usize)> {
    vec![
        ("basic", basic_config(), 0),
        ("throttle", throttle_config(), 0),
        ("tokenReview miss", tokenreview_config(), 0),
        ("tokenReview memo hit", tokenreview_config(), 1),
    ]
}

#[test]
fn every_import_failing_during_a_request_fails_closed_without_a_trap() {
    let wasm = wasm();
    let bearer = format!("Bearer {TOKEN}");
    let mut tried = 0;
    for (name, config, warm) in scenarios() {
        // Which imports the request makes when nothing fails.
        let mut vm = FilterVm::load(&wasm, &config).unwrap();
        for _ in 0..warm {
            request(&mut vm, &bearer).unwrap();
        }
        let clean = request(&mut vm, &bearer).unwrap();
        assert!(let_through(&clean), "{name}: {clean:?}");
        let imports: BTreeSet<String> = clean.calls.iter().map(|c| c.name.clone()).collect();
        assert!(imports.contains("proxy_get_header_map_pairs"), "{name}");
        for import in imports {
            let mut vm = FilterVm::load(&wasm, &config).unwrap();
            for _ in 0..warm {
                request(&mut vm, &bearer).unwrap();
            }
            if import == "proxy_set_effective_context" {
                // The SDK's dispatcher makes the root context effective itself (and aborts if
                // the host refuses) before a callout's answer reaches the filter; the filter's
                // own calls are the ones that switch to a waiting request.
                let root = vm.root_id();
                vm.host_mut().fail_when = Some(Box::new(move |name, args| {
                    name == "proxy_set_effective_context" && args.first() != Some(&u64::from(root))
                }));
            } else {
                vm.host_mut().failing = vec![Box::leak(import.clone().into_boxed_str())];
            }
            let r = request(&mut vm, &bearer)
                .unwrap_or_else(|e| panic!("{name}, {import} failing: the VM trapped: {e}"));
            tried += 1;
            if let_through(&r) {
                let user = r.header("x-remote-user");
                match name.starts_with("tokenReview") {
                    true => assert_eq!(user, Some(USER), "{name}, {import} failing: {r:?}"),
                    false => assert_eq!(user, None, "{name}, {import} failing: {r:?}"),
                }
                assert_ne!(r.header("x-remote-group"), Some("system:masters"));
            } else {
                assert_eq!(r.action, Action::Pause, "{name}, {import} failing");
            }
            // The VM still serves the next request normally.
            vm.host_mut().failing.clear();
            vm.host_mut().fail_when = None;
            let next = request(&mut vm, &bearer).unwrap();
            assert!(
                let_through(&next),
                "{name}, after {import} failed: {next:?}"
            );
        }
    }
    assert!(tried >= 12, "only {tried} imports tried");
}

/// The two the SDK would have unwrapped: removing a client's identity header and setting the
/// reviewed one. Each answers the request itself (never a trap, never a pass).
#[test]
fn refused_header_changes_get_a_local_reply() {
    let wasm = wasm();
    let bearer = format!("Bearer {TOKEN}");
    for (config, import) in [
        (basic_config(), "proxy_remove_header_map_value"),
        (tokenreview_config(), "proxy_remove_header_map_value"),
        (tokenreview_config(), "proxy_replace_header_map_value"),
    ] {
        let mut vm = FilterVm::load(&wasm, &config).unwrap();
        vm.host_mut().failing = vec![import];
        let r = request(&mut vm, &bearer).unwrap();
        let reply = r
            .local_response
            .as_ref()
            .unwrap_or_else(|| panic!("{import}: no local reply: {r:?}"));
        assert_eq!(reply.status, 401, "{import}: statusOnError");
        assert!(
            reply.body.contains("the proxy refused a header change"),
            "{import}: {}",
            reply.body
        );
        assert!(!r.resumed, "{import}");
    }
}

#[test]
fn an_unreadable_configuration_refuses_the_plugin_with_a_log_line() {
    let e = FilterVm::load_with(&wasm(), &basic_config(), |h| {
        h.failing = vec!["proxy_get_buffer_bytes"]
    })
    .err()
    .expect("loaded without its configuration")
    .to_string();
    assert!(e.contains("refused the configuration"), "{e}");
    assert!(
        e.contains("did not give the plugin configuration") && e.contains("refuses to load"),
        "{e}"
    );
    assert!(!e.contains("trapped"), "{e}");
}

/// Randomness or nothing: no fallback to the clock or zeros for the keys that hide tokens and
/// clients, in any mode.
#[test]
fn no_randomness_refuses_the_plugin_with_a_log_line() {
    for config in [basic_config(), throttle_config(), tokenreview_config()] {
        let e = FilterVm::load_with(&wasm(), &config, |h| h.failing = vec!["random_get"])
            .err()
            .expect("loaded without randomness")
            .to_string();
        assert!(e.contains("refused the configuration"), "{config}: {e}");
        assert!(e.contains("no randomness"), "{config}: {e}");
        assert!(!e.contains("trapped"), "{config}: {e}");
    }
}
