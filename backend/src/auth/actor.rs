//! Who asked for a change, for the logs of every mutation. Set by the authentication layer:
//! the reviewed identity, "api-token" for the shared secret, a token fingerprint in basic mode,
//! or the mesh's user header (`MESH_USER_HEADER`, by default `x-remote-user`) when
//! authentication is disabled because the mesh does it (the extractor and that middleware are
//! in `http::auth`).

/// The caller as far as this service knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

/// The mesh's user header when none is configured: the filter's default `identityHeaders.user`
/// (only trusted with DISABLE_AUTH=true).
pub const REMOTE_USER_HEADER: &str = bindcar_policy::config::DEFAULT_USER_HEADER;
