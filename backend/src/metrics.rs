//! Prometheus metrics, in a registry of our own (no globals), with bindcar's metric names.
//! A leaf: it depends on nothing else in the crate (the HTTP middleware is `http::metrics`).

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Why this side refused or closed a client connection (the label values).
pub const CONNECTION_CLOSE_REASONS: [&str; 5] = [
    "refused_client_limit",
    "refused_total_limit",
    "evicted",
    "header_timeout",
    "idle_timeout",
];

/// Every metric the service exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    rndc_commands: IntCounterVec,
    rndc_duration: HistogramVec,
    rndc_connections: IntCounter,
    zone_operations: IntCounterVec,
    zones_managed: IntGauge,
    auth_decisions: IntCounterVec,
    token_reviews: IntCounterVec,
    rate_limit: IntCounterVec,
    rate_limit_clients: IntGauge,
    authz_decisions: IntCounterVec,
    connections_open: IntGauge,
    connections_closed: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "bindcar_http_requests_total",
                "HTTP requests by method, route template and status",
            ),
            &["method", "path", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "bindcar_http_request_duration_seconds",
                "HTTP request duration",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["method", "path"],
        )?;
        let rndc_commands = IntCounterVec::new(
            Opts::new(
                "bindcar_rndc_commands_total",
                "rndc commands by command and result",
            ),
            &["command", "result"],
        )?;
        let rndc_duration = HistogramVec::new(
            HistogramOpts::new(
                "bindcar_rndc_command_duration_seconds",
                "rndc command duration",
            )
            .buckets(vec![
                0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
            ]),
            &["command"],
        )?;
        let rndc_connections = IntCounter::new(
            "bindcar_rndc_connections_opened_total",
            "Control-channel connections opened to named (each then serves many commands)",
        )?;
        let zone_operations = IntCounterVec::new(
            Opts::new(
                "bindcar_zone_operations_total",
                "Zone operations by operation and result",
            ),
            &["operation", "result"],
        )?;
        let zones_managed = IntGauge::new(
            "bindcar_zones_managed",
            "Zones managed by this API that BIND has (updated when the zones are listed)",
        )?;
        let app_info = IntGaugeVec::new(
            Opts::new("bindcar_app_info", "Build information"),
            &["version"],
        )?;
        let auth_decisions = IntCounterVec::new(
            Opts::new(
                "bindcar_auth_decisions_total",
                "Authentication decisions by mode and result",
            ),
            &["mode", "result"],
        )?;
        let token_reviews = IntCounterVec::new(
            Opts::new(
                "bindcar_tokenreview_lookups_total",
                "TokenReview verdicts by source (cache_hit, review) and result",
            ),
            &["source", "result"],
        )?;
        let rate_limit = IntCounterVec::new(
            Opts::new(
                "bindcar_rate_limit_requests_total",
                "API requests seen by the rate limiter, by result (allowed, limited)",
            ),
            &["result"],
        )?;
        let rate_limit_clients = IntGauge::new(
            "bindcar_rate_limit_tracked_clients",
            "Client keys the rate limiter holds state for (bounded)",
        )?;
        // Both series exist from the start, so a dashboard's rate() has a zero to start from.
        for result in ["allowed", "limited"] {
            rate_limit.with_label_values(&[result]);
        }
        registry.register(Box::new(rate_limit.clone()))?;
        registry.register(Box::new(rate_limit_clients.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(rndc_commands.clone()))?;
        registry.register(Box::new(rndc_duration.clone()))?;
        registry.register(Box::new(rndc_connections.clone()))?;
        registry.register(Box::new(zone_operations.clone()))?;
        registry.register(Box::new(zones_managed.clone()))?;
        registry.register(Box::new(app_info.clone()))?;
        registry.register(Box::new(auth_decisions.clone()))?;
        registry.register(Box::new(token_reviews.clone()))?;
        let authz_decisions = IntCounterVec::new(
            Opts::new(
                "bindcar_authz_decisions_total",
                "Authorization decisions by source (rules, cache_hit, review) and result (allowed, denied, error)",
            ),
            &["source", "result"],
        )?;
        registry.register(Box::new(authz_decisions.clone()))?;
        let connections_open = IntGauge::new(
            "bindcar_http_connections_open",
            "Client connections open (bounded by BIND_API_MAX_CONNECTIONS)",
        )?;
        let connections_closed = IntCounterVec::new(
            Opts::new(
                "bindcar_http_connections_closed_total",
                "Client connections this side refused or closed, by reason",
            ),
            &["reason"],
        )?;
        for reason in CONNECTION_CLOSE_REASONS {
            connections_closed.with_label_values(&[reason]);
        }
        registry.register(Box::new(connections_open.clone()))?;
        registry.register(Box::new(connections_closed.clone()))?;
        app_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        Ok(Metrics {
            registry,
            http_requests,
            http_duration,
            rndc_commands,
            rndc_duration,
            rndc_connections,
            zone_operations,
            zones_managed,
            auth_decisions,
            token_reviews,
            rate_limit,
            rate_limit_clients,
            authz_decisions,
            connections_open,
            connections_closed,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8_lossy(&buffer).into_owned())
    }

    /// One HTTP request, by route template (never the raw path, so label values stay bounded).
    pub fn http_request(&self, method: &str, path: &str, status: &str, elapsed: Duration) {
        self.http_requests
            .with_label_values(&[method, path, status])
            .inc();
        self.http_duration
            .with_label_values(&[method, path])
            .observe(elapsed.as_secs_f64());
    }

    pub fn rndc_command(&self, command: &str, result: &str, elapsed: Duration) {
        self.rndc_commands
            .with_label_values(&[command, result])
            .inc();
        self.rndc_duration
            .with_label_values(&[command])
            .observe(elapsed.as_secs_f64());
    }

    pub fn connection_opened(&self) {
        self.connections_open.inc();
    }

    pub fn connection_gone(&self) {
        self.connections_open.dec();
    }

    /// A connection refused or closed by this side; `reason` is one of
    /// `CONNECTION_CLOSE_REASONS`.
    pub fn connection_closed(&self, reason: &str) {
        self.connections_closed.with_label_values(&[reason]).inc();
    }

    pub fn rndc_connection_opened(&self) {
        self.rndc_connections.inc();
    }

    pub fn zone_operation(&self, operation: &str, success: bool) {
        let result = if success { "success" } else { "error" };
        self.zone_operations
            .with_label_values(&[operation, result])
            .inc();
    }

    pub fn set_zones_managed(&self, count: usize) {
        self.zones_managed
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub fn auth_decision(&self, mode: &str, allowed: bool) {
        let result = if allowed { "allowed" } else { "denied" };
        self.auth_decisions.with_label_values(&[mode, result]).inc();
    }

    pub fn rate_limit(&self, allowed: bool, tracked_clients: usize) {
        let result = if allowed { "allowed" } else { "limited" };
        self.rate_limit.with_label_values(&[result]).inc();
        self.rate_limit_clients
            .set(i64::try_from(tracked_clients).unwrap_or(i64::MAX));
    }

    /// One authorization decision: `source` rules | cache_hit | review.
    pub fn authz(&self, source: &str, result: &Result<(), bindcar_policy::Denial>) {
        let result = match result {
            Ok(()) => "allowed",
            Err(bindcar_policy::Denial::Forbidden { .. }) => "denied",
            Err(_) => "error",
        };
        self.authz_decisions
            .with_label_values(&[source, result])
            .inc();
    }

    pub fn token_review(&self, source: &str, result: &str) {
        self.token_reviews
            .with_label_values(&[source, result])
            .inc();
    }
}
