//! The Envoys of the filter-CPU section: one worker each, every request answered by a
//! `direct_response` (no upstream), and in front of it nothing, a no-op Wasm filter, our
//! filter, Envoy's Lua filter doing our basic check, or Envoy's `jwt_authn`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use bindcar_testbed::envoy::{artifact, yaml_quote, EnvoyOptions};
use bindcar_testbed::tokenreview::TokenReviewServer;

use crate::setup::{basic_config, tokenreview_config};
use crate::AUDIENCE;

/// The body every variant answers an allowed request with.
pub(crate) const BODY: &str = "{\"zones\":[]}";

/// Index of the TokenReview-cold variant (a new Envoy every round: its cache is in-process).
pub(crate) const COLD: usize = 4;

pub(crate) struct Variant {
    pub(crate) id: &'static str,
    pub(crate) label: &'static str,
    pub(crate) options: EnvoyOptions,
    /// Whether a request without a token must be refused (checked before any load).
    pub(crate) checks: bool,
}

/// `dist/bindcar_noop_filter.wasm` (or `BINDCAR_NOOP_WASM`), built by `make bench`.
pub(crate) fn noop_wasm() -> Result<PathBuf> {
    artifact(
        "BINDCAR_NOOP_WASM",
        "dist/bindcar_noop_filter.wasm",
        "no-op filter",
        "`make bench` builds it: see bench/noop-filter",
    )
}

/// Our basic mode in Lua: strip the identity headers, let the exempt paths through, require
/// `Bearer <token68>` (scheme in any case, one space, at most 8192 bytes), else the
/// filter's 401. Same headers and paths as `basic_config` and the filter's defaults.
const LUA: &str = r#"local exempt = {["/api/v1/health"] = true, ["/api/v1/ready"] = true, ["/metrics"] = true}
local format = "Invalid Authorization header format. Expected: Bearer <token>"
local function deny(h, msg)
  h:respond({[":status"] = "401", ["www-authenticate"] = "Bearer", ["content-type"] = "application/json"},
    '{"error":"Unauthorized","message":"' .. msg .. '"}')
end
function envoy_on_request(h)
  local hs = h:headers()
  hs:remove("x-remote-user")
  hs:remove("x-remote-group")
  if exempt[hs:get(":path"):match("^[^?]*")] then return end
  local auth = hs:get("authorization")
  if auth == nil then return deny(h, "Missing Authorization header") end
  if auth:sub(1, 6):lower() ~= "bearer" then return deny(h, format) end
  local rest = auth:sub(7)
  if rest == "" or rest == " " then return deny(h, "Empty token") end
  local token = rest:match("^ ([%w%-%._~%+/]+=*)$")
  if token == nil or #token > 8192 then return deny(h, format) end
end"#;

fn lua_filter() -> String {
    let code: String = LUA
        .lines()
        .map(|l| format!("\n                  {l}"))
        .collect();
    format!(
        r#"          - name: envoy.filters.http.lua
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
              default_source_code:
                inline_string: |{code}"#
    )
}

/// What an Istio `RequestAuthentication` compiles to: signature (RS256 against the cluster's
/// JWKS), issuer, audience and time claims, verified on every request (no verdict cache, as
/// Istio configures it); the exempt paths need no token.
fn jwt_filter(api: &TokenReviewServer) -> Result<String> {
    Ok(format!(
        r#"          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                kubernetes:
                  issuer: {issuer}
                  audiences: [{audience}]
                  forward: true
                  local_jwks: {{inline_string: {jwks}}}
              rules:
              - match: {{path: /api/v1/health}}
              - match: {{path: /api/v1/ready}}
              - match: {{path: /metrics}}
              - match: {{prefix: /}}
                requires: {{provider_name: kubernetes}}"#,
        issuer = yaml_quote(&api.issuer()),
        audience = yaml_quote(AUDIENCE),
        jwks = yaml_quote(&api.jwks()?),
    ))
}

/// The seven variants, in report order (the first is the baseline).
pub(crate) fn variants(api: &TokenReviewServer, ca: &Path) -> Result<Vec<Variant>> {
    let base = |plugin: Option<String>| {
        let mut o = EnvoyOptions::filter("{}", 0);
        o.plugin_config = plugin;
        o.concurrency = 1;
        o.direct_response = Some(BODY.to_string());
        o
    };
    let mut noop = base(Some("{}".into()));
    noop.wasm = Some(noop_wasm()?);
    let review = base(Some(tokenreview_config(api))).with_api_server(api.https_port(), ca);
    let mut lua = base(None);
    lua.extra_http_filters = lua_filter();
    let mut jwt = base(None);
    jwt.extra_http_filters = jwt_filter(api)?;
    let v = |id, label, options, checks| Variant {
        id,
        label,
        options,
        checks,
    };
    Ok(vec![
        v("bare", "Envoy, no filter", base(None), false),
        v("noop", "no-op Rust proxy-wasm filter", noop, false),
        v(
            "basic",
            "our filter, basic mode",
            base(Some(basic_config())),
            true,
        ),
        v(
            "tr_warm",
            "our filter, TokenReview, warm cache",
            review.clone(),
            true,
        ),
        v(
            "tr_cold",
            "our filter, TokenReview, new token per request (CPU includes the TLS callout per request)",
            review,
            true,
        ),
        v("lua", "Envoy Lua filter, same check as basic mode", lua, true),
        v(
            "jwt_authn",
            "Envoy jwt_authn, RS256 against a local JWKS (what Istio RequestAuthentication gives; \
             cannot see revocation, namespace/ServiceAccount allowlists)",
            jwt,
            true,
        ),
    ])
}
