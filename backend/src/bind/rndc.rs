//! Talking to named over its control channel: our own ISCCC client (`isccc`, `control_conn`)
//! with a small pool of open connections. The `rndc` crate opened a connection and did the
//! `null`/nonce exchange for every command (about 40% of a command's time); named 9.18 answers
//! any number of commands on one connection after one nonce exchange (observed: five commands,
//! one nonce, each answered; a wrong nonce closes the connection) and closes a connection idle
//! for 30 s (observed: EOF after exactly 30.0 s idle; commands every 10 s keep it open).
//!
//! Bounds: at most `MAX_IN_FLIGHT` commands in flight, and a connection is either in use by one
//! of them or idle in the pool, so there are never more than `MAX_IN_FLIGHT` connections.
//!
//! Retries: a command goes at most twice, the second time on a fresh connection, and only when
//! the first went over a reused connection (a fresh one failing means named itself is down or
//! refuses us) and named cannot have acted on it twice: the failure came before the command was
//! written, or the command only reads (`status`, `zonestatus`, `showzone`). A change (`addzone`,
//! `delzone`, ...) whose answer was lost after it was written is never sent again.
//!
//! Failures say whether named can have acted: `Unavailable` when the command was never
//! written whole (nothing changed), `Lost` or `Timeout` once it was (the outcome is unknown;
//! the operations above keep what they wrote and let the reconciliation decide).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Semaphore};

use super::channel::{ControlChannel, Reply, RndcFailure};
use super::command::RndcCommand;
use super::control_conn::{ConnError, Connection};
use super::isccc::{CodecError, Key};
use crate::metrics::Metrics;

/// Commands (control-channel connections) in flight at once: named serialises zone changes
/// anyway, and more at once only overflow its listen queue (dropped SYNs, 1 s retries).
pub const MAX_IN_FLIGHT: usize = 8;

/// An idle connection older than this is closed rather than reused: named closes them at 30 s,
/// and one about to be closed could swallow a change.
const MAX_IDLE: Duration = Duration::from_secs(20);

/// The rndc client of the service, shared by all requests.
#[derive(Clone)]
pub struct Rndc {
    inner: Arc<Inner>,
}

struct Inner {
    server: String,
    key: Key,
    timeout: Duration,
    permits: Semaphore,
    idle: Mutex<Vec<Connection>>,
    metrics: Metrics,
}

impl Rndc {
    pub fn new(
        server: &str,
        algorithm: &str,
        secret_b64: &str,
        timeout: Duration,
        metrics: Metrics,
    ) -> Result<Rndc, String> {
        let key = Key::new(algorithm, secret_b64)
            .map_err(|e| format!("cannot build the rndc client for {server}: {e}"))?;
        if timeout.is_zero() {
            return Err(format!(
                "cannot build the rndc client for {server}: the time limit must be positive"
            ));
        }
        Ok(Rndc {
            inner: Arc::new(Inner {
                server: server.to_string(),
                key,
                timeout,
                permits: Semaphore::new(MAX_IN_FLIGHT),
                idle: Mutex::new(Vec::with_capacity(MAX_IN_FLIGHT)),
                metrics,
            }),
        })
    }

    /// Runs one command; `Ok` carries named's text (possibly empty).
    pub async fn run_metered(&self, command: &RndcCommand) -> Result<String, RndcFailure> {
        let label = command.label();
        let started = Instant::now();
        let outcome = self.run_unmetered(command).await;
        let result = match &outcome {
            Ok(_) => "success",
            Err(RndcFailure::Refused { .. }) => "refused",
            Err(RndcFailure::Unavailable(_)) => "unavailable",
            Err(RndcFailure::Lost(_)) => "lost",
            Err(RndcFailure::Timeout(_)) => "timeout",
        };
        self.inner
            .metrics
            .rndc_command(label, result, started.elapsed());
        tracing::debug!(
            command = label,
            result,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "rndc"
        );
        outcome
    }

    async fn run_unmetered(&self, command: &RndcCommand) -> Result<String, RndcFailure> {
        let inner = &self.inner;
        let deadline = inner.timeout + Duration::from_secs(1);
        // Set once the command has been written whole on some connection: from then on a
        // failure means "named may have done it".
        let sent = AtomicBool::new(false);
        let work = async {
            let _permit = inner
                .permits
                .acquire()
                .await
                .map_err(|_| RndcFailure::Unavailable("shutting down".into()))?;
            self.send(command, &sent).await
        };
        let reply = match tokio::time::timeout(deadline, work).await {
            Err(_) if sent.load(Ordering::SeqCst) => return Err(RndcFailure::Timeout(inner.timeout)),
            Err(_) => {
                return Err(RndcFailure::Unavailable(format!(
                    "no control connection to {} could be used within {} s (named busy or not accepting)",
                    inner.server,
                    deadline.as_secs()
                )))
            }
            Ok(reply) => reply?,
        };
        if reply.success {
            Ok(reply.text.unwrap_or_default())
        } else {
            Err(RndcFailure::Refused {
                err: reply.err.unwrap_or_else(|| "failure".into()),
                text: reply.text.unwrap_or_default(),
            })
        }
    }

    /// Under a permit: one attempt, and a second on a fresh connection when that is safe.
    async fn send(
        &self,
        command: &RndcCommand,
        sent: &AtomicBool,
    ) -> Result<super::isccc::Reply, RndcFailure> {
        let inner = &self.inner;
        let line = command.line();
        let reused = self.take_idle().await;
        let first_was_reused = reused.is_some();
        let first = self.attempt(reused, &line, sent).await;
        let error = match first {
            Ok(reply) => return Ok(reply),
            Err(error) => error,
        };
        let retry = first_was_reused
            && match &error {
                Attempt::Conn(e) => e.before_sending() || command.reads_only(),
                Attempt::TimedOut { .. } => false,
            };
        if !retry {
            return Err(error.into_failure(inner));
        }
        tracing::debug!(
            command = command.label(),
            "control connection was closed by named; retrying on a new one"
        );
        self.attempt(None, &line, sent)
            .await
            .map_err(|e| e.into_failure(inner))
    }

    /// One exchange, on `conn` or a new connection, within the time limit; the connection goes
    /// back to the pool only after a clean exchange (anything else may leave it out of step).
    /// `sent` is set once the command is written whole.
    async fn attempt(
        &self,
        conn: Option<Connection>,
        line: &str,
        sent: &AtomicBool,
    ) -> Result<super::isccc::Reply, Attempt> {
        let inner = &self.inner;
        let written = AtomicBool::new(false);
        let exchange = async {
            let mut conn = match conn {
                Some(conn) => conn,
                None => {
                    let conn = Connection::open(&inner.server, &inner.key).await?;
                    inner.metrics.rndc_connection_opened();
                    conn
                }
            };
            let serial = conn.send(&inner.key, line).await?;
            written.store(true, Ordering::SeqCst);
            sent.store(true, Ordering::SeqCst);
            fail::fail_point!("rndc.after_send", |_| Err(ConnError::Read(
                std::io::Error::from(std::io::ErrorKind::ConnectionReset)
            )));
            let reply = conn.receive(&inner.key, serial).await?;
            Ok::<_, ConnError>((conn, reply))
        };
        match tokio::time::timeout(inner.timeout, exchange).await {
            Err(_) => Err(Attempt::TimedOut {
                sent: written.load(Ordering::SeqCst),
            }),
            Ok(Err(e)) => Err(Attempt::Conn(e)),
            Ok(Ok((conn, reply))) => {
                inner.idle.lock().await.push(conn);
                Ok(reply)
            }
        }
    }

    /// The most recently used idle connection that named still keeps open, if any.
    async fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.inner.idle.lock().await;
        while let Some(conn) = idle.pop() {
            if conn.idle_since.elapsed() < MAX_IDLE && conn.looks_open() {
                return Some(conn);
            }
            // Older ones are older still: drop them all (closing them).
            idle.clear();
        }
        None
    }
}

enum Attempt {
    Conn(ConnError),
    /// The time limit passed; `sent`: after the command was written whole.
    TimedOut {
        sent: bool,
    },
}

impl Attempt {
    fn into_failure(self, inner: &Inner) -> RndcFailure {
        match self {
            Attempt::TimedOut { sent: true } => RndcFailure::Timeout(inner.timeout),
            Attempt::TimedOut { sent: false } => RndcFailure::Unavailable(format!(
                "cannot connect to {} within {} s",
                inner.server,
                inner.timeout.as_secs()
            )),
            Attempt::Conn(e) if e.before_sending() => {
                RndcFailure::Unavailable(describe(&inner.server, &e))
            }
            Attempt::Conn(e) => RndcFailure::Lost(describe(&inner.server, &e)),
        }
    }
}

impl ControlChannel for Rndc {
    fn run<'a>(&'a self, command: &'a RndcCommand) -> Reply<'a> {
        Box::pin(self.run_metered(command))
    }
}

/// Errors in words an operator can act on (the same words as with the rndc crate).
fn describe(server: &str, error: &ConnError) -> String {
    use std::io::ErrorKind;
    let closed = "named closed the control connection (named restarting, or the rndc key/algorithm does not match named's controls key)";
    match error {
        ConnError::Open(e) => describe(server, e),
        ConnError::Connect(e) if e.kind() == ErrorKind::ConnectionRefused => {
            "connection refused (is named running?)".into()
        }
        ConnError::Connect(e) => format!("cannot connect to {server}: {e}"),
        ConnError::Write(e) | ConnError::Read(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof
                    | ErrorKind::ConnectionReset
                    | ErrorKind::BrokenPipe
                    | ErrorKind::ConnectionAborted
            ) =>
        {
            closed.into()
        }
        ConnError::Write(e) | ConnError::Read(e) => format!("control connection to {server}: {e}"),
        ConnError::Reply(CodecError::Auth(why)) => {
            format!("named's reply failed authentication (wrong rndc key?): {why}")
        }
        ConnError::Reply(e) => e.to_string(),
    }
}

#[cfg(test)]
#[path = "rndc_tests.rs"]
mod tests;
