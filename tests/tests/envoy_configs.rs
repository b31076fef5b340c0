//! Every Envoy configuration shipped under envoy/ passes `envoy --mode validate`, with the
//! files it names (the .wasm, the CA, the token) in place. The shipped bytes are validated
//! as they are, from a directory laid out like the repository. Each plugin configuration in
//! them loads (it states its mode), and every connection manager that runs the filter takes
//! the client's address from the connection, not from `x-forwarded-for`.

use std::path::Path;

use bindcar_policy::config::FilterConfig;
use bindcar_testbed::envoy::{lay_out_repository, validate, workspace_root};
use serde_json::Value;

fn layout_like_the_repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    lay_out_repository(dir.path()).unwrap();
    // What `make run MODE=tokenreview` creates before starting Envoy.
    let tr = dir.path().join(".run/tokenreview");
    std::fs::create_dir_all(&tr).unwrap();
    std::fs::write(tr.join("token"), "reviewer-token").unwrap();
    let ca =
        rcgen::generate_simple_self_signed(vec!["kubernetes.default.svc".to_string()]).unwrap();
    std::fs::write(tr.join("ca.pem"), ca.cert.pem()).unwrap();
    dir
}

fn shipped_configs() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace_root().join("envoy"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("envoy") && n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_shipped_envoy_config_validates() {
    let names = shipped_configs();
    assert!(
        names.contains(&"envoy.yaml".to_string())
            && names.contains(&"envoy-tokenreview.yaml".to_string()),
        "{names:?}"
    );
    let dir = layout_like_the_repository();
    for name in names {
        let (ok, out) = run_validate(dir.path(), &format!("envoy/{name}"));
        assert!(ok, "envoy/{name} does not validate:\n{out}");
        assert!(out.contains("OK"), "{out}");
    }
}

#[test]
fn validation_catches_a_broken_config() {
    let dir = layout_like_the_repository();
    let broken = std::fs::read_to_string(dir.path().join("envoy/envoy.yaml"))
        .unwrap()
        .replace("port_value: 18080", "port_value: not-a-port");
    std::fs::write(dir.path().join("envoy/broken.yaml"), broken).unwrap();
    let (ok, _) = run_validate(dir.path(), "envoy/broken.yaml");
    assert!(!ok);
    let (ok, out) = run_validate(dir.path(), "envoy/envoy.yaml");
    assert!(ok, "{out}");
    std::fs::remove_file(dir.path().join("dist/bindcar_auth_filter.wasm")).unwrap();
    let (ok, _) = run_validate(dir.path(), "envoy/envoy.yaml");
    assert!(!ok, "a missing .wasm must fail validation");
}

/// Every object in `v` (depth first) with the key `key`.
fn objects_with<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            if m.contains_key(key) {
                out.push(v);
            }
            m.values().for_each(|x| objects_with(x, key, out));
        }
        Value::Array(a) => a.iter().for_each(|x| objects_with(x, key, out)),
        _ => {}
    }
}

#[test]
fn the_filter_is_configured_explicitly_and_keyed_by_the_connections_peer() {
    for name in shipped_configs() {
        let text = std::fs::read_to_string(workspace_root().join("envoy").join(&name)).unwrap();
        let doc: Value = serde_norway::from_str(&text).unwrap();
        let mut managers = Vec::new();
        objects_with(&doc, "http_filters", &mut managers);
        let mut with_filter = 0;
        for hcm in managers {
            let mut wasm = Vec::new();
            objects_with(&hcm["http_filters"], "vm_config", &mut wasm);
            if wasm.is_empty() {
                continue;
            }
            with_filter += 1;
            assert_eq!(
                hcm["use_remote_address"],
                Value::Bool(true),
                "{name}: a connection manager running the filter must set use_remote_address: true"
            );
            assert!(
                matches!(&hcm["xff_num_trusted_hops"], Value::Null)
                    || hcm["xff_num_trusted_hops"] == 0,
                "{name}: xff_num_trusted_hops"
            );
            for config in wasm {
                let json = config["configuration"]["value"].as_str().unwrap();
                let parsed = FilterConfig::from_json(json.as_bytes())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(json.contains("\"mode\""), "{name}: {parsed:?}");
            }
        }
        assert!(
            with_filter >= 1,
            "{name}: no connection manager runs the filter"
        );
    }
}

fn run_validate(cwd: &Path, config: &str) -> (bool, String) {
    validate(Path::new(config), cwd).unwrap()
}
