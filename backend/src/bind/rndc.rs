//! Talking to named over its control channel with the `rndc` crate (native protocol, no
//! process spawn). The crate is synchronous, so each command runs in `spawn_blocking`, bounded
//! by a timeout and by a cap on commands in flight (a hung named must not eat the blocking pool).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::channel::{ControlChannel, Reply, RndcFailure};
use super::command::RndcCommand;
use crate::metrics::Metrics;

/// Commands (control-channel connections) in flight at once: named serialises zone changes
/// anyway, and more at once only overflow its listen queue (dropped SYNs, 1 s retries).
pub const MAX_IN_FLIGHT: usize = 8;

/// The rndc client of the service, shared by all requests.
#[derive(Clone)]
pub struct Rndc {
    client: rndc::RndcClient,
    timeout: Duration,
    permits: Arc<Semaphore>,
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
        let client = rndc::RndcClient::new(server, algorithm, secret_b64)
            .and_then(|c| c.with_timeout(timeout))
            .map_err(|e| format!("cannot build the rndc client for {server}: {e}"))?;
        Ok(Rndc {
            client,
            timeout,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            metrics,
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
            Err(RndcFailure::Timeout(_)) => "timeout",
        };
        self.metrics.rndc_command(label, result, started.elapsed());
        tracing::debug!(
            command = label,
            result,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "rndc"
        );
        outcome
    }

    async fn run_unmetered(&self, command: &RndcCommand) -> Result<String, RndcFailure> {
        let deadline = self.timeout + Duration::from_secs(1);
        let work = async {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| RndcFailure::Unavailable("shutting down".into()))?;
            let client = self.client.clone();
            let line = command.line();
            tokio::task::spawn_blocking(move || client.rndc_command(&line))
                .await
                .map_err(|e| RndcFailure::Unavailable(format!("rndc task failed: {e}")))
        };
        let reply = match tokio::time::timeout(deadline, work).await {
            Err(_) => return Err(RndcFailure::Timeout(self.timeout)),
            Ok(Err(failure)) => return Err(failure),
            Ok(Ok(reply)) => reply,
        };
        match reply {
            Ok(reply) if reply.result => Ok(reply.text.unwrap_or_default()),
            Ok(reply) => Err(RndcFailure::Refused {
                err: reply.err.unwrap_or_else(|| "failure".into()),
                text: reply.text.unwrap_or_default(),
            }),
            Err(rndc::RndcError::TimeoutError(_)) => Err(RndcFailure::Timeout(self.timeout)),
            Err(e) => Err(RndcFailure::Unavailable(describe(&e))),
        }
    }
}

impl ControlChannel for Rndc {
    fn run<'a>(&'a self, command: &'a RndcCommand) -> Reply<'a> {
        Box::pin(self.run_metered(command))
    }
}

/// The crate's errors in words an operator can act on.
fn describe(error: &rndc::RndcError) -> String {
    let raw = error.to_string();
    if raw.contains("Connection refused") {
        "connection refused (is named running?)".into()
    } else if raw.contains("fill whole buffer")
        || raw.contains("reset")
        || raw.contains("Broken pipe")
    {
        "named closed the control connection (named restarting, or the rndc key/algorithm does not match named's controls key)".into()
    } else if matches!(error, rndc::RndcError::AuthError(_)) {
        format!("named's reply failed authentication (wrong rndc key?): {raw}")
    } else {
        raw
    }
}
