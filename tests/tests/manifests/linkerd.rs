//! deploy/linkerd: the kustomize build over envoy/kubernetes, every document exactly its
//! Kubernetes type or a valid Linkerd policy resource (`linkerd_api`), no Istio piece left,
//! and the pieces agreeing: the Server selects the bindcar pod and names its API port, the
//! AuthorizationPolicy and MeshTLSAuthentication point at each other, the mesh's allowed
//! ServiceAccounts are bindcar's own allowlist and exist, the records path reaches named.

use super::linkerd_api::*;
use super::*;

fn linkerd_dir() -> PathBuf {
    workspace_root().join("deploy/linkerd")
}

fn built() -> Vec<Value> {
    let out = kubectl_kustomize(&linkerd_dir());
    assert!(
        out.status.success(),
        "kubectl kustomize deploy/linkerd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    yaml_docs(&String::from_utf8_lossy(&out.stdout)).unwrap()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "{kind}: {found:?}");
    found[0]
}

#[test]
fn every_document_is_a_kubernetes_object_or_a_linkerd_policy() {
    let docs = built();
    let mut failures = Vec::new();
    let mut linkerd = BTreeSet::new();
    for doc in &docs {
        let group = doc["apiVersion"].as_str().unwrap_or_default();
        let result = if group.starts_with("policy.linkerd.io/") {
            linkerd.insert(doc["kind"].as_str().unwrap_or_default().to_string());
            check_linkerd(doc)
        } else {
            check_kubernetes(doc)
        };
        if let Err(e) = result {
            failures.push(format!("{}: {e}", key_of(doc)));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        linkerd.into_iter().collect::<Vec<_>>(),
        ["AuthorizationPolicy", "MeshTLSAuthentication", "Server"]
    );
}

#[test]
fn the_pieces_fit_together_and_nothing_of_istio_is_left() {
    let docs = built();
    let text = docs.iter().map(Value::to_string).collect::<String>();
    for istio in [
        "istio",
        "kube-reviewer",
        "DISABLE_AUTH",
        "BINDCAR_ALLOW_INSECURE_AUTH",
    ] {
        assert!(
            !text.contains(istio),
            "{istio} left in deploy/linkerd's build"
        );
    }
    let ns: Namespace = typed(one(&docs, "Namespace"));
    let ns_annotations = ns.metadata.annotations.unwrap_or_default();
    assert_eq!(ns_annotations["linkerd.io/inject"], "enabled");

    // The pod: injected, never on the host's network (there the check of the identity
    // header's origin could not tell the proxy from any process of the node).
    let deployment: Deployment = typed(one(&docs, "Deployment"));
    let template = &deployment.spec.template;
    let meta = template.metadata.as_ref().unwrap();
    assert_eq!(
        meta.annotations.as_ref().unwrap()["linkerd.io/inject"],
        "enabled"
    );
    let labels = meta.labels.clone().unwrap();
    let spec = template.spec.as_ref().unwrap();
    assert_ne!(spec.host_network, Some(true));
    let bindcar = spec
        .containers
        .iter()
        .find(|c| c.name == "bindcar")
        .unwrap();
    assert_eq!(env(bindcar, "BIND_AUTH_MODE"), "linkerd");
    assert_eq!(env(bindcar, "BIND_LINKERD_TRUST_DOMAIN"), "cluster.local");
    assert_eq!(
        env(bindcar, "BIND_LINKERD_CONTROL_PLANE_NAMESPACE"),
        "linkerd"
    );
    let api_port = bindcar
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .find(|p| p.name.as_deref() == Some("http-api"))
        .unwrap();
    let cm: ConfigMap = typed(
        docs.iter()
            .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "bindcar-named")
            .unwrap(),
    );
    assert_records_path(bindcar, &cm.data.unwrap()["named.conf"]);

    // Server → the pod's API port; AuthorizationPolicy → Server and MeshTLSAuthentication.
    let server: Server = serde_json::from_value(one(&docs, "Server").clone()).unwrap();
    let selector = server.spec.pod_selector.as_ref().unwrap();
    assert!(selector.match_expressions.is_empty());
    assert!(
        selector
            .match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v)),
        "the Server selects {:?}, the pod has {labels:?}",
        selector.match_labels
    );
    assert_eq!(server.spec.port, Port::Name("http-api".into()));
    assert_eq!(api_port.container_port, 8080);
    assert_eq!(server.spec.access_policy.as_deref(), Some("deny"));
    let policy: AuthorizationPolicy =
        serde_json::from_value(one(&docs, "AuthorizationPolicy").clone()).unwrap();
    let target = &policy.spec.target_ref;
    assert_eq!(
        (target.kind.as_str(), target.name.as_deref()),
        ("Server", Some(server.metadata.name.as_str()))
    );
    let mesh: MeshTlsAuthentication =
        serde_json::from_value(one(&docs, "MeshTLSAuthentication").clone()).unwrap();
    let refs = &policy.spec.required_authentication_refs;
    assert_eq!(refs.len(), 1);
    assert_eq!(
        (refs[0].kind.as_str(), refs[0].name.as_deref()),
        ("MeshTLSAuthentication", Some(mesh.metadata.name.as_str()))
    );
    for r in [&policy.metadata, &mesh.metadata, &server.metadata] {
        assert_eq!(r.namespace.as_deref(), Some(NAMESPACE));
    }

    // The mesh admits exactly bindcar's allowlist, and those ServiceAccounts exist.
    let admitted: BTreeSet<String> = mesh
        .spec
        .identity_refs
        .as_ref()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r.kind, "ServiceAccount");
            format!(
                "system:serviceaccount:{}:{}",
                r.namespace.as_deref().unwrap_or(NAMESPACE),
                r.name.as_deref().unwrap()
            )
        })
        .collect();
    let allowed: BTreeSet<String> = env(bindcar, "BIND_ALLOWED_SERVICE_ACCOUNTS")
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    assert_eq!(admitted, allowed);
    for user in &allowed {
        let (ns, name) = bindcar_policy::access::split_service_account(user).unwrap();
        assert!(
            docs.iter().any(|d| d["kind"] == "ServiceAccount"
                && d["metadata"]["name"] == name
                && d["metadata"]["namespace"] == ns),
            "ServiceAccount {ns}/{name} is allowed but not created"
        );
    }
    assert!(env(bindcar, "BIND_ALLOWED_NAMESPACES")
        .split(',')
        .all(|ns| allowed.iter().any(|u| u.contains(&format!(":{ns}:")))));
}
