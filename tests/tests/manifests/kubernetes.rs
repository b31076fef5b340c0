//! envoy/kubernetes: every document is exactly its k8s-openapi type (a misspelt field
//! fails), each kustomization lists exactly its directory, and `kubectl kustomize` builds.

use super::*;

/// Paths of the fields the type did not take (k8s-openapi skips unknown keys silently).
pub(crate) fn ignored_fields<T: DeserializeOwned>(doc: &Value) -> Result<Vec<String>, String> {
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
pub(crate) fn normalise(v: &Value) -> Option<Value> {
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
pub(crate) fn differences(before: &Value, after: &Value, path: &str, out: &mut Vec<String>) {
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
pub(crate) fn round_trip_losses<T: DeserializeOwned + Serialize>(
    doc: &Value,
) -> Result<Vec<String>, String> {
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

pub(crate) fn strict<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<(), String> {
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
pub(crate) fn check_kubernetes(doc: &Value) -> Result<(), String> {
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

pub(crate) fn deployment_doc() -> Value {
    find(&docs_of(&dir("kubernetes")), "Deployment", "bindcar").clone()
}

pub(crate) fn rename_key(v: &mut Value, pointer: &str, from: &str, to: &str) {
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

pub(crate) fn kustomization_resources(dir: &Path) -> Vec<String> {
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

pub(crate) fn kubectl_kustomize(dir: &Path) -> std::process::Output {
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
