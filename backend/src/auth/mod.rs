//! Authentication: who is calling. `authenticator` picks the configured mode and runs the
//! shared `bindcar_policy` decision (basic, shared secret, TokenReview); `tokenreview` is its
//! Kubernetes client with the verdict cache; `actor` is the caller's identity for the logs.
//! No axum here: the middleware that applies it is `http::auth`. Later: SubjectAccessReview
//! authorization (`sar.rs`).

pub mod actor;
pub mod authenticator;
pub mod tokenreview;

pub use actor::Actor;
pub use authenticator::Authenticator;
