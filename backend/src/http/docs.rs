//! Swagger UI, served only with `BIND_ENABLE_DOCS=true` (404 otherwise), from the assets that
//! `utoipa-swagger-ui` vendors at build time (no download).
//!
//! Open, like bindcar's: a browser cannot send a Bearer token when it opens a page, so a docs
//! page behind authentication would be unreadable without a header-injecting proxy. What is
//! open is static: the UI's files and the API description (a copy of `/api/v1/openapi.json`,
//! which itself stays behind authentication), nothing from named, no request data echoed. Every
//! call the page makes ("Try it out") goes to the API routes and needs the token entered with
//! "Authorize". Everything lives under the `/api/v1/docs` prefix, on the open router; the
//! filter's exempt paths are exact and do not include it, so behind the mesh the page needs a
//! token at the filter like any other path.

use axum::Router;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::openapi::ApiDoc;
use super::state::SharedState;

/// The page (`/api/v1/docs` redirects to `/api/v1/docs/`).
pub const DOCS_PATH: &str = "/api/v1/docs";
/// The document the page loads: open, unlike `/api/v1/openapi.json`.
pub const DOCS_SPEC_PATH: &str = "/api/v1/docs/openapi.json";

pub fn swagger_ui() -> Router<SharedState> {
    SwaggerUi::new(DOCS_PATH)
        .url(DOCS_SPEC_PATH, ApiDoc::openapi())
        .into()
}
