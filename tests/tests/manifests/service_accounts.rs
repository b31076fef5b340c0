//! Every ServiceAccount the manifests name (RBAC subjects, the WasmPlugin's allowlist) is
//! created by them: `kubectl apply -k` on a fresh cluster leaves no dangling name.

use super::*;

/// `namespace/name` of every ServiceAccount created, and of every one named, in a kustomize
/// build of `dirs`.
fn accounts(dirs: &[PathBuf]) -> (BTreeSet<String>, Vec<(String, String)>) {
    let mut created = BTreeSet::new();
    let mut named = Vec::new();
    for d in dirs {
        let out = kubectl_kustomize(d);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for doc in yaml_docs(&String::from_utf8_lossy(&out.stdout)).unwrap() {
            let what = key_of(&doc);
            if doc["kind"] == "ServiceAccount" {
                created.insert(format!(
                    "{}/{}",
                    doc["metadata"]["namespace"].as_str().unwrap_or_default(),
                    doc["metadata"]["name"].as_str().unwrap_or_default()
                ));
            }
            for s in doc["subjects"].as_array().into_iter().flatten() {
                if s["kind"] == "ServiceAccount" {
                    named.push((
                        what.clone(),
                        format!(
                            "{}/{}",
                            s["namespace"].as_str().unwrap_or_default(),
                            s["name"].as_str().unwrap_or_default()
                        ),
                    ));
                }
            }
            if doc["kind"] == "Deployment" {
                let sa = doc["spec"]["template"]["spec"]["serviceAccountName"]
                    .as_str()
                    .unwrap_or("default");
                let ns = doc["metadata"]["namespace"].as_str().unwrap_or_default();
                named.push((what.clone(), format!("{ns}/{sa}")));
            }
            if doc["kind"] == "WasmPlugin" {
                let allowed = &doc["spec"]["pluginConfig"]["tokenReview"]["allowedServiceAccounts"];
                for user in allowed.as_array().into_iter().flatten() {
                    let rest = user
                        .as_str()
                        .and_then(|u| u.strip_prefix("system:serviceaccount:"))
                        .unwrap_or_else(|| panic!("{what}: {user}"));
                    named.push((what.clone(), rest.replacen(':', "/", 1)));
                }
            }
        }
    }
    (created, named)
}

/// The named ServiceAccounts the build of `dirs` does not create.
fn dangling(dirs: &[PathBuf]) -> Vec<(String, String)> {
    let (created, named) = accounts(dirs);
    named
        .into_iter()
        .filter(|(_, sa)| !created.contains(sa))
        .collect()
}

#[test]
fn every_service_account_named_is_created() {
    let shipped = [dir("kubernetes"), dir("istio")];
    let (created, _) = accounts(&shipped);
    assert!(created.contains("dns-system/external-dns"), "{created:?}");
    let left = dangling(&shipped);
    assert!(
        left.is_empty(),
        "named but not created by envoy/kubernetes: {left:?}"
    );
    // Without serviceaccount-external-dns.yaml (as shipped before issue 22), the check names
    // the binding and the WasmPlugin that refer to it.
    let tmp = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(dir("kubernetes")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, tmp.path().join(f.file_name().unwrap())).unwrap();
    }
    std::fs::remove_file(tmp.path().join("serviceaccount-external-dns.yaml")).unwrap();
    let k = tmp.path().join("kustomization.yaml");
    let text = std::fs::read_to_string(&k).unwrap();
    std::fs::write(&k, text.replace("- serviceaccount-external-dns.yaml\n", "")).unwrap();
    let left = dangling(&[tmp.path().to_path_buf(), dir("istio")]);
    let referrers: BTreeSet<&str> = left.iter().map(|(what, _)| what.as_str()).collect();
    assert!(
        left.iter().all(|(_, sa)| sa == "dns-system/external-dns")
            && referrers.iter().any(|w| w.contains("ClusterRoleBinding"))
            && referrers.iter().any(|w| w.contains("WasmPlugin")),
        "{left:?}"
    );
}
