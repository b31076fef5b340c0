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

/// Where named in this pod takes DNS (named.conf `listen-on port N`), and whether the
/// bindcar container's records path (`NSUPDATE_SERVER`/`NSUPDATE_PORT`, default
/// 127.0.0.1:53) points there.
pub(crate) fn records_path_error(bindcar: &Container, named_conf: &str) -> Option<String> {
    let dns_port = named_option(named_conf, "listen-on port")
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let value = |name: &str| {
        bindcar
            .env
            .as_ref()
            .and_then(|e| e.iter().find(|v| v.name == name))
            .and_then(|v| v.value.clone())
    };
    let server = value("NSUPDATE_SERVER").unwrap_or_else(|| "127.0.0.1".into());
    let port = value("NSUPDATE_PORT").unwrap_or_else(|| "53".into());
    let local = ["127.0.0.1", "localhost", "::1"].contains(&server.as_str());
    (!local || port != dns_port).then(|| {
        format!(
            "the records API would send its UPDATEs to {server}:{port}, but named in this pod \
             listens on port {dns_port} (named.conf listen-on): set NSUPDATE_SERVER=127.0.0.1 and \
             NSUPDATE_PORT={dns_port} on the bindcar container"
        )
    })
}

pub(crate) fn assert_records_path(bindcar: &Container, named_conf: &str) {
    if let Some(e) = records_path_error(bindcar, named_conf) {
        panic!("{e}");
    }
}

#[test]
fn a_records_path_off_named_port_is_caught() {
    let p = pod();
    let conf = p.named_conf();
    let good = p.container("bindcar").clone();
    assert_eq!(records_path_error(&good, &conf), None);
    let without = |names: &[&str]| {
        let mut c = good.clone();
        c.env
            .as_mut()
            .unwrap()
            .retain(|v| !names.contains(&v.name.as_str()));
        c
    };
    // The shipped bug of issue 22: no NSUPDATE_PORT, so 53.
    let e = records_path_error(&without(&["NSUPDATE_PORT"]), &conf).unwrap();
    assert!(
        e.contains("127.0.0.1:53") && e.contains("NSUPDATE_PORT=5353"),
        "{e}"
    );
    let mut elsewhere = good.clone();
    for v in elsewhere.env.as_mut().unwrap() {
        if v.name == "NSUPDATE_SERVER" {
            v.value = Some("10.0.0.53".into());
        }
    }
    assert!(records_path_error(&elsewhere, &conf).is_some());
    // The default server is loopback: without NSUPDATE_SERVER the port alone decides.
    assert_eq!(
        records_path_error(&without(&["NSUPDATE_SERVER"]), &conf),
        None
    );
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
