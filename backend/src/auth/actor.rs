//! Who asked for a change, for the logs of every mutation. Set by the authentication layer:
//! the reviewed identity, "api-token" for the shared secret, a token fingerprint in basic mode,
//! or the mesh's `x-remote-user` when authentication is disabled because the mesh does it
//! (the extractor and that middleware are in `http::auth`).

/// The caller as far as this service knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

/// Header the filter sets with the authenticated user (only trusted with DISABLE_AUTH=true).
pub const REMOTE_USER_HEADER: &str = "x-remote-user";
