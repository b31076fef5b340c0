//! The API over TLS (`BIND_TLS_*`, bindcar 0.9.0's transport): the files turned into a rustls
//! configuration (`material`), their renewal on an interval and on SIGHUP (`reload`), the
//! listener that runs handshakes before axum sees a connection (`listener`), and, under mutual
//! TLS, which client certificates are admitted (`verifier`) and the name each goes by
//! (`identity`). Depends on `config` only; `server` wires it in.

pub mod identity;
pub mod listener;
pub mod material;
pub mod reload;
pub mod verifier;

#[cfg(test)]
mod tests;

pub use listener::{Peer, TlsListener};
pub use reload::{watch, Reload, Reloader};
