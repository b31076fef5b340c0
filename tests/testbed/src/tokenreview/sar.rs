//! `POST /apis/authorization.k8s.io/v1/subjectaccessreviews`, decided from an RBAC table the
//! test gives (ClusterRole rules bound to users and groups), as the kube-apiserver's RBAC
//! authorizer would: a rule allows when the subject is bound to it, and the API group, verb,
//! `resource[/subresource]` and (if the rule lists `resourceNames`) the name all match; `*`
//! matches any group, verb or resource. A rule with `resourceNames` never allows a request
//! without a name (`list`, `create`), as in Kubernetes. Nothing matching: `allowed: false`.

use serde_json::{json, Value};

/// One ClusterRole rule and the subjects bound to it (ClusterRoleBindings).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RbacRule {
    pub users: Vec<String>,
    pub groups: Vec<String>,
    /// Default (empty): `["bindcar.dns"]`.
    pub api_groups: Vec<String>,
    pub verbs: Vec<String>,
    /// `zones`, `zones/records`, `*`…
    pub resources: Vec<String>,
    /// Empty: any name.
    pub resource_names: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl RbacRule {
    /// `verbs` on `resources` for `users`, any name, API group `bindcar.dns`.
    pub fn for_users(users: &[&str], verbs: &[&str], resources: &[&str]) -> Self {
        RbacRule {
            users: strings(users),
            verbs: strings(verbs),
            resources: strings(resources),
            ..Default::default()
        }
    }

    /// The same for members of `groups`.
    pub fn for_groups(groups: &[&str], verbs: &[&str], resources: &[&str]) -> Self {
        RbacRule {
            groups: strings(groups),
            verbs: strings(verbs),
            resources: strings(resources),
            ..Default::default()
        }
    }

    /// Only on these names (`resourceNames`).
    pub fn named(mut self, names: &[&str]) -> Self {
        self.resource_names = strings(names);
        self
    }

    fn allows(&self, user: &str, groups: &[String], attrs: &Attrs) -> bool {
        let any = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x == v);
        let api_groups = if self.api_groups.is_empty() {
            vec!["bindcar.dns".to_string()]
        } else {
            self.api_groups.clone()
        };
        let subject =
            self.users.iter().any(|u| u == user) || groups.iter().any(|g| self.groups.contains(g));
        let resource = match &attrs.subresource {
            Some(s) if !s.is_empty() => format!("{}/{s}", attrs.resource),
            _ => attrs.resource.clone(),
        };
        let name = self.resource_names.is_empty()
            || (!attrs.name.is_empty() && self.resource_names.contains(&attrs.name));
        subject
            && any(&api_groups, &attrs.group)
            && any(&self.verbs, &attrs.verb)
            && any(&self.resources, &resource)
            && name
    }
}

struct Attrs {
    group: String,
    resource: String,
    subresource: Option<String>,
    name: String,
    verb: String,
}

pub(crate) const API_VERSION: &str = "authorization.k8s.io/v1";

/// The `201` body for a SubjectAccessReview, or `Err(message)` for a 400 BadRequest.
pub(crate) fn review(body: &[u8], rules: &[RbacRule]) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("couldn't get version/kind; json parse error: {e}"))?;
    match v.get("apiVersion").map(Value::as_str) {
        None | Some(Some(API_VERSION)) => {}
        Some(_) => return Err("the API version in the data does not match".into()),
    }
    match v.get("kind").map(Value::as_str) {
        None | Some(Some("SubjectAccessReview")) => {}
        Some(_) => {
            return Err(
                "the object provided is unrecognized (must be of type SubjectAccessReview)".into(),
            )
        }
    }
    let spec = v.get("spec").cloned().unwrap_or_else(|| json!({}));
    let s = |p: &str| {
        spec.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let user = s("/user");
    let groups: Vec<String> = spec
        .get("groups")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if user.is_empty() && groups.is_empty() {
        return Err("at least one of user or group must be specified".into());
    }
    if spec.get("resourceAttributes").is_none() {
        return Err(
            "exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
        );
    }
    let attrs = Attrs {
        group: s("/resourceAttributes/group"),
        resource: s("/resourceAttributes/resource"),
        subresource: spec
            .pointer("/resourceAttributes/subresource")
            .and_then(Value::as_str)
            .map(str::to_string),
        name: s("/resourceAttributes/name"),
        verb: s("/resourceAttributes/verb"),
    };
    let allowed = rules.iter().position(|r| r.allows(&user, &groups, &attrs));
    let status = match allowed {
        Some(i) => json!({"allowed": true, "reason": format!("RBAC: allowed by test rule {i}")}),
        None => json!({"allowed": false}),
    };
    Ok(json!({
        "kind": "SubjectAccessReview",
        "apiVersion": API_VERSION,
        "metadata": {"creationTimestamp": null},
        "spec": spec,
        "status": status,
    }))
}
