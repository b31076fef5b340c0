//! Authentication: who is calling. `authenticator` picks the configured mode and runs the
//! shared `bindcar_policy` decision (basic, shared secret, TokenReview); `tokenreview` is its
//! Kubernetes client with the verdict cache; `actor` is the caller's identity for the logs.
//! `authorization` decides, after TokenReview, whether the reviewed identity may do what the
//! request asks (static rules or SubjectAccessReview, the shared `bindcar_policy::authz`);
//! `kube_client` is the Kubernetes client both share. `linkerd` takes the caller from Linkerd's
//! `l5d-client-id`, only on connections from inside the pod.
//! No axum here: the middleware that applies it is `http::auth`.

pub mod actor;
pub mod authenticator;
pub mod authorization;
pub mod kube_client;
pub mod linkerd;
pub mod tokenreview;

pub use actor::Actor;
pub use authenticator::{Authenticator, Credentials};
