//! What a TokenReview answer means for access: audiences, then user, then the namespace and
//! ServiceAccount allowlists (combined with AND).

use crate::denial::Denial;
use crate::review::{Identity, ReviewOutcome};

const SA_PREFIX: &str = "system:serviceaccount:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    audiences: Vec<String>,
    namespaces: Vec<String>,
    service_accounts: Vec<String>,
}

/// Postures we refuse to run in; each side words the fix in its own configuration terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostureError {
    NoAudiences,
    /// Neither allowlist set and allow-any not explicitly requested.
    NoAllowlist,
    BadServiceAccount(String),
    BadNamespace(String),
}

impl AccessPolicy {
    pub fn new(
        audiences: Vec<String>,
        namespaces: Vec<String>,
        service_accounts: Vec<String>,
        allow_any_service_account: bool,
    ) -> Result<Self, PostureError> {
        if audiences.is_empty() || audiences.iter().any(|a| a.trim().is_empty()) {
            return Err(PostureError::NoAudiences);
        }
        if namespaces.is_empty() && service_accounts.is_empty() && !allow_any_service_account {
            return Err(PostureError::NoAllowlist);
        }
        if let Some(bad) = namespaces.iter().find(|n| !is_dns_label(n)) {
            return Err(PostureError::BadNamespace(bad.clone()));
        }
        if let Some(bad) = service_accounts
            .iter()
            .find(|s| split_service_account(s).is_none())
        {
            return Err(PostureError::BadServiceAccount(bad.clone()));
        }
        Ok(AccessPolicy {
            audiences,
            namespaces,
            service_accounts,
        })
    }

    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    pub fn decide(&self, outcome: &ReviewOutcome) -> Result<Identity, Denial> {
        let (user, audiences) = match outcome {
            ReviewOutcome::Rejected { reason } => {
                return Err(Denial::NotAuthenticated(reason.clone()))
            }
            ReviewOutcome::Authenticated { user, audiences } => (user, audiences),
        };
        if !audiences.iter().any(|a| self.audiences.contains(a)) {
            return Err(Denial::AudienceNotAccepted);
        }
        let user = user.as_ref().ok_or(Denial::NoUserInfo)?;
        self.admit(user)
    }

    /// The allowlists alone, for an identity established otherwise (the backend's Linkerd
    /// mode takes it from the mesh's mTLS, where there is no token and no audience).
    pub fn admit(&self, user: &Identity) -> Result<Identity, Denial> {
        if self.namespaces.is_empty() && self.service_accounts.is_empty() {
            return Ok(user.clone());
        }
        // With any allowlist set, only a well-formed ServiceAccount can pass: a plain user
        // (an OIDC identity, a cluster admin) has no namespace to be checked against.
        let (namespace, _) = split_service_account(&user.username)
            .ok_or_else(|| Denial::UnauthorizedServiceAccount(user.username.clone()))?;
        if !self.namespaces.is_empty() && !self.namespaces.iter().any(|n| n == namespace) {
            return Err(Denial::UnauthorizedNamespace(namespace.to_string()));
        }
        if !self.service_accounts.is_empty() && !self.service_accounts.contains(&user.username) {
            return Err(Denial::UnauthorizedServiceAccount(user.username.clone()));
        }
        Ok(user.clone())
    }
}

/// `system:serviceaccount:<namespace>:<name>` → (namespace, name), both valid DNS names.
pub fn split_service_account(username: &str) -> Option<(&str, &str)> {
    let rest = username.strip_prefix(SA_PREFIX)?;
    let (ns, name) = rest.split_once(':')?;
    (is_dns_label(ns) && is_dns_subdomain(name)).then_some((ns, name))
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn sa(ns: &str, name: &str) -> ReviewOutcome {
        user(&format!("system:serviceaccount:{ns}:{name}"))
    }

    fn user(username: &str) -> ReviewOutcome {
        ReviewOutcome::Authenticated {
            user: Some(Identity {
                username: username.into(),
                uid: None,
                extra: Default::default(),
                groups: vec![],
            }),
            audiences: vec!["bindcar".into()],
        }
    }

    fn policy(ns: &[&str], sas: &[&str], any: bool) -> AccessPolicy {
        AccessPolicy::new(
            vec!["bindcar".into()],
            ns.iter().map(|s| s.to_string()).collect(),
            sas.iter().map(|s| s.to_string()).collect(),
            any,
        )
        .unwrap()
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn posture_guards() {
        assert_eq!(
            AccessPolicy::new(vec![], vec!["dns".into()], vec![], false),
            Err(PostureError::NoAudiences)
        );
        assert_eq!(
            AccessPolicy::new(vec!["".into()], vec!["dns".into()], vec![], false),
            Err(PostureError::NoAudiences)
        );
        assert_eq!(
            AccessPolicy::new(vec!["a".into()], vec![], vec![], false),
            Err(PostureError::NoAllowlist)
        );
        assert!(AccessPolicy::new(vec!["a".into()], vec![], vec![], true).is_ok());
        assert!(matches!(
            AccessPolicy::new(vec!["a".into()], vec![], vec!["dns:x".into()], false),
            Err(PostureError::BadServiceAccount(_))
        ));
        assert!(matches!(
            AccessPolicy::new(vec!["a".into()], vec!["Bad_NS".into()], vec![], false),
            Err(PostureError::BadNamespace(_))
        ));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn decision_table() {
        let ns_only = policy(&["dns-system"], &[], false);
        let sa_only = policy(
            &[],
            &["system:serviceaccount:dns-system:external-dns"],
            false,
        );
        let both = policy(
            &["dns-system"],
            &["system:serviceaccount:dns-system:external-dns"],
            false,
        );
        let any = policy(&[], &[], true);

        assert!(ns_only.decide(&sa("dns-system", "anything")).is_ok());
        assert_eq!(
            ns_only.decide(&sa("default", "x")),
            Err(Denial::UnauthorizedNamespace("default".into()))
        );
        // The reference implementation lets non-ServiceAccount users past a namespace list.
        assert_eq!(
            ns_only.decide(&user("kubernetes-admin")),
            Err(Denial::UnauthorizedServiceAccount(
                "kubernetes-admin".into()
            ))
        );
        assert!(ns_only
            .decide(&user("system:serviceaccount:dns-system"))
            .is_err());
        assert!(ns_only.decide(&user("system:serviceaccount::x")).is_err());
        assert!(ns_only
            .decide(&user("system:serviceaccount:dns-system:"))
            .is_err());
        assert!(ns_only
            .decide(&user("system:serviceaccount:dns-system:a:b"))
            .is_err());

        assert!(sa_only.decide(&sa("dns-system", "external-dns")).is_ok());
        assert_eq!(
            sa_only.decide(&sa("dns-system", "other")),
            Err(Denial::UnauthorizedServiceAccount(
                "system:serviceaccount:dns-system:other".into()
            ))
        );
        assert!(both.decide(&sa("dns-system", "external-dns")).is_ok());
        assert!(both.decide(&sa("dns-system", "other")).is_err());

        assert!(any.decide(&user("kubernetes-admin")).is_ok());
        assert!(any.decide(&sa("default", "x")).is_ok());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn reviewer_verdicts_come_first() {
        let p = policy(&[], &[], true);
        assert_eq!(
            p.decide(&ReviewOutcome::Rejected {
                reason: Some("expired".into())
            }),
            Err(Denial::NotAuthenticated(Some("expired".into())))
        );
        assert_eq!(
            p.decide(&ReviewOutcome::Authenticated {
                user: None,
                audiences: vec!["bindcar".into()]
            }),
            Err(Denial::NoUserInfo)
        );
        assert_eq!(
            p.decide(&ReviewOutcome::Authenticated {
                user: Some(Identity {
                    username: "x".into(),
                    uid: None,
                    extra: Default::default(),
                    groups: vec![]
                }),
                audiences: vec!["other".into()],
            }),
            Err(Denial::AudienceNotAccepted)
        );
        assert_eq!(
            p.decide(&ReviewOutcome::Authenticated {
                user: Some(Identity {
                    username: "x".into(),
                    uid: None,
                    extra: Default::default(),
                    groups: vec![]
                }),
                audiences: vec![],
            }),
            Err(Denial::AudienceNotAccepted)
        );
    }
}
