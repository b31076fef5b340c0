//! The pieces fit together: labels, ports, paths, names, env, RBAC across every manifest.
//! One test, one long walk over the cross-references (~400 lines): split, each part would
//! redo the same reading and lose the sequence the failures are reported in.

use super::*;

#[test]
fn the_pieces_fit_together() {
    let p = pod();
    let docs = &p.docs;
    let labels = p.labels();
    assert_eq!(
        labels.get(POD_LABEL.0).map(String::as_str),
        Some(POD_LABEL.1)
    );
    let has = |sel: &BTreeMap<String, String>| sel.iter().all(|(k, v)| labels.get(k) == Some(v));

    // Namespace, and every namespaced object in it.
    let ns: Namespace = typed(find(docs, "Namespace", NAMESPACE));
    assert_eq!(ns.metadata.labels.unwrap()["istio-injection"], "enabled");
    for (f, d) in docs {
        if !matches!(
            d["kind"].as_str(),
            Some("Namespace" | "ClusterRole" | "ClusterRoleBinding")
        ) {
            assert_eq!(d["metadata"]["namespace"], NAMESPACE, "{f}: {}", key_of(d));
        }
    }

    // Selectors: Deployment, Service, NetworkPolicies, and every Istio object.
    let dspec = &p.deployment.spec;
    assert!(has(dspec.selector.match_labels.as_ref().unwrap()));
    assert_eq!(dspec.replicas, Some(1));
    assert_eq!(
        dspec.strategy.as_ref().unwrap().type_.as_deref(),
        Some("Recreate")
    );
    let svc: Service = typed(find(docs, "Service", "bindcar"));
    let svc_spec = svc.spec.unwrap();
    assert!(has(&svc_spec.selector.clone().unwrap()));
    for (_, d) in docs.iter().filter(|(_, d)| d["kind"] == "NetworkPolicy") {
        let np: NetworkPolicy = typed(d);
        assert!(has(np
            .spec
            .unwrap()
            .pod_selector
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()));
    }
    let idocs = istio_docs();
    let wp = istio::<WasmPluginSpec>(find(&idocs, "WasmPlugin", "bindcar-auth")).unwrap();
    assert!(has(&wp.spec.selector.as_ref().unwrap().match_labels));
    let dr =
        istio::<DestinationRuleSpec>(find(&idocs, "DestinationRule", "bindcar-kube-apiserver"))
            .unwrap();
    assert!(has(&dr
        .spec
        .workload_selector
        .as_ref()
        .unwrap()
        .match_labels));
    let pa =
        istio::<PeerAuthenticationSpec>(find(&idocs, "PeerAuthentication", "bindcar")).unwrap();
    assert!(has(&pa.spec.selector.as_ref().unwrap().match_labels));
    let ef = istio::<EnvoyFilterSpec>(find(&idocs, "EnvoyFilter", "bindcar-reviewer-credential"))
        .unwrap();
    assert!(has(&ef.spec.workload_selector.as_ref().unwrap().labels));

    // Identity and RBAC: the pod's ServiceAccount may create TokenReviews, nothing else.
    let sa_name = p.spec().service_account_name.clone().unwrap();
    let sa: ServiceAccount = typed(find(docs, "ServiceAccount", &sa_name));
    assert_eq!(sa.automount_service_account_token, Some(false));
    let crb: ClusterRoleBinding = typed(find(docs, "ClusterRoleBinding", "bindcar-tokenreview"));
    let subjects = crb.subjects.unwrap();
    assert_eq!(subjects.len(), 1);
    assert_eq!(
        (subjects[0].kind.as_str(), subjects[0].name.as_str()),
        ("ServiceAccount", sa_name.as_str())
    );
    assert_eq!(subjects[0].namespace.as_deref(), Some(NAMESPACE));
    assert_eq!(crb.role_ref.kind, "ClusterRole");
    let cr: ClusterRole = typed(find(docs, "ClusterRole", &crb.role_ref.name));
    let rules = cr.rules.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0].api_groups.as_deref(),
        Some(&["authentication.k8s.io".to_string()][..])
    );
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["tokenreviews".to_string()][..])
    );
    assert_eq!(rules[0].verbs, ["create"]);

    // Volumes: every mount names a volume, every referenced object is shipped (except
    // kube-root-ca.crt, which Kubernetes publishes in every namespace).
    let spec = p.spec();
    let volumes = spec.volumes.as_ref().unwrap();
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no volume {name}"))
    };
    for c in &spec.containers {
        for m in c.volume_mounts.as_ref().unwrap() {
            volume(&m.name);
        }
    }
    for v in volumes {
        if let Some(pvc) = &v.persistent_volume_claim {
            find(docs, "PersistentVolumeClaim", &pvc.claim_name);
        }
        if let Some(cm) = &v.config_map {
            find(docs, "ConfigMap", &cm.name);
        }
        if let Some(s) = &v.secret {
            find(docs, "Secret", s.secret_name.as_deref().unwrap());
        }
        for src in v
            .projected
            .as_ref()
            .and_then(|p| p.sources.clone())
            .unwrap_or_default()
        {
            if let Some(cm) = src.config_map {
                if cm.name != "kube-root-ca.crt" {
                    find(docs, "ConfigMap", &cm.name);
                }
            }
        }
    }

    // named and bindcar: same zone directory on the PVC, same key, control channel on
    // 127.0.0.1 at the port named listens on.
    let named = p.container("named");
    let bindcar = p.container("bindcar");
    let conf = p.named_conf();
    let zone_dir = named_option(&conf, "directory");
    assert!(volume("zones").persistent_volume_claim.is_some());
    assert_eq!(mount_path(named, "zones"), zone_dir);
    assert_eq!(mount_path(bindcar, "zones"), zone_dir);
    assert_eq!(env(bindcar, "BIND_ZONE_DIR"), zone_dir);
    let controls = conf
        .lines()
        .find(|l| l.trim_start().starts_with("inet 127.0.0.1 port "))
        .unwrap();
    let control_port = controls.split_whitespace().nth(3).unwrap();
    assert_eq!(
        env(bindcar, "RNDC_SERVER"),
        format!("127.0.0.1:{control_port}")
    );
    let stats = conf
        .split("statistics-channels {")
        .nth(1)
        .and_then(|rest| {
            rest.lines()
                .find(|l| l.trim_start().starts_with("inet 127.0.0.1 port "))
        })
        .expect("named.conf has a statistics channel on 127.0.0.1");
    let stats_port = stats.split_whitespace().nth(3).unwrap();
    assert_eq!(
        env(bindcar, "BIND_STATS_URL"),
        format!("http://127.0.0.1:{stats_port}")
    );
    let key_file = named_option(&conf, "include");
    assert_eq!(env(bindcar, "RNDC_CONF"), key_file);
    let key_dir = Path::new(&key_file)
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(mount_path(named, "rndc-key"), key_dir);
    assert_eq!(mount_path(bindcar, "rndc-key"), key_dir);
    let secret: Secret = typed(find(docs, "Secret", "bindcar-rndc-key"));
    let key_text =
        &secret.string_data.unwrap()[Path::new(&key_file).file_name().unwrap().to_str().unwrap()];
    let key_name = key_text.split('"').nth(1).unwrap();
    assert!(
        controls.contains(&format!("keys {{ \"{key_name}\"; }}")),
        "{controls}"
    );
    assert_eq!(mount_path(named, "named-config"), "/etc/bind");
    assert!(named
        .command
        .as_ref()
        .unwrap()
        .join(" ")
        .contains("-c /etc/bind/named.conf"));
    for probe in [&named.liveness_probe, &named.readiness_probe] {
        let cmd = probe
            .as_ref()
            .unwrap()
            .exec
            .as_ref()
            .unwrap()
            .command
            .clone()
            .unwrap()
            .join(" ");
        assert!(
            cmd.contains(&format!("-k {key_file}")) && cmd.contains(&format!("-p {control_port}")),
            "{cmd}"
        );
    }

    // DNS: named's port, the Service's targets, the NetworkPolicy.
    let dns_port = named_option(&conf, "listen-on port")
        .split_whitespace()
        .next()
        .unwrap()
        .parse::<i32>()
        .unwrap();
    let named_ports = named.ports.as_ref().unwrap();
    assert!(named_ports.iter().all(|p| p.container_port == dns_port));
    // The records API sends its UPDATEs and transfers to named in this pod, at that port
    // (bindcar's default, 53, is not where named listens: every records call would be 503).
    assert_records_path(bindcar, &conf);
    let ingress: NetworkPolicy = typed(find(docs, "NetworkPolicy", "bindcar-ingress"));
    let ingress_rules = ingress.spec.unwrap().ingress.unwrap();

    // The API: bindcar's port, its probes, the Service, the WasmPlugin, the NetworkPolicy.
    let api = api_port();
    assert_eq!(env(bindcar, "API_PORT"), api.to_string());
    assert_eq!(env(bindcar, "BIND_API_ADDRESS"), "0.0.0.0");
    assert_eq!(env(bindcar, "DISABLE_AUTH"), "true");
    assert_eq!(env(bindcar, "BINDCAR_ALLOW_INSECURE_AUTH"), "true");
    for (probe, path) in [
        (&bindcar.liveness_probe, "/api/v1/health"),
        (&bindcar.readiness_probe, "/api/v1/ready"),
    ] {
        let get = probe.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(get.port, IntOrString::String("http-api".into()));
    }
    let svc_ports = svc_spec.ports.unwrap();
    let http = svc_ports
        .iter()
        .find(|p| p.name.as_deref() == Some("http-api"))
        .unwrap();
    assert_eq!(http.app_protocol.as_deref(), Some("http"));
    assert_eq!(
        http.target_port,
        Some(IntOrString::String("http-api".into()))
    );
    for sp in &svc_ports {
        let Some(IntOrString::String(t)) = &sp.target_port else {
            panic!("{sp:?}")
        };
        let all: Vec<_> = spec
            .containers
            .iter()
            .flat_map(|c| c.ports.clone().unwrap_or_default())
            .collect();
        let cp = all
            .iter()
            .find(|cp| cp.name.as_deref() == Some(t.as_str()))
            .unwrap_or_else(|| panic!("{t}"));
        assert_eq!(cp.protocol, sp.protocol, "{t}");
    }
    let api_rule = &ingress_rules[0];
    let from = api_rule.from.as_ref().unwrap();
    assert_eq!(
        from.len(),
        1,
        "one peer: injected namespace AND sidecar-carrying pod"
    );
    assert_eq!(
        from[0]
            .namespace_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["istio-injection"],
        "enabled"
    );
    assert_eq!(
        from[0]
            .pod_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["security.istio.io/tlsMode"],
        "istio"
    );
    let api_rule_ports: Vec<_> = api_rule
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.port.clone())
        .collect();
    assert_eq!(api_rule_ports, [Some(IntOrString::Int(api as i32))]);
    for rule in &ingress_rules[1..] {
        for port in rule.ports.as_ref().unwrap() {
            assert_eq!(
                port.port,
                Some(IntOrString::Int(dns_port)),
                "only DNS is open to all"
            );
        }
    }
    let pa_ports = pa.spec.port_level_mtls.as_ref().unwrap();
    assert_eq!(pa_ports[&api.to_string()].mode, MtlsMode::Strict);
    let cfg: Value = serde_json::from_slice(&plugin_config_json()).unwrap();
    for path in ["/api/v1/health", "/api/v1/ready"] {
        assert!(cfg["exemptPaths"]
            .as_array()
            .unwrap()
            .contains(&json!(path)));
    }

    // Egress reaches the API server.
    let egress: NetworkPolicy = typed(find(docs, "NetworkPolicy", "bindcar-egress"));
    let egress_ports: Vec<_> = egress
        .spec
        .unwrap()
        .egress
        .unwrap()
        .iter()
        .flat_map(|r| r.ports.clone().unwrap_or_default())
        .filter_map(|p| p.port)
        .collect();
    for port in [443, 6443] {
        assert!(egress_ports.contains(&IntOrString::Int(port)));
    }

    // The callout: cluster name = the sidecar's cluster for the DestinationRule's host and
    // port; TLS with the CA, SDS file and token mounted into istio-proxy.
    let tr = &cfg["tokenReview"];
    let dr_port = &dr
        .spec
        .traffic_policy
        .as_ref()
        .unwrap()
        .port_level_settings
        .as_ref()
        .unwrap()[0];
    assert_eq!(
        tr["cluster"],
        format!("outbound|{}||{}", dr_port.port.number, dr.spec.host)
    );
    assert_eq!(dr.spec.host, "kubernetes.default.svc.cluster.local");
    assert_eq!(dr.spec.export_to.as_deref(), Some(&[".".to_string()][..]));
    let tls = dr_port.tls.as_ref().unwrap();
    assert_eq!(tls.mode, TlsMode::Simple);
    assert_eq!(tr["authority"], json!(tls.sni.as_deref().unwrap()));
    assert_eq!(
        tls.subject_alt_names.as_deref(),
        Some(&[tls.sni.clone().unwrap()][..])
    );
    let reviewer = p.reviewer_mount();
    let projected = volume(&reviewer.name)
        .projected
        .clone()
        .unwrap()
        .sources
        .unwrap();
    let in_reviewer_dir = |path: &str| -> String {
        Path::new(path)
            .strip_prefix(&reviewer.mount_path)
            .unwrap_or_else(|_| panic!("{path} is not under {}", reviewer.mount_path))
            .to_str()
            .unwrap()
            .to_string()
    };
    let ca_file = in_reviewer_dir(tls.ca_certificates.as_deref().unwrap());
    assert!(projected
        .iter()
        .any(|s| s
            .config_map
            .as_ref()
            .is_some_and(|cm| cm.name == "kube-root-ca.crt"
                && cm
                    .items
                    .as_ref()
                    .unwrap()
                    .iter()
                    .any(|i| i.key == "ca.crt" && i.path == ca_file))));
    let token = projected
        .iter()
        .find_map(|s| s.service_account_token.clone())
        .unwrap();
    assert!(token.audience.is_none(), "the API server's own audience");
    let sds_cm: ConfigMap = typed(find(docs, "ConfigMap", "bindcar-reviewer-sds"));
    let sds_text = &sds_cm.data.unwrap()["sds.yaml"];
    let sds = yaml_docs(sds_text).unwrap().remove(0);
    let secret_file = sds["resources"][0]["generic_secret"]["secret"]["filename"]
        .as_str()
        .unwrap();
    assert_eq!(in_reviewer_dir(secret_file), token.path);
    let patch = &ef.spec.config_patches[0];
    assert_eq!(patch.apply_to, ApplyTo::Cluster);
    assert_eq!(patch.patch.operation, PatchOperation::Merge);
    let m = patch.match_.as_ref().unwrap();
    assert_eq!(m.context, Some(PatchContext::SidecarOutbound));
    let cm = m.cluster.as_ref().unwrap();
    assert_eq!(
        (cm.service.as_deref(), cm.port_number),
        (Some(dr.spec.host.as_str()), Some(dr_port.port.number))
    );
    let hpo = &patch.patch.value.as_ref().unwrap()["typed_extension_protocol_options"]
        ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    let cred = &hpo["http_filters"][0]["typed_config"]["credential"]["typed_config"]["credential"];
    assert_eq!(cred["name"], sds["resources"][0]["name"]);
    let sds_path = cred["sds_config"]["path_config_source"]["path"]
        .as_str()
        .unwrap();
    let sds_item = projected
        .iter()
        .find_map(|s| {
            s.config_map
                .clone()
                .filter(|c| c.name == "bindcar-reviewer-sds")
        })
        .unwrap();
    assert_eq!(in_reviewer_dir(sds_path), sds_item.items.unwrap()[0].path);
    assert_eq!(
        cred["sds_config"]["path_config_source"]["watched_directory"]["path"],
        json!(reviewer.mount_path)
    );
}
