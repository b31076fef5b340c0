//! Who asked for a change, for the logs of every mutation. Set by the authentication layer:
//! the reviewed identity, "api-token" for the shared secret, a token fingerprint in basic mode,
//! or the mesh's user header (`MESH_USER_HEADER`, by default `x-remote-user`) when
//! authentication is disabled because the mesh does it (the extractor and that middleware are
//! in `http::auth`); under mutual TLS, the verified client certificate's name unless
//! TokenReview named the caller.

/// The caller as far as this service knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

/// The mesh's user header when none is configured: the filter's default `identityHeaders.user`
/// (only trusted with DISABLE_AUTH=true).
pub const REMOTE_USER_HEADER: &str = bindcar_policy::config::DEFAULT_USER_HEADER;

/// The name of the verified client certificate a request came with (mutual TLS), put on the
/// request by the server from its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub String);

impl Actor {
    /// A certificate checked in the handshake says more than a token nobody reviewed (basic
    /// mode, the shared secret) or a header (`x-remote-user`, which any client with a
    /// certificate could write); a reviewed identity says the most.
    pub fn or_certificate(self, reviewed: bool, certificate: Option<&ClientCertificate>) -> Actor {
        match certificate {
            Some(ClientCertificate(name)) if !reviewed => Actor(format!("tls:{name}")),
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_certificate_names_the_caller_unless_tokenreview_did() {
        let cert = ClientCertificate("bindy".into());
        let token = Actor("bearer:1a2b".into());
        assert_eq!(
            token.clone().or_certificate(false, Some(&cert)),
            Actor("tls:bindy".into())
        );
        assert_eq!(token.clone().or_certificate(false, None), token);
        let reviewed = Actor("system:serviceaccount:dns-system:bindy".into());
        assert_eq!(reviewed.clone().or_certificate(true, Some(&cert)), reviewed);
    }
}
