//! The HTTPS listener axum serves from: TCP connections accepted here, their handshakes run
//! side by side (a slow or silent client holds up no one else, and gives up after
//! `HANDSHAKE_TIMEOUT`), and only finished ones handed to the HTTP server, with the peer's
//! address and, under mutual TLS, the name its certificate was admitted under.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::identity::CertNames;
use super::reload::Reloader;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at most; beyond, connections wait in the kernel's accept queue.
const MAX_HANDSHAKES: usize = 256;
/// Finished handshakes waiting for the HTTP server to take them.
const READY_QUEUE: usize = 64;

/// Who is on the other end of a connection (axum's `ConnectInfo` under TLS).
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The verified client certificate's name (mutual TLS), if it has one.
    pub client: Option<String>,
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Peer {
        stream.remote_addr().clone()
    }
}

pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, Peer)>,
    local: SocketAddr,
    /// Stopped with the listener: axum drops it when shutdown starts, so new connections are
    /// then refused by the kernel as with a plain listener.
    acceptor: JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl TlsListener {
    pub fn new(tcp: TcpListener, reloader: Arc<Reloader>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (sender, ready) = mpsc::channel(READY_QUEUE);
        let acceptor = tokio::spawn(accept_forever(tcp, reloader, sender));
        Ok(TlsListener {
            ready,
            local,
            acceptor,
        })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept task is gone (only when the listener is dropped): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Peer> {
        Ok(Peer {
            addr: self.local,
            client: None,
        })
    }
}

async fn accept_forever(
    tcp: TcpListener,
    reloader: Arc<Reloader>,
    ready: mpsc::Sender<(TlsStream<TcpStream>, Peer)>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (stream, addr) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: retrying at once would spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let acceptor = TlsAcceptor::from(reloader.current());
        let allowed = reloader.settings().allowed_clients.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let client = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(<[_]>::first)
                        .and_then(CertNames::of)
                        .and_then(|names| names.identity(&allowed));
                    let _ = ready.send((tls, Peer { addr, client })).await;
                }
                Ok(Err(e)) => tracing::info!(peer = %addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::info!(peer = %addr, "TLS handshake timed out"),
            }
        });
    }
}
