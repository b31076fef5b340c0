//! The accept loop and one task per connection (HTTP/1.1, and HTTP/2 where the client asks
//! for it: ALPN `h2` over TLS, or prior knowledge).
//!
//! Each accepted connection is admitted or refused (`admission`), then served in its own task
//! beside its watchdog (`Conn::watchdog`): whichever ends first ends the connection, so a
//! connection is closed when its phase's deadline passes (no head in time, idle too long) or
//! it is evicted, and never while a request is being served. A refused connection gets a 503
//! written without waiting (best effort) and is closed at once, so refusing costs no
//! descriptor for longer than the accept. `Transport` is the seam for TLS: it turns the
//! accepted TCP stream into the stream HTTP is read from, in the connection's task, under
//! the header timeout and the caps (a stalled handshake is shed like a stalled head).
//! Requests in flight are capped at `BIND_API_MAX_CONNECTIONS` too (an HTTP/2 connection
//! carries several), which keeps the descriptor budget true: one per request toward named.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tower_service::Service;

use super::admission::{Admission, Refusal, Ticket};
use super::body_deadline::DeadlineBody;
use super::phase::Timeouts;
use super::watched_io::Watched;
use crate::config::ConnectionSettings;
use crate::metrics::Metrics;

/// Turns an accepted TCP connection into the byte stream HTTP is served on.
pub trait Transport: Send + Sync + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// What the transport learnt of the peer (a client certificate's name), added to every
    /// request's extensions (beside `ConnectInfo<SocketAddr>`, which every request gets).
    type Info: Clone + Send + Sync + 'static;

    /// Runs in the connection's task, before its first request, under the header timeout
    /// (a TLS handshake that stalls is shed like a slow head).
    fn establish(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> impl Future<Output = io::Result<(Self::Io, Self::Info)>> + Send;
}

/// The two ends of the TCP connection a request came over (`ConnectInfo<Connection>` in every
/// request, beside `ConnectInfo<SocketAddr>`, the peer): the rate limiter keys by the peer;
/// the Linkerd mode trusts its identity header only from inside the pod (`http::auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    pub peer: SocketAddr,
    /// Where the connection arrived; `None` if the socket could not say (then nothing that
    /// depends on it is trusted).
    pub local: Option<SocketAddr>,
}

/// Plain HTTP over TCP.
pub struct PlainTcp;

impl Transport for PlainTcp {
    type Io = TcpStream;
    type Info = ();

    fn establish(
        &self,
        tcp: TcpStream,
        _peer: SocketAddr,
    ) -> impl Future<Output = io::Result<(TcpStream, ())>> + Send {
        std::future::ready(Ok((tcp, ())))
    }
}

/// The answer a refused connection gets, written without waiting (the client may not read).
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
connection: close\r\ncontent-length: 79\r\n\r\n\
{\"error\":\"Service Unavailable\",\"message\":\"Too many connections; retry later.\"}\n";

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in progress
/// finish (connections still obey their deadlines) and returns.
pub async fn serve<T: Transport>(
    listener: TcpListener,
    transport: T,
    router: Router,
    settings: ConnectionSettings,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) {
    let transport = Arc::new(transport);
    let admission = Admission::new(settings.max_connections, settings.max_per_client);
    let requests = Arc::new(Semaphore::new(
        usize::try_from(settings.max_connections).unwrap_or(usize::MAX),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a receiver; `closed()` says they are all gone.
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        // No room (every connection serving a request, or waiting for less than the grace):
        // new connections stay in the listen queue until there is.
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            () = admission.wait_for_room() => tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted,
            },
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_failed(&e).await;
                continue;
            }
        };
        let ticket = match admission.admit(peer, Instant::now()) {
            Ok(ticket) => ticket,
            Err(refusal) => {
                refuse(tcp, peer, refusal, &metrics);
                continue;
            }
        };
        metrics.connection_opened();
        let task = Task {
            ticket,
            peer,
            router: router.clone(),
            settings,
            metrics: metrics.clone(),
            stop: stop_rx.clone(),
            requests: requests.clone(),
        };
        let transport = transport.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            task.run(tcp, transport.as_ref()).await;
            drop(done);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_rx);
    done_tx.closed().await;
}

/// Errors of one connection (reset before accept) are skipped; others (EMFILE) are waited
/// out briefly rather than spun on.
async fn accept_failed(e: &io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept error");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

fn refuse(tcp: TcpStream, peer: SocketAddr, refusal: Refusal, metrics: &Metrics) {
    metrics.connection_closed(refusal.label());
    tracing::debug!(peer = %peer, reason = refusal.label(), "connection refused");
    let _ = tcp.try_write(REFUSED);
}

struct Task {
    ticket: Ticket,
    peer: SocketAddr,
    router: Router,
    settings: ConnectionSettings,
    metrics: Metrics,
    stop: watch::Receiver<bool>,
    /// Requests in flight, all connections together.
    requests: Arc<Semaphore>,
}

impl Task {
    async fn run<T: Transport>(self, tcp: TcpStream, transport: &T) {
        let conn = self.ticket.conn().clone();
        let timeouts = Timeouts {
            header: self.settings.header_timeout,
            idle: self.settings.idle_timeout,
        };
        let (peer, metrics) = (self.peer, self.metrics.clone());
        tokio::select! {
            () = self.serve(tcp, transport) => {}
            why = conn.watchdog(timeouts) => {
                metrics.connection_closed(why.label());
                tracing::debug!(peer = %peer, reason = why.label(), "connection closed");
            }
        }
        metrics.connection_gone();
    }

    async fn serve<T: Transport>(self, tcp: TcpStream, transport: &T) {
        let Task {
            ticket,
            peer,
            router,
            settings,
            mut stop,
            requests,
            ..
        } = self;
        let ends = Connection {
            peer,
            local: tcp.local_addr().ok(),
        };
        // A handshake waits on the client.
        ticket.conn().waiting_on_client(true);
        let (io, info) = match transport.establish(tcp, peer).await {
            Ok(established) => established,
            Err(e) => {
                tracing::debug!(peer = %peer, error = %e, "connection not established");
                return;
            }
        };
        ticket.conn().waiting_on_client(false);
        let conn = ticket.conn().clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            conn.request_started();
            let (conn, mut router, requests) = (conn.clone(), router.clone(), requests.clone());
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(ConnectInfo(peer));
            parts.extensions.insert(ConnectInfo(ends));
            parts.extensions.insert(info.clone());
            let request =
                Request::from_parts(parts, DeadlineBody::new(body, settings.body_timeout));
            async move {
                let permit = requests.acquire_owned().await;
                let response = router.call(request).await;
                drop(permit);
                conn.request_finished(Instant::now());
                Ok::<_, Infallible>(match response {
                    Ok(response) => response,
                    Err(never) => match never {},
                })
            }
        });
        let io = TokioIo::new(Watched::new(io, ticket.conn().clone()));
        let builder = auto::Builder::new(TokioExecutor::new());
        let http = builder.serve_connection(io, service);
        tokio::pin!(http);
        tokio::select! {
            result = http.as_mut() => log_end(peer, result),
            _ = async { stop.wait_for(|stopping| *stopping).await.map(|_| ()) } => {
                http.as_mut().graceful_shutdown();
                log_end(peer, http.await);
            }
        }
        drop(ticket);
    }
}

fn log_end(peer: SocketAddr, result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(e) = result {
        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_response() {
        let text = std::str::from_utf8(REFUSED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        serde_json::from_str::<serde_json::Value>(body).unwrap();
    }
}
