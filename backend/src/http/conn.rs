//! The two ends of the TCP connection a request came over, put into every request by the
//! server (`into_make_service_with_connect_info::<Connection>`): the rate limiter keys by the
//! peer; the Linkerd mode trusts its identity header only from inside the pod (a peer on
//! loopback or at the connection's own local address).

use std::net::SocketAddr;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::net::TcpListener;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    pub peer: SocketAddr,
    /// Where the connection arrived; `None` if the socket could not say (then nothing that
    /// depends on it is trusted).
    pub local: Option<SocketAddr>,
}

impl Connected<IncomingStream<'_, TcpListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Connection {
        Connection {
            peer: *stream.remote_addr(),
            local: stream.io().local_addr().ok(),
        }
    }
}
