//! named.conf passes named-checkconf with the shipped key, and bindcar gets only the
//! variables it reads.

use super::*;

pub(crate) fn named_checkconf(conf: &str, key_text: &str) -> (bool, String) {
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

/// The variables bindcar reads: every `env = "..."` of backend/src/config/cli.rs, and the ones
/// its help names outside clap (RUST_LOG, KUBECONFIG).
pub(crate) fn bindcar_variables() -> BTreeSet<String> {
    let cli = std::fs::read_to_string(workspace_root().join("backend/src/config/cli.rs")).unwrap();
    let mut vars: BTreeSet<String> = cli
        .split("env = \"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect();
    assert!(vars.len() > 15, "{vars:?}");
    vars.extend(["RUST_LOG".to_string(), "KUBECONFIG".to_string()]);
    vars
}

pub(crate) fn unknown_variables(c: &Container, known: &BTreeSet<String>) -> Vec<String> {
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
