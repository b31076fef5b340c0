//! The Istio-shaped TokenReview callout in a real Envoy, with the injected credential.

use super::*;

/// What the sidecar would run, minus Istio: the filter with the WasmPlugin's pluginConfig,
/// a cluster named as Istio names it with the DestinationRule's TLS settings, and the
/// EnvoyFilter's patch applied to it; the reviewer directory laid out as the projected
/// volume is (token, ca.crt, sds.yaml from the ConfigMap), under a temporary directory.
pub(crate) struct Sidecar {
    api: TokenReviewServer,
    up: Upstream,
    envoy: Envoy,
    reviewer_dir: tempfile::TempDir,
}

pub(crate) fn sidecar() -> Sidecar {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt
        .block_on(TokenReviewServer::start(ServerOptions::default()))
        .unwrap();
    let p = pod();
    let mount = p.reviewer_mount().mount_path;
    let reviewer_dir = tempfile::tempdir().unwrap();
    let rd = reviewer_dir.path().to_str().unwrap().to_string();
    let relocate = |s: &str| s.replace(&mount, &rd);
    std::fs::write(reviewer_dir.path().join("token"), api.reviewer_token()).unwrap();
    api.write_ca(&reviewer_dir.path().join("ca.crt")).unwrap();
    let sds_cm: ConfigMap = typed(find(&p.docs, "ConfigMap", "bindcar-reviewer-sds"));
    std::fs::write(
        reviewer_dir.path().join("sds.yaml"),
        relocate(&sds_cm.data.unwrap()["sds.yaml"]),
    )
    .unwrap();

    let idocs = istio_docs();
    let dr =
        istio::<DestinationRuleSpec>(find(&idocs, "DestinationRule", "bindcar-kube-apiserver"))
            .unwrap();
    let port = &dr.spec.traffic_policy.unwrap().port_level_settings.unwrap()[0];
    let tls = port.tls.as_ref().unwrap();
    let ef = istio::<EnvoyFilterSpec>(find(&idocs, "EnvoyFilter", "bindcar-reviewer-credential"))
        .unwrap();
    let patch = ef.spec.config_patches[0].patch.value.clone().unwrap();
    let patch: Value = serde_json::from_str(&relocate(&patch.to_string())).unwrap();
    let cluster_name = format!("outbound|{}||{}", port.port.number, dr.spec.host);
    let cluster = json!({
        "name": cluster_name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {"cluster_name": cluster_name, "endpoints": [{"lb_endpoints": [{"endpoint":
            {"address": {"socket_address": {"address": "127.0.0.1", "port_value": api.https_port()}}}}]}]},
        "transport_socket": {"name": "envoy.transport_sockets.tls", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": tls.sni.clone().unwrap(),
            "common_tls_context": {"validation_context": {
                "trusted_ca": {"filename": relocate(tls.ca_certificates.as_deref().unwrap())},
                "match_typed_subject_alt_names": tls.subject_alt_names.clone().unwrap().iter()
                    .map(|n| json!({"san_type": "DNS", "matcher": {"exact": n}})).collect::<Vec<_>>()}}}},
        "typed_extension_protocol_options": patch["typed_extension_protocol_options"],
    });
    assert_eq!(
        patch.as_object().unwrap().len(),
        1,
        "the patch sets only typed_extension_protocol_options"
    );
    let config = String::from_utf8(plugin_config_json()).unwrap();
    let up = Upstream::start().unwrap();
    let mut o = EnvoyOptions::filter(&config, up.port);
    // JSON is YAML: the cluster as one flow mapping.
    o.extra_clusters = format!("  - {cluster}\n");
    o.concurrency = 1;
    let envoy = Envoy::start(&o).unwrap();
    Sidecar {
        api,
        up,
        envoy,
        reviewer_dir,
    }
}

pub(crate) fn call(envoy: &Envoy, token: &str) -> bindcar_testbed::http::Response {
    get(
        envoy.port,
        "/api/v1/zones",
        &[("authorization", format!("Bearer {token}").as_bytes())],
    )
    .unwrap()
}

#[test]
fn the_istio_shaped_callout_works_in_envoy_with_the_injected_credential() {
    let s = sidecar();
    let external_dns = s.api.mint(&MintRequest::new(
        "dns-system",
        "external-dns",
        &["bindcar"],
    ));
    let r = call(&s.envoy, &external_dns);
    assert_eq!(r.status, 200, "{r:?}\n{}", s.envoy.log_text());
    let seen = s.up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("x-remote-user"),
        Some(&b"system:serviceaccount:dns-system:external-dns"[..])
    );
    // The reviewer credential came from the token file, through the credential injector:
    // the plugin configuration has none.
    assert_eq!(s.api.caller_tokens_seen(), [s.api.reviewer_token()]);

    // The allowlist of the pluginConfig applies: another ServiceAccount of the namespace,
    // the right one in another namespace, and the wrong audience are refused.
    for (ns, name, aud) in [
        ("dns-system", "other", "bindcar"),
        ("default", "external-dns", "bindcar"),
        ("dns-system", "external-dns", "kubernetes"),
    ] {
        let t = s.api.mint(&MintRequest::new(ns, name, &[aud]));
        let r = call(&s.envoy, &t);
        assert!(
            r.status == 401 || r.status == 403,
            "{ns}/{name}/{aud}: {r:?}"
        );
    }
    assert_eq!(s.up.count(), 1);

    // The kubelet rotates the token (a new file moved into the directory): the next review
    // carries the new one, and the old one is no longer accepted by the API server.
    let tmp = s.reviewer_dir.path().join("..token.tmp");
    std::fs::write(&tmp, "rotated-reviewer-token").unwrap();
    s.api.set_reviewer_token("rotated-reviewer-token");
    std::fs::rename(&tmp, s.reviewer_dir.path().join("token")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut n = 0;
    let status = loop {
        n += 1;
        let t = s
            .api
            .mint(&MintRequest::new("dns-system", "external-dns", &["bindcar"]).with_uid(n));
        let r = call(&s.envoy, &t);
        if r.status == 200 || Instant::now() > deadline {
            break r.status;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status, 200, "{}", s.envoy.log_text());
    assert!(s
        .api
        .caller_tokens_seen()
        .contains(&"rotated-reviewer-token".to_string()));
}

#[test]
fn a_refused_reviewer_credential_fails_closed() {
    // Same shape, but the API server no longer accepts the token in the file (say, the
    // RBAC binding is missing): it refuses the call and the filter answers 503, not 200.
    let s = sidecar();
    s.api.set_reviewer_token("a-token-nobody-has");
    let t = s.api.mint(&MintRequest::new(
        "dns-system",
        "external-dns",
        &["bindcar"],
    ));
    let r = call(&s.envoy, &t);
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(s.up.count(), 0);
    assert!(s.api.unauthorized_count() > 0);
}

trait WithUid {
    fn with_uid(self, n: u32) -> Self;
}

impl WithUid for MintRequest {
    /// A distinct token (the filter caches verdicts per token).
    fn with_uid(mut self, n: u32) -> Self {
        self.uid = Some(format!("rotation-{n}"));
        self
    }
}
