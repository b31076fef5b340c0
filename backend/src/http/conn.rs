//! The two ends of the TCP connection a request came over, put into every request by the
//! listener (`serve`): the rate limiter keys by the peer; the Linkerd mode trusts its identity
//! header only from inside the pod (a peer on loopback or at the connection's own local
//! address).

pub use crate::serve::Connection;
