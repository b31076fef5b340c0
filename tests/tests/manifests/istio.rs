//! envoy/istio: every object matches the Istio API, the WasmPlugin is pinned and fail-closed,
//! and its pluginConfig is accepted by the filter's own parser.

use super::*;

pub(crate) fn istio_docs() -> Vec<(String, Value)> {
    docs_of(&dir("istio"))
}

#[test]
fn every_istio_object_matches_the_istio_api() {
    let docs = istio_docs();
    let failures: Vec<String> = docs
        .iter()
        .filter_map(|(f, d)| check_istio(d).err().map(|e| format!("{f}: {e}")))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    for (_, d) in &docs {
        assert_eq!(d["metadata"]["namespace"], NAMESPACE, "{}", key_of(d));
    }
}

pub(crate) fn wasm_plugin() -> (Value, IstioObject<WasmPluginSpec>) {
    let doc = find(&istio_docs(), "WasmPlugin", "bindcar-auth").clone();
    let wp = istio::<WasmPluginSpec>(&doc).unwrap();
    (doc, wp)
}

pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[test]
fn the_wasm_plugin_is_pinned_fail_closed_authn_on_the_api_port() {
    let (_, wp) = wasm_plugin();
    assert_eq!(wp.api_version, "extensions.istio.io/v1alpha1");
    assert_eq!(wp.kind, "WasmPlugin");
    let s = &wp.spec;
    assert_eq!(s.phase, Some(PluginPhase::Authn));
    assert_eq!(s.fail_strategy, Some(FailStrategy::Close));
    assert_eq!(s.image_pull_policy, Some(PullPolicy::IfNotPresent));
    assert_eq!(s.plugin_name.as_deref(), Some("bindcar_auth"));
    assert_eq!(s.plugin_type, Some(PluginType::Http));
    // The CRD's own pattern is (^$|^[a-f0-9]{64}$); we require it set.
    let sha = s.sha256.as_deref().unwrap_or_default();
    assert!(
        is_sha256_hex(sha),
        "sha256 {sha:?} is not 64 lowercase hex digits"
    );
    assert!(s.url.starts_with("oci://"), "{}", s.url);
    assert!(s.target_ref.is_none() && s.target_refs.is_none());
    let selector = &s.selector.as_ref().unwrap().match_labels;
    assert_eq!(
        selector.get(POD_LABEL.0).map(String::as_str),
        Some(POD_LABEL.1)
    );
    let m = s.traffic_selectors.as_ref().unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].mode, Some(WorkloadMode::Server));
    let ports: Vec<u32> = m[0]
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(ports, [api_port()]);
}

#[test]
fn sha256_check_refuses_what_istio_would() {
    assert!(is_sha256_hex(&"0".repeat(64)));
    assert!(is_sha256_hex(&"0123456789abcdef".repeat(4)));
    for bad in [
        "0".repeat(63),
        "0".repeat(65),
        "0123456789ABCDEF".repeat(4),
        format!("sha256:{}", "0".repeat(57)),
        "g".repeat(64),
        String::new(),
    ] {
        assert!(!is_sha256_hex(&bad), "{bad}");
    }
}

/// (what, how to damage the document, what the error must name)
pub(crate) type Edit = (&'static str, Box<dyn Fn(&mut Value)>, &'static str);

#[test]
fn the_istio_models_refuse_misspelt_fields_and_values() {
    let (doc, _) = wasm_plugin();
    assert!(check_istio(&doc).is_ok());
    let edits: [Edit; 7] = [
        (
            "fail",
            Box::new(|d| d["spec"]["failStrategy"] = json!("FAIL_CLOSED")),
            "FAIL_CLOSED",
        ),
        (
            "phase",
            Box::new(|d| d["spec"]["phase"] = json!("authn")),
            "authn",
        ),
        (
            "field",
            Box::new(|d| rename_key(d, "/spec", "pluginName", "pluginname")),
            "pluginname",
        ),
        (
            "mode",
            Box::new(|d| d["spec"]["match"][0]["mode"] = json!("INBOUND")),
            "INBOUND",
        ),
        (
            "nested",
            Box::new(|d| rename_key(d, "/spec/match/0/ports/0", "number", "port")),
            "port",
        ),
        (
            "policy",
            Box::new(|d| d["spec"]["imagePullPolicy"] = json!("IF_NOT_PRESENT")),
            "IF_NOT_PRESENT",
        ),
        (
            "metadata",
            Box::new(|d| rename_key(d, "/metadata", "labels", "label")),
            "label",
        ),
    ];
    for (what, edit, needle) in edits {
        let mut bad = doc.clone();
        edit(&mut bad);
        let e = check_istio(&bad).expect_err(what);
        assert!(e.contains(needle), "{what}: {e}");
    }
    let dr = find(&istio_docs(), "DestinationRule", "bindcar-kube-apiserver").clone();
    assert!(check_istio(&dr).is_ok());
    let mut bad = dr.clone();
    rename_key(
        &mut bad,
        "/spec/trafficPolicy/portLevelSettings/0/tls",
        "caCertificates",
        "caCertificate",
    );
    assert!(check_istio(&bad).unwrap_err().contains("caCertificate"));
    let mut bad = dr;
    bad["spec"]["trafficPolicy"]["portLevelSettings"][0]["tls"]["mode"] = json!("TLS");
    assert!(check_istio(&bad).is_err());
    let ef = find(&istio_docs(), "EnvoyFilter", "bindcar-reviewer-credential").clone();
    let mut bad = ef;
    bad["spec"]["configPatches"][0]["applyTo"] = json!("CLUSTERS");
    assert!(check_istio(&bad).is_err());
    let pa = find(&istio_docs(), "PeerAuthentication", "bindcar").clone();
    let mut bad = pa;
    bad["spec"]["portLevelMtls"] = json!({"http-api": {"mode": "STRICT"}});
    assert!(check_istio(&bad).unwrap_err().contains("not a port"));
}

// ---------------------------------------------------------------------------------------
// The plugin configuration, through the filter's own parser

pub(crate) fn plugin_config_json() -> Vec<u8> {
    let (_, wp) = wasm_plugin();
    serde_json::to_vec(&wp.spec.plugin_config.unwrap()).unwrap()
}

#[test]
fn the_plugin_config_is_accepted_by_the_filter_in_token_review_mode() {
    let bytes = plugin_config_json();
    let cfg = FilterConfig::from_json(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.status_on_error, 503);
    assert!(cfg.exempt.is_exempt(b"/api/v1/health"));
    assert!(cfg.exempt.is_exempt(b"/api/v1/ready"));
    assert!(!cfg.exempt.is_exempt(b"/api/v1/zones"));
    let Mode::TokenReview(tr) = cfg.mode else {
        panic!("not TokenReview mode")
    };
    assert_eq!(
        tr.cluster,
        "outbound|443||kubernetes.default.svc.cluster.local"
    );
    assert_eq!(tr.authority, "kubernetes.default.svc");
    assert_eq!(tr.path, "/apis/authentication.k8s.io/v1/tokenreviews");
    assert_eq!(tr.access.audiences(), ["bindcar".to_string()]);
    assert_eq!(tr.reviewer_token, None);

    // The backend names the actor by the header the filter sets (and strips from clients).
    let bindcar = super::pod::pod();
    assert_eq!(
        super::pod::env(bindcar.container("bindcar"), "MESH_USER_HEADER"),
        cfg.identity.user,
        "the backend would log a header the filter does not set"
    );
    assert!(cfg.strip_headers.contains(&cfg.identity.user));

    // The same parser refuses a damaged copy (so the check above can fail).
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    v["tokenReview"]["allowedNamespace"] = v["tokenReview"]["allowedNamespaces"].take();
    let e = FilterConfig::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.to_string().contains("allowedNamespace"), "{e}");
}
