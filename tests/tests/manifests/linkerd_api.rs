//! Typed models of the three Linkerd policy resources deploy/linkerd ships, refusing what
//! Linkerd's CRD schemas refuse: unknown fields, missing required fields, values outside an
//! enum or a pattern, and the schemas' `oneOf`s. Written from the CRDs Linkerd publishes in its
//! `linkerd-crds` chart (linkerd/linkerd2, charts/linkerd-crds/templates/policy/: server.yaml
//! at 111fc98d, authorization-policy.yaml and meshtls-authentication.yaml at 04bd8f37; read,
//! not copied: no registry package carries them), for the versions we use:
//! `Server` policy.linkerd.io/v1beta3, `AuthorizationPolicy` and `MeshTLSAuthentication`
//! v1alpha1. A value the schema leaves as a free string but Linkerd's docs enumerate
//! (`proxyProtocol`, `accessPolicy`) is checked against the documented values.

use super::*;

#[allow(dead_code)] // read by serde: unknown fields are what is checked
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Meta {
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Resource<S> {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) metadata: Meta,
    pub(crate) spec: S,
}

#[derive(Debug, Deserialize)]
pub(crate) enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[allow(dead_code)] // read by serde: unknown fields and operators are what is checked
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Requirement {
    pub(crate) key: String,
    pub(crate) operator: Operator,
    #[serde(default)]
    pub(crate) values: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Selector {
    #[serde(default)]
    pub(crate) match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) match_expressions: Vec<Requirement>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub(crate) enum Port {
    Number(u16),
    Name(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ServerSpec {
    pub(crate) pod_selector: Option<Selector>,
    pub(crate) external_workload_selector: Option<Selector>,
    pub(crate) port: Port,
    pub(crate) proxy_protocol: Option<String>,
    pub(crate) access_policy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reference {
    pub(crate) group: Option<String>,
    pub(crate) kind: String,
    pub(crate) name: Option<String>,
    pub(crate) namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AuthorizationPolicySpec {
    pub(crate) target_ref: Reference,
    pub(crate) required_authentication_refs: Vec<Reference>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct MeshTlsSpec {
    pub(crate) identities: Option<Vec<String>>,
    pub(crate) identity_refs: Option<Vec<Reference>>,
}

pub(crate) type Server = Resource<ServerSpec>;
pub(crate) type AuthorizationPolicy = Resource<AuthorizationPolicySpec>;
pub(crate) type MeshTlsAuthentication = Resource<MeshTlsSpec>;

/// Linkerd's documented values (docs: "Server" and "Protocol detection").
const PROXY_PROTOCOLS: [&str; 6] = ["unknown", "HTTP/1", "HTTP/2", "gRPC", "opaque", "TLS"];
const ACCESS_POLICIES: [&str; 6] = [
    "deny",
    "all-authenticated",
    "all-unauthenticated",
    "cluster-authenticated",
    "cluster-unauthenticated",
    "audit",
];

fn dns_subdomain(s: &str) -> bool {
    s.split('.').all(|l| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    })
}

/// The CRDs' reference rules: group empty or a DNS subdomain (≤ 253), kind 1–63 of
/// `^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`, name 1–253 when given, namespace ≤ 253.
fn check_reference(r: &Reference, name_required: bool) -> Result<(), String> {
    if let Some(g) = &r.group {
        if !(g.is_empty() || (g.len() <= 253 && dns_subdomain(g))) {
            return Err(format!("group {g:?}"));
        }
    }
    let k = r.kind.as_bytes();
    let kind_ok = (1..=63).contains(&k.len())
        && k[0].is_ascii_alphabetic()
        && k.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && k[k.len() - 1] != b'-';
    if !kind_ok {
        return Err(format!("kind {:?}", r.kind));
    }
    match &r.name {
        None if name_required => return Err("name is required".into()),
        Some(n) if n.is_empty() || n.len() > 253 => return Err(format!("name {n:?}")),
        _ => {}
    }
    if r.namespace.as_ref().is_some_and(|n| n.len() > 253) {
        return Err("namespace too long".into());
    }
    Ok(())
}

fn check_meta<S>(r: &Resource<S>, api_version: &str, kind: &str) -> Result<(), String> {
    if r.api_version != api_version || r.kind != kind {
        return Err(format!(
            "{} {} is not {api_version} {kind}",
            r.api_version, r.kind
        ));
    }
    if !dns_subdomain(&r.metadata.name) {
        return Err(format!("name {:?}", r.metadata.name));
    }
    Ok(())
}

/// The document is a valid Linkerd policy resource of its kind, as the CRD schemas say.
pub(crate) fn check_linkerd(doc: &Value) -> Result<(), String> {
    let kind = doc["kind"].as_str().unwrap_or_default();
    let typed_as = |e: serde_json::Error| format!("{kind}: {e}");
    match kind {
        "Server" => {
            let s: Server = serde_json::from_value(doc.clone()).map_err(typed_as)?;
            check_meta(&s, "policy.linkerd.io/v1beta3", "Server")?;
            // oneOf: podSelector | externalWorkloadSelector.
            if s.spec.pod_selector.is_some() == s.spec.external_workload_selector.is_some() {
                return Err(
                    "Server: exactly one of podSelector and externalWorkloadSelector".into(),
                );
            }
            if let Port::Number(0) = s.spec.port {
                return Err("Server: port 0".into());
            }
            if let Some(p) = &s.spec.proxy_protocol {
                if !PROXY_PROTOCOLS.contains(&p.as_str()) {
                    return Err(format!(
                        "Server: proxyProtocol {p:?} (one of {PROXY_PROTOCOLS:?})"
                    ));
                }
            }
            if let Some(a) = &s.spec.access_policy {
                if !ACCESS_POLICIES.contains(&a.as_str()) {
                    return Err(format!(
                        "Server: accessPolicy {a:?} (one of {ACCESS_POLICIES:?})"
                    ));
                }
            }
            Ok(())
        }
        "AuthorizationPolicy" => {
            let a: AuthorizationPolicy = serde_json::from_value(doc.clone()).map_err(typed_as)?;
            check_meta(&a, "policy.linkerd.io/v1alpha1", "AuthorizationPolicy")?;
            check_reference(&a.spec.target_ref, true)
                .map_err(|e| format!("AuthorizationPolicy: targetRef: {e}"))?;
            for r in &a.spec.required_authentication_refs {
                check_reference(r, true)
                    .map_err(|e| format!("AuthorizationPolicy: requiredAuthenticationRefs: {e}"))?;
            }
            Ok(())
        }
        "MeshTLSAuthentication" => {
            let m: MeshTlsAuthentication = serde_json::from_value(doc.clone()).map_err(typed_as)?;
            check_meta(&m, "policy.linkerd.io/v1alpha1", "MeshTLSAuthentication")?;
            // oneOf: identities | identityRefs.
            if m.spec.identities.is_some() == m.spec.identity_refs.is_some() {
                return Err(
                    "MeshTLSAuthentication: exactly one of identities and identityRefs".into(),
                );
            }
            for id in m.spec.identities.iter().flatten() {
                let (first, rest) = id.split_once('.').unwrap_or((id, ""));
                let ok = (first == "*" || dns_subdomain(first))
                    && (rest.is_empty() || dns_subdomain(rest));
                if !ok {
                    return Err(format!("MeshTLSAuthentication: identity {id:?}"));
                }
            }
            for r in m.spec.identity_refs.iter().flatten() {
                check_reference(r, false)
                    .map_err(|e| format!("MeshTLSAuthentication: identityRefs: {e}"))?;
            }
            Ok(())
        }
        other => Err(format!(
            "{other} is not a Linkerd policy resource modelled here"
        )),
    }
}

#[test]
fn the_models_refuse_what_the_crds_refuse() {
    let server = json!({"apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server",
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {"podSelector": {"matchLabels": {"a": "b"}}, "port": "http-api",
                 "proxyProtocol": "HTTP/1", "accessPolicy": "deny"}});
    check_linkerd(&server).unwrap();
    let broken = |pointer: &str, value: Value| {
        let mut d = server.clone();
        *d.pointer_mut(pointer).unwrap() = value;
        check_linkerd(&d).unwrap_err()
    };
    assert!(broken("/spec/proxyProtocol", json!("HTTP/3")).contains("proxyProtocol"));
    assert!(broken("/spec/accessPolicy", json!("allow")).contains("accessPolicy"));
    assert!(broken("/apiVersion", json!("policy.linkerd.io/v1beta1")).contains("v1beta3"));
    let mut d = server.clone();
    d["spec"]["prot"] = json!(8080);
    assert!(check_linkerd(&d)
        .unwrap_err()
        .contains("unknown field `prot`"));
    let mut d = server.clone();
    d["spec"].as_object_mut().unwrap().remove("port");
    assert!(check_linkerd(&d)
        .unwrap_err()
        .contains("missing field `port`"));
    let mut d = server.clone();
    d["spec"]["externalWorkloadSelector"] = json!({});
    assert!(check_linkerd(&d).unwrap_err().contains("exactly one"));
    let mut d = server.clone();
    d["spec"]["podSelector"] = json!({"matchExpressions": [{"key": "a", "operator": "Is"}]});
    assert!(check_linkerd(&d).is_err());

    let policy = json!({"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "p"},
        "spec": {"targetRef": {"group": "policy.linkerd.io", "kind": "Server", "name": "s"},
                 "requiredAuthenticationRefs": [{"group": "policy.linkerd.io",
                     "kind": "MeshTLSAuthentication", "name": "m"}]}});
    check_linkerd(&policy).unwrap();
    let mut d = policy.clone();
    d["spec"]["targetRef"]["kind"] = json!("Server!");
    assert!(check_linkerd(&d).is_err());
    let mut d = policy.clone();
    d["spec"]["targetRef"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    assert!(check_linkerd(&d).is_err());
    let mut d = policy.clone();
    d["spec"]
        .as_object_mut()
        .unwrap()
        .remove("requiredAuthenticationRefs");
    assert!(check_linkerd(&d).is_err());

    let mesh = json!({"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "MeshTLSAuthentication",
        "metadata": {"name": "m"},
        "spec": {"identityRefs": [{"kind": "ServiceAccount", "name": "a", "namespace": "b"}]}});
    check_linkerd(&mesh).unwrap();
    let mut d = mesh.clone();
    d["spec"]["identities"] = json!(["*.b.serviceaccount.identity.linkerd.cluster.local"]);
    assert!(check_linkerd(&d).unwrap_err().contains("exactly one"));
    d["spec"].as_object_mut().unwrap().remove("identityRefs");
    check_linkerd(&d).unwrap();
    d["spec"]["identities"] = json!(["a.B.serviceaccount"]);
    assert!(check_linkerd(&d).is_err());
    d["spec"]["identities"] = json!(["a.*.x"]);
    assert!(check_linkerd(&d).is_err());
}
