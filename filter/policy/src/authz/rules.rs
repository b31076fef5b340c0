//! Static authorization rules: the RBAC decision made in place, without a callout (for
//! clusters where the rules are known at deploy time). A rule applies when the user is in
//! `users` or one of its groups is in `groups`, the verb is in `verbs`, `resource[/sub]` is in
//! `resources`, and the zone matches `zones` (`*.x` = subdomains of x, not x; no `zones` =
//! any zone; a rule listing zones never covers a request without a zone, as `resourceNames`
//! in Kubernetes). Empty lists match nothing. Any applying rule allows; none denies.

use serde::Deserialize;

use super::mapping::{Attributes, RESOURCES, VERBS};
use super::zone::normalize_zone;
use crate::review::Identity;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRule {
    users: Option<Vec<String>>,
    groups: Option<Vec<String>>,
    verbs: Vec<String>,
    resources: Vec<String>,
    zones: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ZonePattern {
    Exact(String),
    /// `*.example.org`, kept as `.example.org`.
    Subdomains(String),
}

impl ZonePattern {
    fn matches(&self, zone: &str) -> bool {
        match self {
            ZonePattern::Exact(z) => z == zone,
            ZonePattern::Subdomains(suffix) => zone.len() > suffix.len() && zone.ends_with(suffix),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    users: Vec<String>,
    groups: Vec<String>,
    verbs: Vec<String>,
    resources: Vec<String>,
    zones: Option<Vec<ZonePattern>>,
}

impl Rule {
    fn applies(&self, identity: &Identity, attrs: &Attributes) -> bool {
        let subject = self.users.contains(&identity.username)
            || identity.groups.iter().any(|g| self.groups.contains(g));
        let zone = match (&self.zones, &attrs.name) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(patterns), Some(name)) => patterns.iter().any(|p| p.matches(name)),
        };
        subject
            && zone
            && self.verbs.iter().any(|v| v == attrs.verb)
            && self.resources.contains(&attrs.resource_path())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaticRules(Vec<Rule>);

impl StaticRules {
    /// Parses and checks a JSON list of rules; `at` names where they came from, for messages.
    pub fn from_value(value: serde_json::Value, at: &str) -> Result<StaticRules, String> {
        let raw: Vec<RawRule> = serde_json::from_value(value).map_err(|e| format!("{at}: {e}"))?;
        let mut rules = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let at = format!("{at}[{i}]");
            if r.users.is_none() && r.groups.is_none() {
                return Err(format!("{at}: a rule must name \"users\" or \"groups\""));
            }
            if let Some(v) = r.verbs.iter().find(|v| !VERBS.contains(&v.as_str())) {
                return Err(format!("{at}.verbs: {v:?} is not one of {VERBS:?}"));
            }
            if let Some(v) = r
                .resources
                .iter()
                .find(|v| !RESOURCES.contains(&v.as_str()))
            {
                return Err(format!("{at}.resources: {v:?} is not one of {RESOURCES:?}"));
            }
            let zones = match r.zones {
                None => None,
                Some(zones) => Some(
                    zones
                        .iter()
                        .map(|z| {
                            zone_pattern(z).ok_or_else(|| {
                                format!("{at}.zones: {z:?} is not a zone name or *.<zone name>")
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            rules.push(Rule {
                users: r.users.unwrap_or_default(),
                groups: r.groups.unwrap_or_default(),
                verbs: r.verbs,
                resources: r.resources,
                zones,
            });
        }
        Ok(StaticRules(rules))
    }

    pub fn allows(&self, identity: &Identity, attrs: &Attributes) -> bool {
        self.0.iter().any(|r| r.applies(identity, attrs))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn zone_pattern(z: &str) -> Option<ZonePattern> {
    match z.strip_prefix("*.") {
        Some(parent) => Some(ZonePattern::Subdomains(format!(
            ".{}",
            normalize_zone(parent)?
        ))),
        None => Some(ZonePattern::Exact(normalize_zone(z)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::mapping::attributes;
    use serde_json::json;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn who(user: &str, groups: &[&str]) -> Identity {
        Identity {
            username: user.into(),
            uid: None,
            extra: Default::default(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn rules(v: serde_json::Value) -> StaticRules {
        StaticRules::from_value(v, "rules").unwrap()
    }

    fn allows(r: &StaticRules, id: &Identity, method: &str, path: &str) -> bool {
        r.allows(id, &attributes(method.as_bytes(), path.as_bytes()).unwrap())
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn users_or_groups_verbs_resources_zones() {
        let r = rules(json!([
            {"users": ["alice"], "groups": ["dns-admins"], "verbs": ["get", "list"], "resources": ["zones"]},
            {"groups": ["team-a"], "verbs": ["get", "update", "create", "delete"],
             "resources": ["zones/records"], "zones": ["Example.com.", "*.example.org"]},
        ]));
        let alice = who("alice", &[]);
        let admin = who("bob", &["dns-admins"]);
        let team = who("carol", &["team-a"]);
        let nobody = who("dave", &["other"]);
        for id in [&alice, &admin] {
            assert!(allows(&r, id, "GET", "/api/v1/zones"));
            assert!(allows(&r, id, "GET", "/api/v1/zones/any.net"));
            assert!(!allows(&r, id, "DELETE", "/api/v1/zones/any.net"));
            assert!(!allows(&r, id, "GET", "/api/v1/zones/any.net/status"));
        }
        assert!(allows(
            &r,
            &team,
            "PUT",
            "/api/v1/zones/example.com/records"
        ));
        assert!(allows(
            &r,
            &team,
            "DELETE",
            "/api/v1/zones/EXAMPLE.com./records/www"
        ));
        assert!(allows(
            &r,
            &team,
            "GET",
            "/api/v1/zones/a.example.org/rrsets"
        ));
        assert!(allows(
            &r,
            &team,
            "GET",
            "/api/v1/zones/b.a.example.org/records"
        ));
        assert!(
            !allows(&r, &team, "GET", "/api/v1/zones/example.org/records"),
            "*. is not the apex"
        );
        assert!(!allows(
            &r,
            &team,
            "GET",
            "/api/v1/zones/notexample.org/records"
        ));
        assert!(!allows(
            &r,
            &team,
            "GET",
            "/api/v1/zones/sub.example.com/records"
        ));
        assert!(
            !allows(&r, &team, "GET", "/api/v1/zones/example.com"),
            "records only"
        );
        assert!(!allows(&r, &nobody, "GET", "/api/v1/zones"));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_rule_listing_zones_never_covers_a_request_without_one() {
        let r = rules(
            json!([{"users": ["u"], "verbs": ["list", "create"], "resources": ["zones"],
            "zones": ["example.com"]}]),
        );
        let u = who("u", &[]);
        assert!(!allows(&r, &u, "GET", "/api/v1/zones"));
        assert!(!allows(&r, &u, "POST", "/api/v1/zones"));
        let r = rules(json!([{"users": ["u"], "verbs": ["create"], "resources": ["zones"]}]));
        assert!(allows(&r, &u, "POST", "/api/v1/zones"));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn empty_lists_match_nothing() {
        let u = who("u", &["g"]);
        for rule in [
            json!({"users": ["u"], "verbs": [], "resources": ["zones"]}),
            json!({"users": ["u"], "verbs": ["get"], "resources": []}),
            json!({"users": ["u"], "verbs": ["get"], "resources": ["zones"], "zones": []}),
            json!({"users": [], "groups": [], "verbs": ["get"], "resources": ["zones"]}),
        ] {
            let r = rules(json!([rule]));
            assert!(!allows(&r, &u, "GET", "/api/v1/zones/a.com"), "{r:?}");
        }
        assert!(!allows(&rules(json!([])), &u, "GET", "/api/v1/zones"));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn bad_rules_are_refused_with_where_and_why() {
        let e = |v| StaticRules::from_value(v, "authorization.rules").unwrap_err();
        assert!(e(json!({})).starts_with("authorization.rules: "));
        assert!(e(json!([{"verbs": ["get"], "resources": ["zones"]}]))
            .contains("[0]: a rule must name"));
        assert!(
            e(json!([{"users": ["u"], "verbs": ["fetch"], "resources": ["zones"]}]))
                .contains("\"fetch\"")
        );
        assert!(
            e(json!([{"users": ["u"], "verbs": ["get"], "resources": ["zone"]}]))
                .contains("\"zone\"")
        );
        assert!(e(
            json!([{"users": ["u"], "verbs": ["get"], "resources": ["zones"], "zones": ["*"]}])
        )
        .contains("zones"));
        assert!(e(
            json!([{"users": ["u"], "verbs": ["get"], "resources": ["zones"], "zones": ["a..b"]}])
        )
        .contains("zones"));
        assert!(e(json!([{"users": ["u"], "resources": ["zones"]}])).contains("verbs"));
        assert!(e(
            json!([{"users": ["u"], "verbs": ["get"], "resources": ["zones"], "names": []}])
        )
        .contains("names"));
    }
}
