//! The per-worker root context: loads the configuration, and in TokenReview mode owns the
//! callouts (requests enqueue, the root dispatches and, on the answer, resumes every waiter).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

use bindcar_policy::cache::VerdictCache;
use bindcar_policy::config::{FilterConfig, Mode};
use bindcar_policy::pending::PendingReviews;
use bindcar_policy::recent::Recent;
use bindcar_policy::review::{parse_review_response, review_request_body, ReviewFailure};
use bindcar_policy::{token_fingerprint, Denial};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use crate::host;
use crate::metrics::Metrics;
use crate::plugin::{Plugin, Reviewer, RECENT_CAPACITY};
use crate::request::{unix_ms, AuthRequest};
use crate::store::{random_bytes, shared_secret, SharedDataStore};

/// A TokenReview answer larger than this is treated as malformed.
const MAX_REVIEW_BODY: usize = 1 << 20;

pub struct AuthRoot {
    plugin: Option<Rc<Plugin>>,
}

impl AuthRoot {
    pub fn new(_context_id: u32) -> Self {
        AuthRoot { plugin: None }
    }

    fn build(config: FilterConfig) -> Result<Plugin, String> {
        let metrics = Metrics::define();
        let reviewer = match &config.mode {
            Mode::Basic => None,
            Mode::TokenReview(settings) => {
                let name = format!("bindcar-auth/reviews/{}", hex(&random_bytes()[..8]));
                let queue_id = hostcalls::register_shared_queue(&name)
                    .map_err(|s| format!("cannot register the review queue: {s:?}"))?;
                let cache = VerdictCache::new(
                    SharedDataStore,
                    settings.cache,
                    &shared_secret(),
                    &settings.cache_scope(),
                );
                Some(Reviewer {
                    settings: (**settings).clone(),
                    cache,
                    queue_id,
                    pending: RefCell::new(PendingReviews::new(settings.max_pending_reviews)),
                    recent: RefCell::new(Recent::new(RECENT_CAPACITY)),
                })
            }
        };
        Ok(Plugin {
            config,
            metrics,
            reviewer,
        })
    }

    fn dispatch(&self, plugin: &Plugin, reviewer: &Reviewer, digest: [u8; 32]) {
        let Some(token) = reviewer.pending.borrow_mut().to_dispatch(&digest) else {
            return;
        };
        let s = &reviewer.settings;
        let body = review_request_body(&token, s.access.audiences());
        let bearer = s.reviewer_token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![
            (":method", "POST"),
            (":path", s.path.as_str()),
            (":authority", s.authority.as_str()),
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ];
        if let Some(b) = &bearer {
            headers.push(("authorization", b.as_str()));
        }
        match self.dispatch_http_call(&s.cluster, headers, Some(&body), vec![], s.timeout) {
            Ok(call) => {
                plugin.metrics.review_sent();
                reviewer.pending.borrow_mut().dispatched(&digest, call);
            }
            Err(status) => {
                log::warn!(
                    "bindcar-auth: TokenReview dispatch to cluster {:?} refused: {status:?}",
                    s.cluster
                );
                plugin.metrics.review_failed("dispatch");
                let failed = reviewer.pending.borrow_mut().remove(&digest);
                if let Some(p) = failed {
                    let hash = token_fingerprint(p.token.as_bytes());
                    for w in p.waiters {
                        host::resume_waiter(plugin, w, &Err(Denial::ReviewUnavailable), &hash);
                    }
                }
            }
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Context for AuthRoot {
    fn on_http_call_response(
        &mut self,
        call: u32,
        num_headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let Some(plugin) = self.plugin.clone() else {
            return;
        };
        let Some(reviewer) = &plugin.reviewer else {
            return;
        };
        let done = reviewer.pending.borrow_mut().complete(call);
        let Some(pending) = done else { return };
        let now = hostcalls::get_current_time().unwrap_or(UNIX_EPOCH);
        plugin
            .metrics
            .review_latency(unix_ms(now).saturating_sub(pending.started_ms));

        let status = if num_headers == 0 {
            None
        } else {
            self.get_http_call_response_header_bytes(":status")
                .and_then(|s| {
                    std::str::from_utf8(&s)
                        .ok()
                        .and_then(|s| s.parse::<u16>().ok())
                })
        };
        let result = if body_size > MAX_REVIEW_BODY {
            Err(ReviewFailure::MalformedBody)
        } else {
            let body = self
                .get_http_call_response_body(0, body_size)
                .unwrap_or_default();
            parse_review_response(status, &body)
        };
        let hash = token_fingerprint(pending.token.as_bytes());
        let decision = match result {
            Ok(outcome) => {
                reviewer
                    .cache
                    .store(&pending.key, pending.token.as_bytes(), &outcome, now);
                reviewer.settings.access.decide(&outcome)
            }
            Err(failure) => {
                plugin.metrics.review_failed(failure.kind());
                log::warn!("bindcar-auth: TokenReview failed ({failure:?}) token={hash}");
                Err(Denial::ReviewUnavailable)
            }
        };
        for w in pending.waiters {
            host::resume_waiter(&plugin, w, &decision, &hash);
        }
    }
}

impl RootContext for AuthRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        // Follow the proxy's log level for the wasm component (e.g. `--component-log-level
        // wasm:debug`), so debug lines cost nothing unless asked for.
        proxy_wasm::set_log_level(
            hostcalls::get_log_level().unwrap_or(proxy_wasm::types::LogLevel::Info),
        );
        let raw = self.get_plugin_configuration().unwrap_or_default();
        let config = match FilterConfig::from_json(&raw) {
            Ok(c) => c,
            Err(e) => {
                log::error!("bindcar-auth: {e}; the plugin refuses to load");
                return false;
            }
        };
        match Self::build(config) {
            Ok(plugin) => {
                log::info!(
                    "bindcar-auth: configured, mode={}, exempt paths={:?}",
                    plugin.mode_name(),
                    plugin
                        .config
                        .exempt
                        .paths()
                        .map(String::from_utf8_lossy)
                        .collect::<Vec<_>>()
                );
                self.plugin = Some(Rc::new(plugin));
                true
            }
            Err(e) => {
                log::error!("bindcar-auth: {e}; the plugin refuses to load");
                false
            }
        }
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        let Some(plugin) = self.plugin.clone() else {
            return;
        };
        let Some(reviewer) = &plugin.reviewer else {
            return;
        };
        if queue_id != reviewer.queue_id {
            return;
        }
        while let Ok(Some(msg)) = hostcalls::dequeue_shared_queue(queue_id) {
            if let Ok(digest) = <[u8; 32]>::try_from(msg.as_slice()) {
                self.dispatch(&plugin, reviewer, digest);
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let plugin = self.plugin.clone()?;
        Some(Box::new(AuthRequest::new(context_id, plugin)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
