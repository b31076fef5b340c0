//! The API's listener: accepts connections and serves HTTP/1.1 on them with the router, keeping
//! hostile clients from holding the process (slowloris): a connection must send its request
//! head within the header timeout, its body within the body timeout, and may idle between
//! requests for the idle timeout; at most `BIND_API_MAX_CONNECTIONS` are open, and at most
//! `BIND_API_MAX_CONNECTIONS_PER_CLIENT` from one address. At the cap, the connection that has
//! waited longest without a request in progress makes room for the new one.
//!
//! - `listener`: the accept loop and one task per connection; generic over the `Transport`
//!   that turns an accepted TCP stream into the byte stream HTTP is read from (plain TCP here;
//!   a TLS acceptor implements the same trait).
//! - `admission`: who may connect (the caps) and whom to shed at the cap (pure, no I/O).
//! - `phase`: one connection's phase (waiting for a head, serving, idle) and its deadline.
//! - `watched_io`: tells the phase when the bytes of a new request arrive.
//! - `body_deadline`: the request body, cut off at its deadline (408).
//! - `fd_budget`: the descriptors the caps need, checked against RLIMIT_NOFILE at startup.

mod admission;
mod body_deadline;
pub mod fd_budget;
mod listener;
mod phase;
mod watched_io;

pub use body_deadline::is_body_timeout;
pub use listener::{serve, Connection, PlainTcp, Transport};
