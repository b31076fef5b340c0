//! The deployment artifacts: envoy/kubernetes (plain manifests) and envoy/istio (WasmPlugin
//! and the Istio objects the callout needs).
//!
//! - Every Kubernetes document deserialises into its k8s-openapi type with nothing left
//!   over: no field that the type ignores (serde_ignored) and nothing lost in a
//!   deserialise/serialise round trip. k8s-openapi ignores unknown fields by itself, so
//!   without this a misspelt key (`replica: 2`) would pass silently; a test shows it fails.
//! - Istio objects are read into typed models of the Istio API (istio/api protos) that
//!   refuse unknown fields and unknown enum values.
//! - `kubectl kustomize` builds both directories and reads every document as we do.
//! - The WasmPlugin's pluginConfig is accepted by the filter's own parser, in TokenReview mode.
//! - The pieces fit together (labels, ports, paths, names, env, RBAC, hardening), named.conf
//!   passes named-checkconf, and the Istio-shaped callout (cluster name, TLS settings, the
//!   EnvoyFilter's credential injector, the SDS file) works in a real Envoy against a
//!   TokenReview server, including a rotated reviewer token.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bindcar_policy::config::{FilterConfig, Mode};
use bindcar_testbed::envoy::{workspace_root, Envoy, EnvoyOptions};
use bindcar_testbed::http::get;
use bindcar_testbed::tokenreview::{MintRequest, ServerOptions, TokenReviewServer};
use bindcar_testbed::upstream::Upstream;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PersistentVolumeClaim, PodSpec, Secret, Service,
    ServiceAccount, VolumeMount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::Resource;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const NAMESPACE: &str = "dns-system";
const POD_LABEL: (&str, &str) = ("app.kubernetes.io/name", "bindcar");

// ---------------------------------------------------------------------------------------
// Reading the files

fn dir(name: &str) -> PathBuf {
    workspace_root().join("envoy").join(name)
}

/// The .yaml files of a directory, except kustomization.yaml, sorted.
fn manifest_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    files
}

/// Every YAML document of a text, as JSON values (empty documents skipped).
fn yaml_docs(text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|e| e.to_string())?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// (file name, document) for every document of every manifest of a directory.
fn docs_of(dir: &Path) -> Vec<(String, Value)> {
    let files = manifest_files(dir);
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).unwrap();
        let docs = yaml_docs(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!docs.is_empty(), "{name} holds no document");
        out.extend(docs.into_iter().map(|d| (name.clone(), d)));
    }
    out
}

fn key_of(doc: &Value) -> String {
    format!(
        "{} {} {}/{}",
        doc["apiVersion"].as_str().unwrap_or("?"),
        doc["kind"].as_str().unwrap_or("?"),
        doc["metadata"]["namespace"].as_str().unwrap_or(""),
        doc["metadata"]["name"].as_str().unwrap_or("?")
    )
}

fn find<'a>(docs: &'a [(String, Value)], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn typed<T: DeserializeOwned>(doc: &Value) -> T {
    serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{}: {e}", key_of(doc)))
}

// ---------------------------------------------------------------------------------------
// Strict Kubernetes check

/// Paths of the fields the type did not take (k8s-openapi skips unknown keys silently).
fn ignored_fields<T: DeserializeOwned>(doc: &Value) -> Result<Vec<String>, String> {
    let mut ignored = Vec::new();
    // serde_ignored marks an Option level with `?`; k8s-openapi reads most fields through
    // an Option, so those marks carry no information here.
    serde_ignored::deserialize::<_, _, T>(doc.clone(), |path| {
        ignored.push(path.to_string().replace(".?", ""))
    })
    .map_err(|e| format!("does not deserialise: {e}"))?;
    Ok(ignored)
}

/// Drops nulls, empty objects and empty arrays (absent and empty mean the same here).
fn normalise(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Object(m) => {
            let m: serde_json::Map<String, Value> = m
                .iter()
                .filter_map(|(k, v)| normalise(v).map(|v| (k.clone(), v)))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        Value::Array(a) => {
            let a: Vec<Value> = a.iter().filter_map(normalise).collect();
            (!a.is_empty()).then_some(Value::Array(a))
        }
        other => Some(other.clone()),
    }
}

/// Where `after` differs from `before`, by path.
fn differences(before: &Value, after: &Value, path: &str, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(vb) => differences(va, vb, &p, out),
                    None => out.push(format!("{p} lost")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{path}.{k} appeared"));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                differences(va, vb, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{path}: {a} became {b}")),
    }
}

/// What a deserialise/serialise round trip through `T` loses or changes.
fn round_trip_losses<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<Vec<String>, String> {
    let obj: T =
        serde_json::from_value(doc.clone()).map_err(|e| format!("does not deserialise: {e}"))?;
    let back = serde_json::to_value(&obj).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    differences(
        &normalise(doc).unwrap_or_default(),
        &normalise(&back).unwrap_or_default(),
        "",
        &mut out,
    );
    Ok(out)
}

fn strict<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<(), String> {
    let ignored = ignored_fields::<T>(doc)?;
    if !ignored.is_empty() {
        return Err(format!("unknown field(s): {}", ignored.join(", ")));
    }
    let lost = round_trip_losses::<T>(doc)?;
    if !lost.is_empty() {
        return Err(format!(
            "not preserved by the round trip: {}",
            lost.join(", ")
        ));
    }
    Ok(())
}

macro_rules! strict_by_kind {
    ($doc:expr; $($t:ty),+ $(,)?) => {{
        let doc: &Value = $doc;
        let api = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        $(
            if api == <$t as Resource>::API_VERSION && kind == <$t as Resource>::KIND {
                return strict::<$t>(doc);
            }
        )+
        Err(format!("no k8s-openapi type for apiVersion {api:?} kind {kind:?}"))
    }};
}

/// The document is exactly a Kubernetes object of its kind.
fn check_kubernetes(doc: &Value) -> Result<(), String> {
    strict_by_kind!(doc; Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, Role,
        RoleBinding, ConfigMap, Secret, PersistentVolumeClaim, Deployment, Service,
        NetworkPolicy)
}

#[test]
fn every_kubernetes_manifest_is_exactly_a_kubernetes_object() {
    let docs = docs_of(&dir("kubernetes"));
    let mut failures = Vec::new();
    let mut kinds = BTreeSet::new();
    for (file, doc) in &docs {
        kinds.insert(doc["kind"].as_str().unwrap_or_default().to_string());
        if let Err(e) = check_kubernetes(doc) {
            failures.push(format!("{file}: {}: {e}", key_of(doc)));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "NetworkPolicy",
    ] {
        assert!(
            kinds.contains(kind),
            "no {kind} in envoy/kubernetes: {kinds:?}"
        );
    }
}

fn deployment_doc() -> Value {
    find(&docs_of(&dir("kubernetes")), "Deployment", "bindcar").clone()
}

fn rename_key(v: &mut Value, pointer: &str, from: &str, to: &str) {
    let obj = v
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("{pointer}"));
    let val = obj
        .remove(from)
        .unwrap_or_else(|| panic!("{pointer}/{from}"));
    obj.insert(to.to_string(), val);
}

#[test]
fn a_misspelt_field_fails_the_check() {
    // The shipped Deployment passes; each single misspelling of it fails, naming the key.
    let good = deployment_doc();
    check_kubernetes(&good).unwrap();
    let cases = [
        ("/spec", "replicas", "replica"),
        ("/spec/template/spec", "containers", "contianers"),
        (
            "/spec/template/spec/containers/1/securityContext",
            "readOnlyRootFilesystem",
            "readOnlyRootFilesytem",
        ),
        (
            "/spec/template/spec/securityContext",
            "runAsNonRoot",
            "runAsNonroot",
        ),
        ("/metadata", "namespace", "namepsace"),
    ];
    for (pointer, from, to) in cases {
        let mut bad = good.clone();
        rename_key(&mut bad, pointer, from, to);
        let e = check_kubernetes(&bad).expect_err(to);
        assert!(e.contains(to) || e.contains(from), "{to}: {e}");
    }

    // Each of the two mechanisms catches it on its own.
    let mut bad = good.clone();
    rename_key(&mut bad, "/spec", "replicas", "replica");
    let ignored = ignored_fields::<Deployment>(&bad).unwrap();
    assert_eq!(ignored, vec!["spec.replica".to_string()]);
    let lost = round_trip_losses::<Deployment>(&bad).unwrap();
    assert_eq!(lost, vec![".spec.replica lost".to_string()]);

    // From YAML text, as a person would write it.
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: i}]\n";
    let doc = yaml_docs(text).unwrap().remove(0);
    let e = check_kubernetes(&doc).unwrap_err();
    assert!(e.contains("spec.replica"), "{e}");
    assert!(
        check_kubernetes(&yaml_docs(&text.replace("replica:", "replicas:")).unwrap()[0]).is_ok()
    );

    // Wrong types, wrong versions and unknown kinds fail too.
    let mut bad = good.clone();
    bad["spec"]["replicas"] = json!("2");
    assert!(check_kubernetes(&bad)
        .unwrap_err()
        .contains("does not deserialise"));
    let mut bad = good.clone();
    bad["apiVersion"] = json!("apps/v1beta1");
    assert!(check_kubernetes(&bad).is_err());
    assert!(check_kubernetes(
        &json!({"apiVersion": "v1", "kind": "Pdo", "metadata": {"name": "x"}})
    )
    .is_err());
}

// ---------------------------------------------------------------------------------------
// kustomize

fn kustomization_resources(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    let k = yaml_docs(&text).unwrap().remove(0);
    let mut keys: Vec<&String> = k.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["apiVersion", "kind", "resources"],
        "{}",
        dir.display()
    );
    k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_kustomization_lists_exactly_the_manifests_of_its_directory() {
    for name in ["kubernetes", "istio"] {
        let d = dir(name);
        let mut listed = kustomization_resources(&d);
        listed.sort();
        let present: Vec<String> = manifest_files(&d)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(listed, present, "envoy/{name}/kustomization.yaml");
    }
}

fn kubectl_kustomize(dir: &Path) -> std::process::Output {
    Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("kubectl is needed for this test: {e}"))
}

/// `kubectl kustomize` builds both directories, and what it emits (parsed by Go's YAML
/// reader, as `kubectl apply` would) is what we read from the files: no document or value
/// is read differently (YAML 1.1 vs 1.2: octal modes, yes/no, integer map keys).
#[test]
fn kubectl_kustomize_builds_and_reads_every_document_as_we_do() {
    for name in ["kubernetes", "istio"] {
        let d = dir(name);
        let out = kubectl_kustomize(&d);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "kubectl kustomize envoy/{name}: {stderr}"
        );
        let built: BTreeMap<String, Value> = yaml_docs(&String::from_utf8_lossy(&out.stdout))
            .unwrap()
            .into_iter()
            .map(|d| (key_of(&d), d))
            .collect();
        let ours: BTreeMap<String, Value> = docs_of(&d)
            .into_iter()
            .map(|(_, d)| (key_of(&d), d))
            .collect();
        assert_eq!(
            built.keys().collect::<Vec<_>>(),
            ours.keys().collect::<Vec<_>>(),
            "envoy/{name}"
        );
        for (k, v) in &ours {
            let mut diff = Vec::new();
            differences(v, &built[k], "", &mut diff);
            assert!(diff.is_empty(), "envoy/{name} {k}: {diff:?}");
        }
    }
}

#[test]
fn kubectl_kustomize_refuses_a_broken_directory() {
    let tmp = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(dir("kubernetes")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, tmp.path().join(f.file_name().unwrap())).unwrap();
    }
    assert!(kubectl_kustomize(tmp.path()).status.success());
    std::fs::remove_file(tmp.path().join("service.yaml")).unwrap();
    let out = kubectl_kustomize(tmp.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("service.yaml"));
}

// ---------------------------------------------------------------------------------------
// Istio: typed models of the fields (istio/api protos), refusing anything else

#[allow(dead_code)] // read by serde: unknown fields are what is checked
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IstioMetadata {
    name: String,
    namespace: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[allow(dead_code)] // read by serde: unknown fields are what is checked
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IstioObject<S> {
    api_version: String,
    kind: String,
    metadata: IstioMetadata,
    spec: S,
}

/// istio.type.v1beta1.WorkloadSelector
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WorkloadSelector {
    match_labels: BTreeMap<String, String>,
}

/// istio.type.v1beta1.PolicyTargetReference
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PolicyTargetReference {
    group: Option<String>,
    kind: String,
    name: String,
    namespace: Option<String>,
}

/// istio.type.v1beta1.PortSelector
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortSelector {
    number: u32,
}

/// istio.extensions.v1alpha1.WasmPlugin (extensions/v1alpha1/wasm.proto)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct WasmPluginSpec {
    selector: Option<WorkloadSelector>,
    target_ref: Option<PolicyTargetReference>,
    target_refs: Option<Vec<PolicyTargetReference>>,
    url: String,
    sha256: Option<String>,
    image_pull_policy: Option<PullPolicy>,
    image_pull_secret: Option<String>,
    verification_key: Option<String>,
    plugin_config: Option<serde_json::Map<String, Value>>,
    plugin_name: Option<String>,
    phase: Option<PluginPhase>,
    priority: Option<i32>,
    fail_strategy: Option<FailStrategy>,
    vm_config: Option<VmConfig>,
    #[serde(rename = "match")]
    traffic_selectors: Option<Vec<TrafficSelector>>,
    #[serde(rename = "type")]
    plugin_type: Option<PluginType>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
enum PullPolicy {
    #[serde(rename = "UNSPECIFIED_POLICY")]
    Unspecified,
    IfNotPresent,
    Always,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum PluginPhase {
    UnspecifiedPhase,
    Authn,
    Authz,
    Stats,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum FailStrategy {
    #[serde(rename = "FAIL_CLOSE")]
    Close,
    #[serde(rename = "FAIL_OPEN")]
    Open,
    #[serde(rename = "FAIL_RELOAD")]
    Reload,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum PluginType {
    #[serde(rename = "UNSPECIFIED_PLUGIN_TYPE")]
    Unspecified,
    Http,
    Network,
}

/// istio.type.v1beta1.WorkloadMode
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum WorkloadMode {
    Undefined,
    Client,
    Server,
    ClientAndServer,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrafficSelector {
    mode: Option<WorkloadMode>,
    ports: Option<Vec<PortSelector>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct VmConfig {
    env: Option<Vec<VmEnvVar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct VmEnvVar {
    name: String,
    value_from: Option<EnvValueSource>,
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum EnvValueSource {
    Inline,
    Host,
}

/// istio.networking.v1alpha3.DestinationRule: the fields used here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DestinationRuleSpec {
    host: String,
    traffic_policy: Option<TrafficPolicy>,
    export_to: Option<Vec<String>>,
    workload_selector: Option<WorkloadSelector>,
}

#[allow(dead_code)] // read by serde: unknown fields are what is checked
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TrafficPolicy {
    tls: Option<ClientTlsSettings>,
    port_level_settings: Option<Vec<PortTrafficPolicy>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortTrafficPolicy {
    port: PortSelector,
    tls: Option<ClientTlsSettings>,
}

/// ClientTLSSettings
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct ClientTlsSettings {
    mode: TlsMode,
    client_certificate: Option<String>,
    private_key: Option<String>,
    ca_certificates: Option<String>,
    credential_name: Option<String>,
    subject_alt_names: Option<Vec<String>>,
    sni: Option<String>,
    insecure_skip_verify: Option<bool>,
    ca_crl: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum TlsMode {
    Disable,
    Simple,
    Mutual,
    IstioMutual,
}

/// istio.security.v1beta1.PeerAuthentication
#[allow(dead_code)] // read by serde: unknown fields are what is checked
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PeerAuthenticationSpec {
    selector: Option<WorkloadSelector>,
    mtls: Option<MutualTls>,
    port_level_mtls: Option<BTreeMap<String, MutualTls>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MutualTls {
    mode: MtlsMode,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum MtlsMode {
    Unset,
    Disable,
    Permissive,
    Strict,
}

/// istio.networking.v1alpha3.EnvoyFilter: the fields used here (a CLUSTER patch).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct EnvoyFilterSpec {
    workload_selector: Option<EnvoyFilterWorkloadSelector>,
    config_patches: Vec<EnvoyConfigObjectPatch>,
    priority: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvoyFilterWorkloadSelector {
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EnvoyConfigObjectPatch {
    apply_to: ApplyTo,
    #[serde(rename = "match")]
    match_: Option<EnvoyConfigObjectMatch>,
    patch: Patch,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ApplyTo {
    Listener,
    FilterChain,
    NetworkFilter,
    HttpFilter,
    RouteConfiguration,
    VirtualHost,
    HttpRoute,
    Cluster,
    ExtensionConfig,
    Bootstrap,
    ListenerFilter,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvoyConfigObjectMatch {
    context: Option<PatchContext>,
    cluster: Option<ClusterMatch>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum PatchContext {
    Any,
    SidecarInbound,
    SidecarOutbound,
    Gateway,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct ClusterMatch {
    port_number: Option<u32>,
    service: Option<String>,
    subset: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    operation: PatchOperation,
    value: Option<Value>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum PatchOperation {
    Merge,
    Add,
    Remove,
    InsertBefore,
    InsertAfter,
    InsertFirst,
    Replace,
}

fn istio<S: DeserializeOwned>(doc: &Value) -> Result<IstioObject<S>, String> {
    serde_json::from_value(doc.clone()).map_err(|e| format!("{}: {e}", key_of(doc)))
}

/// The document is exactly one of the Istio objects modelled above.
fn check_istio(doc: &Value) -> Result<(), String> {
    let api = doc["apiVersion"].as_str().unwrap_or_default();
    match (api, doc["kind"].as_str().unwrap_or_default()) {
        ("extensions.istio.io/v1alpha1", "WasmPlugin") => istio::<WasmPluginSpec>(doc).map(drop),
        (
            "networking.istio.io/v1"
            | "networking.istio.io/v1beta1"
            | "networking.istio.io/v1alpha3",
            "DestinationRule",
        ) => istio::<DestinationRuleSpec>(doc).map(drop),
        ("security.istio.io/v1" | "security.istio.io/v1beta1", "PeerAuthentication") => {
            let pa = istio::<PeerAuthenticationSpec>(doc)?;
            for port in pa.spec.port_level_mtls.unwrap_or_default().keys() {
                port.parse::<u16>()
                    .map_err(|_| format!("portLevelMtls key {port:?} is not a port"))?;
            }
            Ok(())
        }
        ("networking.istio.io/v1alpha3", "EnvoyFilter") => istio::<EnvoyFilterSpec>(doc).map(drop),
        (api, kind) => Err(format!("no model for apiVersion {api:?} kind {kind:?}")),
    }
}

fn istio_docs() -> Vec<(String, Value)> {
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

fn wasm_plugin() -> (Value, IstioObject<WasmPluginSpec>) {
    let doc = find(&istio_docs(), "WasmPlugin", "bindcar-auth").clone();
    let wp = istio::<WasmPluginSpec>(&doc).unwrap();
    (doc, wp)
}

fn is_sha256_hex(s: &str) -> bool {
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
type Edit = (&'static str, Box<dyn Fn(&mut Value)>, &'static str);

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

fn plugin_config_json() -> Vec<u8> {
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

    // The same parser refuses a damaged copy (so the check above can fail).
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    v["tokenReview"]["allowedNamespace"] = v["tokenReview"]["allowedNamespaces"].take();
    let e = FilterConfig::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.to_string().contains("allowedNamespace"), "{e}");
}

// ---------------------------------------------------------------------------------------
// The pieces fit together

struct Pod {
    docs: Vec<(String, Value)>,
    deployment: Deployment,
}

fn pod() -> Pod {
    let docs = docs_of(&dir("kubernetes"));
    let deployment = typed(find(&docs, "Deployment", "bindcar"));
    Pod { docs, deployment }
}

impl Pod {
    fn spec(&self) -> &PodSpec {
        self.deployment.spec.template.spec.as_ref().unwrap()
    }
    fn container(&self, name: &str) -> &Container {
        self.spec()
            .containers
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no container {name}"))
    }
    fn labels(&self) -> BTreeMap<String, String> {
        let t = &self.deployment.spec.template;
        t.metadata
            .as_ref()
            .unwrap()
            .labels
            .clone()
            .unwrap_or_default()
    }
    fn annotation(&self, key: &str) -> String {
        let t = &self.deployment.spec.template;
        let a = t
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .clone()
            .unwrap_or_default();
        a.get(key)
            .cloned()
            .unwrap_or_else(|| panic!("no annotation {key}"))
    }
    fn named_conf(&self) -> String {
        let cm: ConfigMap = typed(find(&self.docs, "ConfigMap", "bindcar-named"));
        cm.data.unwrap()["named.conf"].clone()
    }
    fn reviewer_mount(&self) -> VolumeMount {
        let mounts: Vec<VolumeMount> = self.sidecar_mounts();
        assert_eq!(mounts.len(), 1, "{mounts:?}");
        mounts.into_iter().next().unwrap()
    }
    /// The istio-proxy mounts, read as strictly as the manifests.
    fn sidecar_mounts(&self) -> Vec<VolumeMount> {
        let raw: Value =
            serde_json::from_str(&self.annotation("sidecar.istio.io/userVolumeMount")).unwrap();
        raw.as_array()
            .unwrap()
            .iter()
            .map(|m| {
                strict::<VolumeMount>(m).unwrap_or_else(|e| panic!("userVolumeMount: {e}"));
                serde_json::from_value(m.clone()).unwrap()
            })
            .collect()
    }
}

fn env(c: &Container, name: &str) -> String {
    c.env
        .as_ref()
        .and_then(|e| e.iter().find(|v| v.name == name))
        .and_then(|v| v.value.clone())
        .unwrap_or_else(|| panic!("{}: no {name}", c.name))
}

fn mount_path(c: &Container, volume: &str) -> String {
    c.volume_mounts
        .as_ref()
        .and_then(|m| m.iter().find(|m| m.name == volume))
        .map(|m| m.mount_path.clone())
        .unwrap_or_else(|| panic!("{}: volume {volume} not mounted", c.name))
}

/// `keyword "value"` or `keyword value;` of named.conf (first occurrence).
fn named_option(conf: &str, keyword: &str) -> String {
    conf.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .find_map(|l| l.strip_prefix(keyword).filter(|r| r.starts_with(' ')))
        .map(|r| r.trim().trim_end_matches(';').trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("named.conf has no {keyword}"))
}

fn api_port() -> u32 {
    let p = pod();
    let c = p.container("bindcar");
    let port = c
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .find(|p| p.name.as_deref() == Some("http-api"))
        .unwrap();
    port.container_port as u32
}

#[test]
fn the_pod_is_hardened() {
    let p = pod();
    let spec = p.spec();
    let psc = spec.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert!(psc.run_as_user.is_some_and(|u| u != 0));
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    assert_eq!(spec.automount_service_account_token, Some(false));
    let volumes = spec.volumes.as_ref().unwrap();
    for c in &spec.containers {
        let sc = c
            .security_context
            .as_ref()
            .unwrap_or_else(|| panic!("{}", c.name));
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", c.name);
        assert_ne!(sc.privileged, Some(true), "{}", c.name);
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop.as_deref(),
            Some(&["ALL".to_string()][..]),
            "{}",
            c.name
        );
        assert!(
            sc.capabilities.as_ref().unwrap().add.is_none(),
            "{}",
            c.name
        );
        assert!(
            sc.run_as_non_root.or(psc.run_as_non_root) == Some(true),
            "{}",
            c.name
        );
        assert!(sc.run_as_user.is_none_or(|u| u != 0), "{}", c.name);
        let tmp = c
            .volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .find(|m| m.mount_path == "/tmp");
        let tmp = tmp.unwrap_or_else(|| panic!("{}: no /tmp", c.name));
        let v = volumes.iter().find(|v| v.name == tmp.name).unwrap();
        assert!(v.empty_dir.is_some(), "{}: /tmp is not an emptyDir", c.name);
        assert!(
            c.resources
                .as_ref()
                .and_then(|r| r.limits.as_ref())
                .is_some(),
            "{}",
            c.name
        );
        assert!(
            c.liveness_probe.is_some() && c.readiness_probe.is_some(),
            "{}",
            c.name
        );
    }
}

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

// ---------------------------------------------------------------------------------------
// named.conf and bindcar's environment

fn named_checkconf(conf: &str, key_text: &str) -> (bool, String) {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("rndc.key");
    std::fs::write(&key, key_text).unwrap();
    let conf = conf.replace("/etc/bind-keys/rndc.key", key.to_str().unwrap());
    let path = tmp.path().join("named.conf");
    std::fs::write(&path, conf).unwrap();
    let out = Command::new("named-checkconf")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("named-checkconf is needed (apt-get install bind9-utils): {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn named_conf_passes_named_checkconf_with_the_shipped_key() {
    let p = pod();
    let conf = p.named_conf();
    assert!(conf.contains("include \"/etc/bind-keys/rndc.key\";"));
    let secret: Secret = typed(find(&p.docs, "Secret", "bindcar-rndc-key"));
    let key = secret.string_data.unwrap()["rndc.key"].clone();
    let (ok, out) = named_checkconf(&conf, &key);
    assert!(ok, "{out}");
    assert_eq!(named_option(&conf, "allow-new-zones"), "yes");
    let (ok, out) = named_checkconf(&conf, &key.replace("\"rndc-key\"", "\"other-key\""));
    assert!(!ok && out.contains("rndc-key"), "{out}");
    let (ok, out) = named_checkconf(&conf.replace("recursion no;", "recursoin no;"), &key);
    assert!(!ok && out.contains("recursoin"), "{out}");
}

/// The variables bindcar reads: every `env = "..."` of backend/src/cli.rs, and the ones
/// its help names outside clap (RUST_LOG, KUBECONFIG).
fn bindcar_variables() -> BTreeSet<String> {
    let cli = std::fs::read_to_string(workspace_root().join("backend/src/cli.rs")).unwrap();
    let mut vars: BTreeSet<String> = cli
        .split("env = \"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect();
    assert!(vars.len() > 15, "{vars:?}");
    vars.extend(["RUST_LOG".to_string(), "KUBECONFIG".to_string()]);
    vars
}

fn unknown_variables(c: &Container, known: &BTreeSet<String>) -> Vec<String> {
    c.env
        .iter()
        .flatten()
        .map(|e| e.name.clone())
        .filter(|n| !known.contains(n))
        .collect()
}

#[test]
fn bindcar_gets_only_variables_it_reads() {
    let known = bindcar_variables();
    for v in [
        "BIND_ZONE_DIR",
        "API_PORT",
        "RNDC_SERVER",
        "DISABLE_AUTH",
        "BINDCAR_ALLOW_INSECURE_AUTH",
    ] {
        assert!(known.contains(v), "{v}");
    }
    let p = pod();
    let mut c = p.container("bindcar").clone();
    assert_eq!(unknown_variables(&c, &known), Vec::<String>::new());
    c.env.as_mut().unwrap()[0].name = "BIND_ZONES_DIR".into();
    assert_eq!(unknown_variables(&c, &known), ["BIND_ZONES_DIR"]);
}

// ---------------------------------------------------------------------------------------
// The Istio-shaped callout in a real Envoy

/// What the sidecar would run, minus Istio: the filter with the WasmPlugin's pluginConfig,
/// a cluster named as Istio names it with the DestinationRule's TLS settings, and the
/// EnvoyFilter's patch applied to it; the reviewer directory laid out as the projected
/// volume is (token, ca.crt, sds.yaml from the ConfigMap), under a temporary directory.
struct Sidecar {
    api: TokenReviewServer,
    up: Upstream,
    envoy: Envoy,
    reviewer_dir: tempfile::TempDir,
}

fn sidecar() -> Sidecar {
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

fn call(envoy: &Envoy, token: &str) -> bindcar_testbed::http::Response {
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
