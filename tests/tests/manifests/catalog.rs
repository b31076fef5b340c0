//! envoy/kubernetes-catalog: the bindcar pod as the primary of a catalog zone and two BIND
//! secondaries. What `kubectl kustomize` builds is exactly Kubernetes objects (the StatefulSet
//! included), every file is used, the secondaries' named.conf passes named-checkconf and holds
//! the configuration backend/README.md documents and the e2e test runs, and the addresses
//! agree: the primary's variables name the secondaries' Services, the secondaries name the
//! primary's.

use k8s_openapi::api::apps::v1::StatefulSet;

use super::*;
use bindcar_testbed::catalog::{secondary_config, CATALOG, PRIMARY_OPTIONS};

fn built() -> Vec<Value> {
    let out = kubectl_kustomize(&dir("kubernetes-catalog"));
    assert!(
        out.status.success(),
        "kubectl kustomize envoy/kubernetes-catalog: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    yaml_docs(&String::from_utf8_lossy(&out.stdout)).unwrap()
}

fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn env_of(deployment: &Deployment, container: &str) -> BTreeMap<String, String> {
    let spec = deployment.spec.template.spec.as_ref().unwrap();
    let c = spec
        .containers
        .iter()
        .find(|c| c.name == container)
        .unwrap();
    c.env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

fn cluster_ip(docs: &[Value], name: &str) -> String {
    let s: Service = typed(named(docs, "Service", name));
    s.spec.unwrap().cluster_ip.unwrap()
}

#[test]
fn the_catalog_example_builds_into_exact_kubernetes_objects_using_every_file() {
    let docs = built();
    let mut failures = Vec::new();
    for doc in &docs {
        let checked = if doc["kind"] == "StatefulSet" {
            kubernetes::strict::<StatefulSet>(doc)
        } else {
            check_kubernetes(doc)
        };
        if let Err(e) = checked {
            failures.push(format!("{}: {e}", key_of(doc)));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // the base, plus the primary DNS Service, the secondaries (configuration, StatefulSet,
    // three Services) and two NetworkPolicies
    let base = docs_of(&dir("kubernetes")).len();
    assert_eq!(
        docs.len(),
        base + 8,
        "{}",
        docs.iter().map(key_of).collect::<Vec<_>>().join("\n")
    );
    let set: StatefulSet = typed(named(&docs, "StatefulSet", "bindcar-secondary"));
    assert_eq!(set.spec.replicas, Some(2));
    // every file of the directory is a resource or a patch of the kustomization
    let d = dir("kubernetes-catalog");
    let text = std::fs::read_to_string(d.join("kustomization.yaml")).unwrap();
    let k = yaml_docs(&text).unwrap().remove(0);
    let mut used: BTreeSet<String> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .filter(|r| !r.starts_with(".."))
        .map(str::to_owned)
        .collect();
    used.extend(
        k["patches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["path"].as_str().unwrap().to_owned()),
    );
    let files: BTreeSet<String> = manifest_files(&d)
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(used, files);
}

#[test]
fn the_primary_and_the_secondaries_name_each_other() {
    let docs = built();
    let deployment: Deployment = typed(named(&docs, "Deployment", "bindcar"));
    let env = env_of(&deployment, "bindcar");
    let known = named_conf::bindcar_variables();
    for name in env.keys() {
        assert!(known.contains(name), "bindcar does not read {name}");
    }
    assert_eq!(env["BIND_CATALOG_ZONE"], CATALOG);
    // NOTIFY and /propagation go to the secondaries' Services
    let secondaries: Vec<String> = ["bindcar-secondary-0", "bindcar-secondary-1"]
        .iter()
        .map(|s| cluster_ip(&docs, s))
        .collect();
    assert_eq!(env["BIND_CATALOG_SECONDARIES"], secondaries.join(","));
    // named's DNS port in the pod takes the member UPDATEs
    assert_eq!(env["NSUPDATE_PORT"], "5353");
    let template = deployment.spec.template;
    let annotations = template.metadata.unwrap().annotations.unwrap();
    assert_eq!(
        annotations["traffic.sidecar.istio.io/excludeInboundPorts"],
        "5353"
    );
    // the secondaries' configuration is the documented one, aimed at the primary's Service
    let cm: ConfigMap = typed(named(&docs, "ConfigMap", "bindcar-named-secondary"));
    let conf = cm.data.unwrap()["named.conf"].clone();
    let primary = cluster_ip(&docs, "bindcar-primary-dns");
    let (options, zone) = secondary_config(CATALOG, &primary, "/var/cache/bind/catalog");
    let squeeze = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    let conf_flat = squeeze(&conf);
    for block in [options, zone] {
        // line by line, comments aside
        for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
            assert!(
                conf_flat.contains(&squeeze(line)),
                "named.conf lacks {line:?}"
            );
        }
    }
    // the pod network may transfer, and notifies from it are accepted
    assert!(conf.contains(&format!(
        "allow-notify {{ {}; }};",
        env["BIND_CATALOG_ALLOW_TRANSFER"]
    )));
    let (ok, out) = named_conf::named_checkconf(&conf, "");
    assert!(ok, "{out}");
    // and the primary has room for their transfers
    let primary_conf: ConfigMap = typed(named(&docs, "ConfigMap", "bindcar-named"));
    let primary_conf = squeeze(&primary_conf.data.unwrap()["named.conf"]);
    for line in PRIMARY_OPTIONS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        assert!(
            primary_conf.contains(line),
            "the primary's named.conf lacks {line:?}"
        );
    }
}
