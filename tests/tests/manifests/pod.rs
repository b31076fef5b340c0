//! The bindcar pod as the Deployment describes it, and its hardening.

use super::*;

pub(crate) struct Pod {
    pub(crate) docs: Vec<(String, Value)>,
    pub(crate) deployment: Deployment,
}

pub(crate) fn pod() -> Pod {
    let docs = docs_of(&dir("kubernetes"));
    let deployment = typed(find(&docs, "Deployment", "bindcar"));
    Pod { docs, deployment }
}

impl Pod {
    pub(crate) fn spec(&self) -> &PodSpec {
        self.deployment.spec.template.spec.as_ref().unwrap()
    }
    pub(crate) fn container(&self, name: &str) -> &Container {
        self.spec()
            .containers
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no container {name}"))
    }
    pub(crate) fn labels(&self) -> BTreeMap<String, String> {
        let t = &self.deployment.spec.template;
        t.metadata
            .as_ref()
            .unwrap()
            .labels
            .clone()
            .unwrap_or_default()
    }
    pub(crate) fn annotation(&self, key: &str) -> String {
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
    pub(crate) fn named_conf(&self) -> String {
        let cm: ConfigMap = typed(find(&self.docs, "ConfigMap", "bindcar-named"));
        cm.data.unwrap()["named.conf"].clone()
    }
    pub(crate) fn reviewer_mount(&self) -> VolumeMount {
        let mounts: Vec<VolumeMount> = self.sidecar_mounts();
        assert_eq!(mounts.len(), 1, "{mounts:?}");
        mounts.into_iter().next().unwrap()
    }
    /// The istio-proxy mounts, read as strictly as the manifests.
    pub(crate) fn sidecar_mounts(&self) -> Vec<VolumeMount> {
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

pub(crate) fn env(c: &Container, name: &str) -> String {
    c.env
        .as_ref()
        .and_then(|e| e.iter().find(|v| v.name == name))
        .and_then(|v| v.value.clone())
        .unwrap_or_else(|| panic!("{}: no {name}", c.name))
}

pub(crate) fn mount_path(c: &Container, volume: &str) -> String {
    c.volume_mounts
        .as_ref()
        .and_then(|m| m.iter().find(|m| m.name == volume))
        .map(|m| m.mount_path.clone())
        .unwrap_or_else(|| panic!("{}: volume {volume} not mounted", c.name))
}

/// `keyword "value"` or `keyword value;` of named.conf (first occurrence).
pub(crate) fn named_option(conf: &str, keyword: &str) -> String {
    conf.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .find_map(|l| l.strip_prefix(keyword).filter(|r| r.starts_with(' ')))
        .map(|r| r.trim().trim_end_matches(';').trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("named.conf has no {keyword}"))
}

pub(crate) fn api_port() -> u32 {
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
