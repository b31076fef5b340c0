//! Router composition: the open routes on one router, the API on another that carries the
//! authentication layer, merged in one place. An odd path can never land on an open handler,
//! and an unknown path is a 404 without an auth check (as bindcar).
//!
//! Every route is declared once, in `table`: the router is built from it, and `routes()` lists
//! it so the OpenAPI test can compare it with the document (axum does not list its routes).
//! Swagger UI (`docs`) is merged only when enabled and is not an API route.

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware;
use axum::routing::{on, MethodFilter};
use axum::Router;

use super::state::SharedState;
use super::{
    auth, dnssec as http_dnssec, docs, metrics, open as http_open, openapi,
    propagation as http_propagation, rate_limit, records as http_records, zones as http_zones,
};

/// Records API bodies over this are refused before they are read.
const RECORD_BODY_LIMIT: usize = 64 * 1024;

/// The methods this API uses (axum's `MethodFilter` cannot be turned back into a `Method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Patch => MethodFilter::PATCH,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// Whether a route needs a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Open,
    Api,
}

/// One row of the route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub verb: Verb,
    pub path: &'static str,
    pub access: Access,
}

#[derive(Default)]
struct Table {
    open: Router<SharedState>,
    api: Router<SharedState>,
    routes: Vec<Route>,
}

impl Table {
    fn add<H, T>(self, access: Access, verb: Verb, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, SharedState>,
        T: 'static,
    {
        self.add_limited(access, verb, path, handler, None)
    }

    fn add_limited<H, T>(
        mut self,
        access: Access,
        verb: Verb,
        path: &'static str,
        handler: H,
        body_limit: Option<usize>,
    ) -> Self
    where
        H: Handler<T, SharedState>,
        T: 'static,
    {
        let mut method_router = on(verb.filter(), handler);
        if let Some(limit) = body_limit {
            method_router = method_router.layer(DefaultBodyLimit::max(limit));
        }
        match access {
            Access::Open => self.open = self.open.route(path, method_router),
            Access::Api => self.api = self.api.route(path, method_router),
        }
        self.routes.push(Route { verb, path, access });
        self
    }

    fn open<H: Handler<T, SharedState>, T: 'static>(self, v: Verb, p: &'static str, h: H) -> Self {
        self.add(Access::Open, v, p, h)
    }

    fn api<H: Handler<T, SharedState>, T: 'static>(self, v: Verb, p: &'static str, h: H) -> Self {
        self.add(Access::Api, v, p, h)
    }

    /// An API route of the records API (bodies bounded by `RECORD_BODY_LIMIT`).
    fn records<H: Handler<T, SharedState>, T: 'static>(
        self,
        v: Verb,
        p: &'static str,
        h: H,
    ) -> Self {
        self.add_limited(Access::Api, v, p, h, Some(RECORD_BODY_LIMIT))
    }
}

/// The route table: every route of the service, once.
fn table() -> Table {
    use Verb::{Delete, Get, Patch, Post, Put};
    Table::default()
        .open(Get, "/api/v1/health", http_open::health)
        .open(Get, "/api/v1/ready", http_open::ready)
        .open(Get, "/metrics", http_open::metrics)
        .api(Post, "/api/v1/zones", http_zones::create_zone)
        .api(Get, "/api/v1/zones", http_zones::list_zones)
        .api(Get, "/api/v1/zones/{name}", http_zones::get_zone)
        .api(Delete, "/api/v1/zones/{name}", http_zones::delete_zone)
        .api(Patch, "/api/v1/zones/{name}", http_zones::modify_zone)
        .api(Get, "/api/v1/zones/{name}/status", http_zones::zone_status)
        .api(Post, "/api/v1/zones/{name}/reload", http_zones::reload_zone)
        .api(Post, "/api/v1/zones/{name}/freeze", http_zones::freeze_zone)
        .api(Post, "/api/v1/zones/{name}/thaw", http_zones::thaw_zone)
        .api(Post, "/api/v1/zones/{name}/notify", http_zones::notify_zone)
        .api(
            Post,
            "/api/v1/zones/{name}/retransfer",
            http_zones::retransfer_zone,
        )
        .api(Get, "/api/v1/zones/{name}/ds", http_dnssec::zone_ds)
        .api(
            Post,
            "/api/v1/zones/{name}/dnssec/checkds",
            http_dnssec::checkds,
        )
        .api(
            Get,
            "/api/v1/zones/{name}/propagation",
            http_propagation::zone_propagation,
        )
        .api(Get, "/api/v1/server/status", http_zones::server_status)
        .records(
            Get,
            "/api/v1/zones/{name}/records",
            http_records::list_records,
        )
        .records(
            Post,
            "/api/v1/zones/{name}/records",
            http_records::add_record,
        )
        .records(
            Put,
            "/api/v1/zones/{name}/records",
            http_records::update_record,
        )
        .records(
            Delete,
            "/api/v1/zones/{name}/records",
            http_records::remove_record,
        )
        .records(
            Put,
            "/api/v1/zones/{name}/rrsets/{owner}/{type}",
            http_records::replace_rrset,
        )
        .api(Get, "/api/v1/openapi.json", openapi::openapi_json)
}

/// Every route the router serves (Swagger UI aside), in declaration order.
pub fn routes() -> Vec<Route> {
    table().routes
}

/// The service without Swagger UI.
pub fn router(state: SharedState) -> Router {
    router_with_docs(state, false)
}

/// The service; `enable_docs` (`BIND_ENABLE_DOCS`) adds Swagger UI under `/api/v1/docs`, open
/// (see `docs`).
pub fn router_with_docs(state: SharedState, enable_docs: bool) -> Router {
    let Table { open, api, .. } = table();
    let open = if enable_docs {
        open.merge(docs::swagger_ui())
    } else {
        open
    };
    let api = if state.auth.is_some() {
        api.route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_auth,
        ))
    } else {
        api.route_layer(middleware::from_fn(auth::from_mesh))
    };
    // Added last, so it runs first: a flood is limited before any credential is checked.
    let api = api.route_layer(middleware::from_fn_with_state(
        state.clone(),
        rate_limit::limit,
    ));

    open.merge(api)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track_http,
        ))
        .with_state(state)
}
