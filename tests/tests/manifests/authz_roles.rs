//! Authorization in the deployment: the pod may create SubjectAccessReviews (and nothing
//! more), the example roles name only what the request → attributes table produces, the
//! team role binds the ServiceAccount the WasmPlugin admits, and the authorization block
//! documented (commented) in the WasmPlugin is accepted by the filter's parser as written.

use bindcar_policy::authz::mapping::{RESOURCES, VERBS};
use bindcar_policy::authz::settings::AuthzMode;

use super::*;

#[test]
fn the_pod_may_create_subject_access_reviews_and_nothing_more() {
    let docs = docs_of(&dir("kubernetes"));
    let crb: ClusterRoleBinding = typed(find(
        &docs,
        "ClusterRoleBinding",
        "bindcar-subjectaccessreview",
    ));
    let subjects = crb.subjects.unwrap();
    assert_eq!(subjects.len(), 1);
    assert_eq!(
        (
            subjects[0].kind.as_str(),
            subjects[0].name.as_str(),
            subjects[0].namespace.as_deref()
        ),
        ("ServiceAccount", "bindcar", Some(NAMESPACE))
    );
    let cr: ClusterRole = typed(find(&docs, "ClusterRole", &crb.role_ref.name));
    let rules = cr.rules.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0].api_groups.as_deref(),
        Some(&["authorization.k8s.io".to_string()][..])
    );
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["subjectaccessreviews".to_string()][..])
    );
    assert_eq!(rules[0].verbs, ["create"]);
}

#[test]
fn the_example_roles_name_what_the_table_produces() {
    let docs = docs_of(&dir("kubernetes"));
    for name in [
        "bindcar-dns-viewer",
        "bindcar-dns-team-a",
        "bindcar-dns-admin",
    ] {
        let cr: ClusterRole = typed(find(&docs, "ClusterRole", name));
        for rule in cr.rules.unwrap() {
            assert_eq!(
                rule.api_groups.as_deref(),
                Some(&["bindcar.dns".to_string()][..]),
                "{name}"
            );
            for r in rule.resources.unwrap() {
                assert!(r == "*" || RESOURCES.contains(&r.as_str()), "{name}: {r}");
            }
            for v in &rule.verbs {
                assert!(v == "*" || VERBS.contains(&v.as_str()), "{name}: {v}");
            }
        }
    }
    let team: ClusterRole = typed(find(&docs, "ClusterRole", "bindcar-dns-team-a"));
    let rules = team.rules.unwrap();
    assert_eq!(
        rules[0].resource_names.as_deref(),
        Some(&["example.com".to_string()][..])
    );
    // The team role goes to the ServiceAccount the WasmPlugin admits.
    let crb: ClusterRoleBinding = typed(find(
        &docs,
        "ClusterRoleBinding",
        "bindcar-dns-team-a-external-dns",
    ));
    assert_eq!(crb.role_ref.name, "bindcar-dns-team-a");
    let s = &crb.subjects.unwrap()[0];
    let user = format!(
        "system:serviceaccount:{}:{}",
        s.namespace.as_deref().unwrap(),
        s.name
    );
    let plugin: Value = serde_json::from_slice(&plugin_config_json()).unwrap();
    assert_eq!(
        plugin["tokenReview"]["allowedServiceAccounts"],
        json!([user])
    );
}

#[test]
fn the_documented_authorization_block_is_accepted_as_written() {
    let text = std::fs::read_to_string(dir("istio").join("wasmplugin.yaml")).unwrap();
    let start = text.find("    # authorization:").expect("documented block");
    let block: String = text[start..]
        .lines()
        .take_while(|l| l.starts_with("    #   ") || l.starts_with("    # authorization:"))
        .map(|l| format!("{}\n", &l["    # ".len()..]))
        .collect();
    let authz: Value = serde_norway::from_str(&block).unwrap();
    let mut plugin: Value = serde_json::from_slice(&plugin_config_json()).unwrap();
    plugin["authorization"] = authz["authorization"].clone();
    let cfg = FilterConfig::from_json(&serde_json::to_vec(&plugin).unwrap()).unwrap();
    let AuthzMode::SubjectAccessReview(sar) = cfg.authorization.mode else {
        panic!("{block}")
    };
    assert_eq!(
        sar.cluster,
        "outbound|443||kubernetes.default.svc.cluster.local"
    );
    assert_eq!(sar.authority, "kubernetes.default.svc");
    assert_eq!(cfg.authorization.group, "bindcar.dns");
}
