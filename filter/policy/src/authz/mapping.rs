//! The request → authorization attributes table, the one both enforcement points use (the
//! filter on `:method`/`:path`, the backend on the request it routes). A path that matches no
//! row, or a method its row does not list, has no attributes: it is denied, never allowed by
//! default.
//!
//! | Request | verb | resource | subresource | name |
//! |---|---|---|---|---|
//! | `GET /api/v1/zones` | list | zones | | |
//! | `POST /api/v1/zones` | create | zones | | (none: `create` is not restricted by name) |
//! | `GET /api/v1/zones/{z}` | get | zones | | z |
//! | `GET /api/v1/zones/{z}/status` | get | zones | status | z |
//! | `PATCH /api/v1/zones/{z}` | patch | zones | | z |
//! | `DELETE /api/v1/zones/{z}` | delete | zones | | z |
//! | `POST /api/v1/zones/{z}/{reload,freeze,thaw,notify,retransfer}` | create | zones | the action | z |
//! | `GET /api/v1/zones/{z}/ds` | get | zones | ds | z |
//! | `POST /api/v1/zones/{z}/dnssec/checkds` | create | zones | checkds | z |
//! | `GET /api/v1/zones/{z}/propagation` | get | zones | propagation | z |
//! | `GET /api/v1/zones/{z}/records[/…]`, `GET …/rrsets[/…]` | get | zones | records | z |
//! | `POST`/`PUT`/`DELETE /api/v1/zones/{z}/records[/…]`, `PUT …/rrsets/…` | create / update / delete / update | zones | records | z |
//! | `GET /api/v1/server/status` | get | server | status | |
//! | `GET /api/v1/openapi.json` | get | openapi | | |

use super::zone::normalize_zone;

/// What a request asks to do, in Kubernetes `resourceAttributes` terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attributes {
    pub verb: &'static str,
    pub resource: &'static str,
    pub subresource: Option<&'static str>,
    /// The zone, normalised (lower case, no trailing dot).
    pub name: Option<String>,
}

impl Attributes {
    /// `resource[/subresource]`, as static rules and messages write it.
    pub fn resource_path(&self) -> String {
        match self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.to_string(),
        }
    }

    /// `verb resource[/subresource][ name]`, what a refusal says was refused.
    pub fn action(&self) -> String {
        match &self.name {
            Some(name) => format!("{} {} {name}", self.verb, self.resource_path()),
            None => format!("{} {}", self.verb, self.resource_path()),
        }
    }
}

/// Every verb and `resource[/subresource]` the table can produce (static rules are checked
/// against these at load, so a typo is an error rather than a rule that never applies).
pub const VERBS: [&str; 6] = ["list", "get", "create", "patch", "update", "delete"];
pub const RESOURCES: [&str; 13] = [
    "zones",
    "zones/status",
    "zones/ds",
    "zones/checkds",
    "zones/propagation",
    "zones/reload",
    "zones/freeze",
    "zones/thaw",
    "zones/notify",
    "zones/retransfer",
    "zones/records",
    "server/status",
    "openapi",
];

const ACTIONS: [&str; 5] = ["reload", "freeze", "thaw", "notify", "retransfer"];

fn attrs(
    verb: &'static str,
    resource: &'static str,
    subresource: Option<&'static str>,
    name: Option<String>,
) -> Option<Attributes> {
    Some(Attributes {
        verb,
        resource,
        subresource,
        name,
    })
}

/// The attributes of `method path` (the raw request target: a query is ignored, the zone
/// segment is percent-decoded then normalised), or `None` when no row matches.
pub fn attributes(method: &[u8], path: &[u8]) -> Option<Attributes> {
    let path = std::str::from_utf8(path).ok()?;
    let path = path.split(['?', '#']).next()?;
    let rest = path.strip_prefix("/api/v1/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    match (method, segments.as_slice()) {
        (b"GET", ["zones"]) => attrs("list", "zones", None, None),
        (b"POST", ["zones"]) => attrs("create", "zones", None, None),
        (b"GET", ["server", "status"]) => attrs("get", "server", Some("status"), None),
        (b"GET", ["openapi.json"]) => attrs("get", "openapi", None, None),
        (_, ["zones", zone, tail @ ..]) => {
            let name = Some(zone_segment(zone)?);
            match (method, tail) {
                (b"GET", []) => attrs("get", "zones", None, name),
                (b"PATCH", []) => attrs("patch", "zones", None, name),
                (b"DELETE", []) => attrs("delete", "zones", None, name),
                (b"GET", ["status"]) => attrs("get", "zones", Some("status"), name),
                (b"GET", ["ds"]) => attrs("get", "zones", Some("ds"), name),
                (b"GET", ["propagation"]) => attrs("get", "zones", Some("propagation"), name),
                // One segment, as Kubernetes subresources are (`zones/checkds` in a Role).
                (b"POST", ["dnssec", "checkds"]) => attrs("create", "zones", Some("checkds"), name),
                (_, ["records", ..]) => {
                    let verb = match method {
                        b"GET" => "get",
                        b"POST" => "create",
                        b"PUT" => "update",
                        b"DELETE" => "delete",
                        _ => return None,
                    };
                    attrs(verb, "zones", Some("records"), name)
                }
                (b"POST", [action]) => {
                    let action = ACTIONS.iter().find(|a| *a == action)?;
                    attrs("create", "zones", Some(action), name)
                }
                (b"GET", ["rrsets", ..]) => attrs("get", "zones", Some("records"), name),
                (b"PUT", ["rrsets", _, ..]) => attrs("update", "zones", Some("records"), name),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A zone name as it appears in a path: percent-decoded (as the backend's router does) and
/// normalised; anything the backend would refuse has no attributes.
fn zone_segment(raw: &str) -> Option<String> {
    normalize_zone(&percent_decode(raw)?)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn row(method: &str, path: &str) -> Option<(String, String, Option<String>)> {
        attributes(method.as_bytes(), path.as_bytes())
            .map(|a| (a.verb.to_string(), a.resource_path(), a.name))
    }

    fn some(verb: &str, res: &str, name: Option<&str>) -> Option<(String, String, Option<String>)> {
        Some((verb.into(), res.into(), name.map(String::from)))
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn every_row_of_the_table() {
        let z = Some("example.com");
        assert_eq!(row("GET", "/api/v1/zones"), some("list", "zones", None));
        assert_eq!(row("POST", "/api/v1/zones"), some("create", "zones", None));
        assert_eq!(
            row("GET", "/api/v1/zones/example.com"),
            some("get", "zones", z)
        );
        assert_eq!(
            row("GET", "/api/v1/zones/example.com/status"),
            some("get", "zones/status", z)
        );
        assert_eq!(
            row("PATCH", "/api/v1/zones/example.com"),
            some("patch", "zones", z)
        );
        assert_eq!(
            row("GET", "/api/v1/zones/example.com/ds"),
            some("get", "zones/ds", z)
        );
        assert_eq!(
            row("POST", "/api/v1/zones/example.com/dnssec/checkds"),
            some("create", "zones/checkds", z)
        );
        assert_eq!(
            row("GET", "/api/v1/zones/example.com/propagation"),
            some("get", "zones/propagation", z)
        );
        assert_eq!(
            row("DELETE", "/api/v1/zones/example.com"),
            some("delete", "zones", z)
        );
        for action in ACTIONS {
            assert_eq!(
                row("POST", &format!("/api/v1/zones/example.com/{action}")),
                some("create", &format!("zones/{action}"), z)
            );
        }
        for (m, v) in [
            ("GET", "get"),
            ("POST", "create"),
            ("PUT", "update"),
            ("DELETE", "delete"),
        ] {
            assert_eq!(
                row(m, "/api/v1/zones/example.com/records"),
                some(v, "zones/records", z)
            );
            assert_eq!(
                row(m, "/api/v1/zones/example.com/records/www/A"),
                some(v, "zones/records", z)
            );
        }
        assert_eq!(
            row("GET", "/api/v1/zones/example.com/rrsets"),
            some("get", "zones/records", z)
        );
        assert_eq!(
            row("PUT", "/api/v1/zones/example.com/rrsets/www/A"),
            some("update", "zones/records", z)
        );
        assert_eq!(
            row("GET", "/api/v1/server/status"),
            some("get", "server/status", None)
        );
        assert_eq!(
            row("GET", "/api/v1/openapi.json"),
            some("get", "openapi", None)
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn zone_names_are_normalised_as_the_backend_does() {
        let z = some("get", "zones", Some("example.com"));
        assert_eq!(row("GET", "/api/v1/zones/Example.COM."), z);
        assert_eq!(row("GET", "/api/v1/zones/example%2Ecom"), z);
        assert_eq!(row("GET", "/api/v1/zones/example.com?x=1"), z);
        assert_eq!(row("GET", "/api/v1/zones/exa%2fmple.com"), None);
        assert_eq!(row("GET", "/api/v1/zones/bad%zz"), None);
        assert_eq!(row("GET", "/api/v1/zones/-bad.com"), None);
        assert_eq!(row("GET", "/api/v1/zones/a..b"), None);
        assert_eq!(row("GET", "/api/v1/zones/."), None);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn anything_else_has_no_attributes() {
        for (m, p) in [
            ("PUT", "/api/v1/zones"),
            ("DELETE", "/api/v1/zones"),
            ("HEAD", "/api/v1/zones"),
            ("POST", "/api/v1/zones/example.com"),
            ("PUT", "/api/v1/zones/example.com"),
            ("POST", "/api/v1/zones/example.com/status"),
            ("POST", "/api/v1/zones/example.com/explode"),
            ("POST", "/api/v1/zones/example.com/ds"),
            ("POST", "/api/v1/zones/example.com/propagation"),
            ("GET", "/api/v1/zones/example.com/dnssec/checkds"),
            ("POST", "/api/v1/zones/example.com/dnssec"),
            ("POST", "/api/v1/zones/example.com/checkds"),
            ("GET", "/api/v1/zones/example.com/reload"),
            ("PATCH", "/api/v1/zones/example.com/records"),
            ("DELETE", "/api/v1/zones/example.com/rrsets/www/A"),
            ("PUT", "/api/v1/zones/example.com/rrsets"),
            ("GET", "/api/v1/zones/"),
            ("GET", "/api/v1//zones"),
            ("GET", "/api/v1/zones/example.com/"),
            ("GET", "/api/v2/zones"),
            ("GET", "/api/v1/server"),
            ("POST", "/api/v1/server/status"),
            ("GET", "/api/v1/health"),
            ("GET", "/"),
            ("get", "/api/v1/zones"),
        ] {
            assert_eq!(row(m, p), None, "{m} {p}");
        }
        assert_eq!(attributes(b"GET", b"/api/v1/zones/\xff"), None);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn every_resource_produced_is_listed() {
        let mut seen = vec![];
        for (m, p) in [
            ("GET", "/api/v1/zones"),
            ("GET", "/api/v1/zones/a/status"),
            ("GET", "/api/v1/zones/a/ds"),
            ("POST", "/api/v1/zones/a/dnssec/checkds"),
            ("GET", "/api/v1/zones/a/propagation"),
            ("GET", "/api/v1/zones/a/records"),
            ("GET", "/api/v1/server/status"),
            ("GET", "/api/v1/openapi.json"),
        ] {
            seen.push(
                attributes(m.as_bytes(), p.as_bytes())
                    .unwrap()
                    .resource_path(),
            );
        }
        seen.extend(ACTIONS.iter().map(|a| format!("zones/{a}")));
        for r in &seen {
            assert!(RESOURCES.contains(&r.as_str()), "{r}");
        }
        assert_eq!(seen.len(), RESOURCES.len());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn actions_read_as_refusals() {
        let a = attributes(b"DELETE", b"/api/v1/zones/example.org").unwrap();
        assert_eq!(a.action(), "delete zones example.org");
        let a = attributes(b"GET", b"/api/v1/zones").unwrap();
        assert_eq!(a.action(), "list zones");
        let a = attributes(b"PUT", b"/api/v1/zones/x.org/records").unwrap();
        assert_eq!(a.action(), "update zones/records x.org");
    }
}
