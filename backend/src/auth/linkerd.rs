//! Linkerd mode (`BIND_AUTH_MODE=linkerd`): the caller is the ServiceAccount of its mTLS
//! identity, which Linkerd's inbound proxy puts in `l5d-client-id`
//! (`<sa>.<ns>.serviceaccount.identity.<control plane ns>.<trust domain>`) after removing any
//! copy the client sent. Then the same allowlists (and authorization) as TokenReview mode.
//!
//! The header proves something only when the local proxy wrote it, so it is read only on
//! connections from inside the pod's network namespace: a peer on loopback (Linkerd before
//! 2.11 forwarded to 127.0.0.1) or at the connection's own local address (since 2.11 the proxy
//! connects to the pod IP it intercepted, from the pod IP). A connection from anywhere else
//! (a client that bypassed the proxy: no sidecar, a skipped port) is refused whatever it
//! sends. Other containers of the pod share that namespace and are trusted like the proxy, as
//! they are with named's control channel. `hostNetwork` pods share the node's namespace:
//! there this check cannot tell the proxy from any process of the node, so the manifests
//! never set it (Linkerd does not inject such pods either).

use std::net::{IpAddr, SocketAddr};

use bindcar_policy::access::{split_service_account, AccessPolicy};
use bindcar_policy::review::Identity;
use bindcar_policy::Denial;

/// The header Linkerd's inbound proxy sets from the client's mTLS identity.
pub const CLIENT_ID_HEADER: &str = "l5d-client-id";

/// The groups the API server gives every ServiceAccount token, so SubjectAccessReviews and
/// static rules see a mesh caller as they would see the same account's token.
fn service_account_groups(namespace: &str) -> Vec<String> {
    vec![
        "system:serviceaccounts".into(),
        format!("system:serviceaccounts:{namespace}"),
        "system:authenticated".into(),
    ]
}

/// Whether a connection comes from inside this pod's network namespace (see the top).
pub fn from_local_proxy(peer: SocketAddr, local: SocketAddr) -> bool {
    let canonical = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    let (peer, local) = (canonical(peer.ip()), canonical(local.ip()));
    peer.is_loopback() || (peer == local && !peer.is_unspecified())
}

pub struct LinkerdIdentity {
    /// `.serviceaccount.identity.<ns>.<trust domain>`, with its leading dot.
    suffix: String,
    policy: AccessPolicy,
}

fn refused(why: String) -> Denial {
    Denial::NotAuthenticated(Some(why))
}

impl LinkerdIdentity {
    pub fn new(identity_domain: &str, policy: AccessPolicy) -> LinkerdIdentity {
        LinkerdIdentity {
            suffix: format!(".{identity_domain}"),
            policy,
        }
    }

    /// Who calls, from the `l5d-client-id` values of a request that came over a connection
    /// from `peer` to `local`, or why it is refused.
    pub fn authenticate(
        &self,
        values: &[&[u8]],
        peer: Option<SocketAddr>,
        local: Option<SocketAddr>,
    ) -> Result<Identity, Denial> {
        let inside = matches!((peer, local), (Some(p), Some(l)) if from_local_proxy(p, l));
        if !inside {
            return Err(refused(format!(
                "{CLIENT_ID_HEADER} is accepted only from the pod's own Linkerd proxy, and this \
                 connection comes from elsewhere"
            )));
        }
        let value = match values {
            [] => {
                return Err(refused(format!(
                    "no Linkerd client identity ({CLIENT_ID_HEADER}): the caller is not meshed, \
                     or not over mTLS"
                )))
            }
            [one] => *one,
            _ => return Err(refused(format!("more than one {CLIENT_ID_HEADER}"))),
        };
        let identity = self.parse(value)?;
        self.policy.admit(&identity)
    }

    /// `<sa>.<ns><suffix>` → the ServiceAccount's Kubernetes identity.
    fn parse(&self, value: &[u8]) -> Result<Identity, Denial> {
        let not_ours = || {
            refused(format!(
                "{CLIENT_ID_HEADER} is not a ServiceAccount identity ending in {}",
                &self.suffix[1..]
            ))
        };
        let text = std::str::from_utf8(value).map_err(|_| not_ours())?;
        let account = text.strip_suffix(&self.suffix).ok_or_else(not_ours)?;
        // The namespace is a DNS label (no dot); the ServiceAccount name may hold dots.
        let (name, namespace) = account.rsplit_once('.').ok_or_else(not_ours)?;
        let username = format!("system:serviceaccount:{namespace}:{name}");
        if split_service_account(&username).is_none() {
            return Err(not_ours());
        }
        Ok(Identity {
            username,
            uid: None,
            groups: service_account_groups(namespace),
            extra: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const DOMAIN: &str = "serviceaccount.identity.linkerd.cluster.local";

    fn linkerd(namespaces: &[&str], accounts: &[&str]) -> LinkerdIdentity {
        let policy = AccessPolicy::new(
            vec!["bindcar".into()],
            namespaces.iter().map(|s| s.to_string()).collect(),
            accounts.iter().map(|s| s.to_string()).collect(),
            false,
        )
        .unwrap();
        LinkerdIdentity::new(DOMAIN, policy)
    }

    fn addr(s: &str) -> Option<SocketAddr> {
        Some(s.parse().unwrap())
    }

    const LOOP: (&str, &str) = ("127.0.0.1:40000", "127.0.0.1:8080");

    fn from_loopback(l: &LinkerdIdentity, values: &[&[u8]]) -> Result<Identity, Denial> {
        l.authenticate(values, addr(LOOP.0), addr(LOOP.1))
    }

    #[test]
    fn the_identity_becomes_the_service_account_with_its_groups() {
        let l = linkerd(&["dns-system"], &[]);
        let id = from_loopback(
            &l,
            &[b"external-dns.dns-system.serviceaccount.identity.linkerd.cluster.local"],
        )
        .unwrap();
        assert_eq!(id.username, "system:serviceaccount:dns-system:external-dns");
        assert_eq!(
            id.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:dns-system",
                "system:authenticated"
            ]
        );
        // A ServiceAccount name with dots: the namespace is the last label before the suffix.
        let id = from_loopback(&l, &[format!("a.b.dns-system.{DOMAIN}").as_bytes()]).unwrap();
        assert_eq!(id.username, "system:serviceaccount:dns-system:a.b");
    }

    #[test]
    fn the_allowlists_apply_as_in_tokenreview_mode() {
        let l = linkerd(
            &["dns-system"],
            &["system:serviceaccount:dns-system:external-dns"],
        );
        let ok = format!("external-dns.dns-system.{DOMAIN}");
        assert!(from_loopback(&l, &[ok.as_bytes()]).is_ok());
        let other_ns = format!("external-dns.default.{DOMAIN}");
        assert_eq!(
            from_loopback(&l, &[other_ns.as_bytes()]),
            Err(Denial::UnauthorizedNamespace("default".into()))
        );
        let other_sa = format!("app.dns-system.{DOMAIN}");
        assert_eq!(
            from_loopback(&l, &[other_sa.as_bytes()]),
            Err(Denial::UnauthorizedServiceAccount(
                "system:serviceaccount:dns-system:app".into()
            ))
        );
    }

    #[test]
    fn anything_else_is_refused() {
        let l = linkerd(&["dns-system"], &[]);
        let bad: [&[u8]; 8] = [
            b"external-dns.dns-system.serviceaccount.identity.linkerd.other.domain",
            b"external-dns.dns-system.serviceaccount.identity.linkerd.cluster.local.evil",
            b"dns-system.serviceaccount.identity.linkerd.cluster.local",
            b".dns-system.serviceaccount.identity.linkerd.cluster.local",
            b"external-dns..serviceaccount.identity.linkerd.cluster.local",
            b"External-DNS.dns-system.serviceaccount.identity.linkerd.cluster.local",
            b"x.dns-system.serviceaccount.identity.linkerd.cluster.local\xff",
            b"",
        ];
        for value in bad {
            let e = from_loopback(&l, &[value]).unwrap_err();
            assert!(
                matches!(&e, Denial::NotAuthenticated(Some(m)) if m.contains("not a ServiceAccount identity")),
                "{value:?}: {e:?}"
            );
        }
        let e = from_loopback(&l, &[]).unwrap_err();
        assert!(e.message().contains("no Linkerd client identity"), "{e:?}");
        let one = format!("a.dns-system.{DOMAIN}");
        let e = from_loopback(&l, &[one.as_bytes(), one.as_bytes()]).unwrap_err();
        assert!(e.message().contains("more than one"), "{e:?}");
    }

    #[test]
    fn only_connections_from_inside_the_pod_count() {
        let l = linkerd(&["dns-system"], &[]);
        let id = format!("external-dns.dns-system.{DOMAIN}");
        let id = [id.as_bytes()];
        // Loopback (Linkerd < 2.11), the pod IP to itself (Linkerd >= 2.11), IPv6 and mapped.
        for (peer, local) in [
            ("127.0.0.1:40000", "127.0.0.1:8080"),
            ("127.0.0.6:40000", "10.0.0.7:8080"),
            ("10.0.0.7:40000", "10.0.0.7:8080"),
            ("[::1]:40000", "[::1]:8080"),
            ("[fd00::7]:40000", "[fd00::7]:8080"),
            ("[::ffff:10.0.0.7]:40000", "10.0.0.7:8080"),
            ("[::ffff:127.0.0.1]:40000", "[::]:8080"),
        ] {
            assert!(
                l.authenticate(&id, addr(peer), addr(local)).is_ok(),
                "{peer} -> {local}"
            );
        }
        // Another pod, the node, an unknown connection: refused, the header unread.
        for (peer, local) in [
            ("10.0.0.8:40000", "10.0.0.7:8080"),
            ("[fd00::8]:40000", "[fd00::7]:8080"),
            ("0.0.0.0:40000", "0.0.0.0:8080"),
        ] {
            let e = l.authenticate(&id, addr(peer), addr(local)).unwrap_err();
            assert!(
                e.message()
                    .contains("only from the pod's own Linkerd proxy"),
                "{e:?}"
            );
        }
        assert!(l.authenticate(&id, None, addr("10.0.0.7:8080")).is_err());
        assert!(l.authenticate(&id, addr("127.0.0.1:1"), None).is_err());
    }
}
