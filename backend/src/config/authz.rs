//! `BIND_AUTHZ_*`: the authorization settings, into the shared policy's `AuthzConfig` (the
//! filter reads the same from its plugin configuration). Static rules come from a JSON or
//! YAML file holding the list of rules (or `{"rules": [...]}`), checked as the filter checks
//! them.

use std::path::Path;
use std::time::Duration;

use bindcar_policy::authz::rules::StaticRules;
use bindcar_policy::authz::sar::DEFAULT_PATH;
use bindcar_policy::authz::settings::{AuthzConfig, AuthzMode, SarSettings};

use super::cli::{AuthzModeArg, Cli};

/// SubjectAccessReview decision TTLs, the filter's defaults.
const ALLOW_TTL: Duration = Duration::from_secs(300);
const DENY_TTL: Duration = Duration::from_secs(30);

pub fn settings(cli: &Cli) -> Result<AuthzConfig, String> {
    let group = cli.authz_group.trim().to_string();
    if group.is_empty() || !group.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "BIND_AUTHZ_GROUP: {group:?} is not an API group name"
        ));
    }
    if cli.authz_mode != AuthzModeArg::Static && cli.authz_rules_file.is_some() {
        return Err("BIND_AUTHZ_RULES_FILE is set but BIND_AUTHZ_MODE is not static".into());
    }
    let mode = match cli.authz_mode {
        AuthzModeArg::None => AuthzMode::None,
        AuthzModeArg::Subjectaccessreview => AuthzMode::SubjectAccessReview(SarSettings {
            // The backend talks to the API server through kube: no Envoy cluster.
            cluster: String::new(),
            authority: String::new(),
            path: DEFAULT_PATH.into(),
            timeout: Duration::from_secs(cli.token_review_timeout_secs),
            allow_ttl: ALLOW_TTL,
            deny_ttl: DENY_TTL,
        }),
        AuthzModeArg::Static => {
            let path = cli
                .authz_rules_file
                .as_deref()
                .ok_or("BIND_AUTHZ_MODE=static needs BIND_AUTHZ_RULES_FILE")?;
            AuthzMode::Static(load_rules(path)?)
        }
    };
    Ok(AuthzConfig { group, mode })
}

pub fn load_rules(path: &Path) -> Result<StaticRules, String> {
    let at = format!("BIND_AUTHZ_RULES_FILE {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| format!("{at}: {e}"))?;
    parse_rules(&text, &at)
}

fn parse_rules(text: &str, at: &str) -> Result<StaticRules, String> {
    // JSON is YAML, but serde_json words JSON errors better.
    let value: serde_json::Value = if text.trim_start().starts_with(['[', '{']) {
        serde_json::from_str(text).map_err(|e| format!("{at}: {e}"))?
    } else {
        serde_norway::from_str(text).map_err(|e| format!("{at}: {e}"))?
    };
    let value = match value {
        serde_json::Value::Object(mut o) if o.contains_key("rules") && o.len() == 1 => {
            o.remove("rules").unwrap_or_default()
        }
        other => other,
    };
    StaticRules::from_value(value, at)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn json_and_yaml_rules_read_alike() {
        let json = r#"[{"groups": ["team-a"], "verbs": ["get"], "resources": ["zones"], "zones": ["example.com"]}]"#;
        let yaml = "rules:\n- groups: [team-a]\n  verbs: [get]\n  resources: [zones]\n  zones: [example.com]\n";
        assert_eq!(
            parse_rules(json, "f").unwrap(),
            parse_rules(yaml, "f").unwrap()
        );
        assert_eq!(parse_rules(json, "f").unwrap().len(), 1);
        let e =
            parse_rules("- users: [u]\n  verbs: [get]\n  resources: [zone]\n", "f").unwrap_err();
        assert!(e.contains("f[0].resources"), "{e}");
        assert!(parse_rules("{", "f").unwrap_err().starts_with("f: "));
    }
}
