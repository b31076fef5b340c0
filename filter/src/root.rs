//! The per-worker root context: loads the configuration, makes each request's context, and
//! in TokenReview mode owns the callouts: requests enqueue, the root takes reviews off the
//! queue and hands them, and their answers, to `review.rs`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bindcar_policy::authz::pending::PendingChecks;
use bindcar_policy::authz::settings::AuthzMode;
use bindcar_policy::authz::Authorizer;
use bindcar_policy::cache::VerdictCache;
use bindcar_policy::client::ClientHasher;
use bindcar_policy::config::{FilterConfig, Mode};
use bindcar_policy::pending::PendingReviews;
use bindcar_policy::recent::Recent;
use bindcar_policy::throttle::Throttle;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};

use crate::abi;
use crate::authorize;
use crate::metrics::Metrics;
use crate::plugin::{Authz, Plugin, Reviewer, RECENT_CAPACITY};
use crate::request::AuthRequest;
use crate::review;
use crate::store::{random_bytes, shared_secret, SharedDataStore, SharedThrottleStore};

pub struct AuthRoot {
    plugin: Option<Rc<Plugin>>,
}

impl AuthRoot {
    pub fn new(_context_id: u32) -> Self {
        AuthRoot { plugin: None }
    }

    fn build(config: FilterConfig) -> Result<Plugin, String> {
        // Randomness first, in every mode: without it nothing may be keyed (and std's own hash
        // maps would abort the VM asking for it later).
        let (memo_key, authz_secret) = split(random_bytes().map_err(|e| e.to_string())?);
        let secret = shared_secret().map_err(|e| e.to_string())?;
        let metrics = Metrics::define();
        let reviewer = match &config.mode {
            Mode::Basic => None,
            Mode::TokenReview(settings) => {
                let queue = random_bytes().map_err(|e| e.to_string())?;
                let name = format!("bindcar-auth/reviews/{}", hex(&queue[..8]));
                let queue_id = abi::register_queue(&name)
                    .map_err(|s| format!("cannot register the review queue: {s:?}"))?;
                let cache = VerdictCache::new(
                    SharedDataStore,
                    settings.cache,
                    &secret,
                    &settings.cache_scope(),
                );
                Some(Reviewer {
                    settings: (**settings).clone(),
                    cache,
                    queue_id,
                    pending: RefCell::new(PendingReviews::new(
                        settings.max_pending_reviews,
                        settings.max_pending_per_client,
                    )),
                    recent: RefCell::new(Recent::new(RECENT_CAPACITY, memo_key)),
                })
            }
        };
        let throttle = config.throttle.map(|settings| {
            SharedThrottleStore::prepare(settings.max_clients);
            Throttle::new(SharedThrottleStore, settings)
        });
        let clients =
            (throttle.is_some() || reviewer.is_some()).then(|| ClientHasher::new(&secret));
        let authz = match (&reviewer, &config.mode, config.authorization.is_on()) {
            (Some(r), Mode::TokenReview(settings), true) => {
                let sar = match &config.authorization.mode {
                    AuthzMode::SubjectAccessReview(s) => Some(s.clone()),
                    _ => None,
                };
                Some(Authz {
                    authorizer: RefCell::new(Authorizer::new(
                        config.authorization.clone(),
                        &authz_secret,
                        &settings.cache_scope(),
                    )),
                    sar,
                    reviewer_token: settings.reviewer_token.clone(),
                    queue_id: r.queue_id,
                    pending: RefCell::new(PendingChecks::new(settings.max_pending_reviews)),
                })
            }
            (_, _, true) => return Err("authorization needs tokenReview mode".into()),
            _ => None,
        };
        Ok(Plugin {
            config,
            metrics,
            reviewer,
            throttle,
            clients,
            authz,
            warned_forwarded: Cell::new(false),
        })
    }
}

/// One random draw, two independent 128-bit keys: the memo's and the decision cache's.
fn split(keys: [u8; 32]) -> ([u8; 16], [u8; 16]) {
    let mut memo = [0u8; 16];
    let mut authz = [0u8; 16];
    memo.copy_from_slice(&keys[..16]);
    authz.copy_from_slice(&keys[16..]);
    (memo, authz)
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
        if let Some(plugin) = self.plugin.clone() {
            if let Some(authz) = &plugin.authz {
                if authorize::answer(&plugin, authz, call, num_headers, body_size) {
                    return;
                }
            }
            if let Some(reviewer) = &plugin.reviewer {
                review::answer(&plugin, reviewer, call, num_headers, body_size);
            }
        }
    }
}

impl RootContext for AuthRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        // Follow the proxy's log level for the wasm component (e.g. `--component-log-level
        // wasm:debug`), so debug lines cost nothing unless asked for.
        log::set_max_level(abi::level_filter(abi::log_level().unwrap_or(2)));
        // Not the SDK's `get_plugin_configuration`, which aborts the VM on a host error.
        let raw = match abi::buffer(abi::PLUGIN_CONFIGURATION, 0, usize::MAX) {
            Ok(bytes) => bytes.unwrap_or_default(),
            Err(status) => {
                log::error!(
                    "bindcar-auth: the host did not give the plugin configuration ({status:?}); the plugin refuses to load"
                );
                return false;
            }
        };
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
                    "bindcar-auth: configured, mode={}, authorization={}, exempt paths={:?}",
                    plugin.mode_name(),
                    plugin.config.authorization.mode_name(),
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
        loop {
            let msg = match abi::dequeue(queue_id) {
                Ok(Some(msg)) => msg,
                Ok(None) => return,
                Err(status) => {
                    // The message is lost to us, not the work: everything still unsent is in
                    // the pending tables. Send it all, so no request waits on a lost message.
                    log::warn!("bindcar-auth: the review queue could not be read ({status:?}); sending every pending review");
                    let unsent = reviewer.pending.borrow().undispatched();
                    for digest in unsent {
                        review::dispatch(&plugin, reviewer, digest);
                    }
                    if let Some(authz) = &plugin.authz {
                        let unsent = authz.pending.borrow().undispatched();
                        for digest in unsent {
                            authorize::dispatch(&plugin, authz, digest);
                        }
                    }
                    return;
                }
            };
            if let Ok(digest) = <[u8; 32]>::try_from(msg.as_slice()) {
                review::dispatch(&plugin, reviewer, digest);
            } else if let (Some(authz), Some((&authorize::QUEUE_TAG, rest))) =
                (&plugin.authz, msg.split_first())
            {
                if let Ok(digest) = <[u8; 32]>::try_from(rest) {
                    authorize::dispatch(&plugin, authz, digest);
                }
            }
        }
    }

    /// Always a context (the SDK aborts the VM on `None`): without a configuration, one that
    /// refuses every request.
    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(match self.plugin.clone() {
            Some(plugin) => Box::new(AuthRequest::new(context_id, plugin)),
            None => Box::new(Unconfigured),
        })
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// A request on a worker whose plugin never loaded (the proxy should not send any: Envoy with
/// `fail_open: false` answers them itself). Refused, never passed.
struct Unconfigured;

impl Context for Unconfigured {}

impl HttpContext for Unconfigured {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let body =
            br#"{"error":"Service Unavailable","message":"authentication is not configured"}"#;
        abi::reply(503, &[("content-type", "application/json")], body);
        Action::Pause
    }
}
