//! The API over TLS (`BIND_TLS_*`, bindcar 0.9.0's transport): the files turned into a rustls
//! configuration (`material`), their renewal on an interval and on SIGHUP (`reload`), the
//! handshake as the listener's transport (`listener`: `serve` runs it in each connection's
//! task, under the connection caps and timeouts), and, under mutual TLS, which client
//! certificates are admitted (`verifier`) and the name each goes by (`identity`). Depends on
//! `config` and `serve`; `server` wires it in.

pub mod identity;
pub mod listener;
pub mod material;
pub mod reload;
pub mod verifier;

#[cfg(test)]
mod tests;

pub use listener::{Peer, TlsTransport};
pub use reload::{watch, Reload, Reloader};
