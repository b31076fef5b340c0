//! HTTPS on the API's listener (`serve`): the TLS handshake runs in each connection's own
//! task, after the connection was admitted, under the header timeout and the connection caps,
//! so a slow or silent client holds up no one else and is shed like a slow request head (a
//! handshake slowloris meets the same defences as a plain one). A finished handshake hands the
//! HTTP server the decrypted stream and, under mutual TLS, the name the client certificate
//! was admitted under.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::identity::CertNames;
use super::reload::Reloader;
use crate::serve::Transport;

/// What the handshake says of the client (an extension of every request on the connection).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The verified client certificate's name (mutual TLS), if it has one.
    pub client: Option<String>,
}

/// The TLS side of the listener, with the configuration in force when a connection arrives.
pub struct TlsTransport {
    reloader: Arc<Reloader>,
}

impl TlsTransport {
    pub fn new(reloader: Arc<Reloader>) -> TlsTransport {
        TlsTransport { reloader }
    }
}

impl Transport for TlsTransport {
    type Io = TlsStream<TcpStream>;
    type Info = Peer;

    async fn establish(&self, tcp: TcpStream, peer: SocketAddr) -> io::Result<(Self::Io, Peer)> {
        let _ = tcp.set_nodelay(true);
        let acceptor = TlsAcceptor::from(self.reloader.current());
        let tls = acceptor.accept(tcp).await.inspect_err(|e| {
            tracing::info!(peer = %peer, error = %e, "TLS handshake failed");
        })?;
        let allowed = &self.reloader.settings().allowed_clients;
        let client = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(<[_]>::first)
            .and_then(CertNames::of)
            .and_then(|names| names.identity(allowed));
        Ok((tls, Peer { client }))
    }
}
