//! Why a request is refused. Each variant maps to exactly one HTTP answer.

use serde_json::json;

/// The reasons a request is not let through, with the messages of bindcar's documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    MissingHeader,
    InvalidFormat,
    EmptyToken,
    /// Shared-secret mode (`BIND_API_TOKEN`) and the presented token differs.
    InvalidApiToken,
    /// TokenReview said `authenticated: false`, with its `status.error` when it gave one.
    NotAuthenticated(Option<String>),
    UnauthorizedNamespace(String),
    UnauthorizedServiceAccount(String),
    NoUserInfo,
    AudienceNotAccepted,
    /// The TokenReview API could not be used (transport error, non-2xx, bad body, overload).
    ReviewUnavailable,
    /// Authenticated, but authorization (SubjectAccessReview or static rules) said no:
    /// `action` is what was refused, e.g. `delete zones example.com` (see `authz`).
    Forbidden {
        user: String,
        action: String,
    },
    /// The SubjectAccessReview API could not be used; never an allow.
    AuthorizationUnavailable,
    /// The proxy refused a change the filter must make before letting a request through
    /// (removing a client's identity header, setting the reviewed identity): never an allow.
    ProxyError,
}

impl Denial {
    /// The client-visible message.
    pub fn message(&self) -> String {
        match self {
            Denial::MissingHeader => "Missing Authorization header".into(),
            Denial::InvalidFormat => {
                "Invalid Authorization header format. Expected: Bearer <token>".into()
            }
            Denial::EmptyToken => "Empty token".into(),
            Denial::InvalidApiToken => "Invalid API token".into(),
            Denial::NotAuthenticated(Some(reason)) => {
                format!("Token validation failed: {}", sanitize(reason))
            }
            Denial::NotAuthenticated(None) => {
                "Token validation failed: Token not authenticated".into()
            }
            Denial::UnauthorizedNamespace(ns) => format!(
                "Token validation failed: ServiceAccount from unauthorized namespace: {}",
                sanitize(ns)
            ),
            Denial::UnauthorizedServiceAccount(user) => format!(
                "Token validation failed: ServiceAccount not authorized: {}",
                sanitize(user)
            ),
            Denial::NoUserInfo => {
                "Token validation failed: No user information in TokenReview response".into()
            }
            Denial::AudienceNotAccepted => {
                "Token validation failed: token audience not accepted".into()
            }
            Denial::ReviewUnavailable => {
                "Token validation failed: TokenReview API call failed".into()
            }
            Denial::Forbidden { user, action } => {
                format!("{} may not {}", sanitize(user), sanitize(action))
            }
            Denial::AuthorizationUnavailable => {
                "Authorization check failed: SubjectAccessReview API call failed".into()
            }
            Denial::ProxyError => {
                "Request could not be checked: the proxy refused a header change".into()
            }
        }
    }

    /// HTTP status: 401 for every credential problem; `status_on_error` when the reviewer
    /// itself could not answer (so outages can be told apart from bad tokens if wanted).
    /// 403 when authorization refused an authenticated caller.
    pub fn status(&self, status_on_error: u16) -> u16 {
        match self {
            Denial::ReviewUnavailable | Denial::AuthorizationUnavailable | Denial::ProxyError => {
                status_on_error
            }
            Denial::Forbidden { .. } => 403,
            _ => 401,
        }
    }

    /// Whether the answer carries `WWW-Authenticate: Bearer`: every refusal but a 403, where
    /// the credential was fine and another one would not help.
    pub fn challenges(&self) -> bool {
        !matches!(self, Denial::Forbidden { .. })
    }

    /// `{"error":"Unauthorized","message":"..."}` (`"Forbidden"` for a 403)
    pub fn body_json(&self) -> String {
        let error = match self {
            Denial::Forbidden { .. } => "Forbidden",
            _ => "Unauthorized",
        };
        json!({"error": error, "message": self.message()}).to_string()
    }

    /// A stable label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        self.kind().label()
    }

    /// The variant without its data: what metrics count.
    pub fn kind(&self) -> DenialKind {
        match self {
            Denial::MissingHeader => DenialKind::MissingHeader,
            Denial::InvalidFormat => DenialKind::InvalidFormat,
            Denial::EmptyToken => DenialKind::EmptyToken,
            Denial::InvalidApiToken => DenialKind::InvalidApiToken,
            Denial::NotAuthenticated(_) => DenialKind::NotAuthenticated,
            Denial::UnauthorizedNamespace(_) => DenialKind::UnauthorizedNamespace,
            Denial::UnauthorizedServiceAccount(_) => DenialKind::UnauthorizedServiceAccount,
            Denial::NoUserInfo => DenialKind::NoUserInfo,
            Denial::AudienceNotAccepted => DenialKind::AudienceNotAccepted,
            Denial::ReviewUnavailable => DenialKind::ReviewUnavailable,
            Denial::Forbidden { .. } => DenialKind::Forbidden,
            Denial::AuthorizationUnavailable => DenialKind::AuthorizationUnavailable,
            Denial::ProxyError => DenialKind::ProxyError,
        }
    }
}

/// [`Denial`] without its data, one per reason: the source of every per-reason metric name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenialKind {
    MissingHeader,
    InvalidFormat,
    EmptyToken,
    InvalidApiToken,
    NotAuthenticated,
    UnauthorizedNamespace,
    UnauthorizedServiceAccount,
    NoUserInfo,
    AudienceNotAccepted,
    ReviewUnavailable,
    Forbidden,
    AuthorizationUnavailable,
    ProxyError,
}

impl DenialKind {
    pub const ALL: [DenialKind; 13] = [
        DenialKind::MissingHeader,
        DenialKind::InvalidFormat,
        DenialKind::EmptyToken,
        DenialKind::InvalidApiToken,
        DenialKind::NotAuthenticated,
        DenialKind::UnauthorizedNamespace,
        DenialKind::UnauthorizedServiceAccount,
        DenialKind::NoUserInfo,
        DenialKind::AudienceNotAccepted,
        DenialKind::ReviewUnavailable,
        DenialKind::Forbidden,
        DenialKind::AuthorizationUnavailable,
        DenialKind::ProxyError,
    ];

    /// The label in metric names and logs (`bindcar_auth_denied_<label>`).
    pub fn label(self) -> &'static str {
        match self {
            DenialKind::MissingHeader => "missing_header",
            DenialKind::InvalidFormat => "invalid_format",
            DenialKind::EmptyToken => "empty_token",
            DenialKind::InvalidApiToken => "invalid_api_token",
            DenialKind::NotAuthenticated => "not_authenticated",
            DenialKind::UnauthorizedNamespace => "unauthorized_namespace",
            DenialKind::UnauthorizedServiceAccount => "unauthorized_service_account",
            DenialKind::NoUserInfo => "no_user_info",
            DenialKind::AudienceNotAccepted => "audience_not_accepted",
            DenialKind::ReviewUnavailable => "review_unavailable",
            DenialKind::Forbidden => "forbidden",
            DenialKind::AuthorizationUnavailable => "authorization_unavailable",
            DenialKind::ProxyError => "proxy_error",
        }
    }

    /// Whether the Envoy filter can refuse a request for this reason, so it defines a counter
    /// for exactly these. Exhaustive on purpose: a new reason must say where it arises.
    pub fn arises_in_filter(self) -> bool {
        match self {
            // Shared-secret mode (`BIND_API_TOKEN`) is the backend's alone.
            DenialKind::InvalidApiToken => false,
            DenialKind::MissingHeader
            | DenialKind::InvalidFormat
            | DenialKind::EmptyToken
            | DenialKind::NotAuthenticated
            | DenialKind::UnauthorizedNamespace
            | DenialKind::UnauthorizedServiceAccount
            | DenialKind::NoUserInfo
            | DenialKind::AudienceNotAccepted
            | DenialKind::ReviewUnavailable
            | DenialKind::Forbidden
            | DenialKind::AuthorizationUnavailable
            | DenialKind::ProxyError => true,
        }
    }
}

impl DenialKind {
    /// Whether this refusal is a failed authentication that counts against the client in
    /// the throttle: a bad credential, or the reviewer's "no". Not the reviewer being
    /// unavailable, which is no fault of the client's. Exhaustive on purpose.
    pub fn counts_as_failed_authentication(self) -> bool {
        match self {
            // Authenticated but not authorized (or the SAR API down): no guess at a credential.
            DenialKind::ReviewUnavailable
            | DenialKind::Forbidden
            | DenialKind::AuthorizationUnavailable
            | DenialKind::ProxyError => false,
            DenialKind::MissingHeader
            | DenialKind::InvalidFormat
            | DenialKind::EmptyToken
            | DenialKind::InvalidApiToken
            | DenialKind::NotAuthenticated
            | DenialKind::UnauthorizedNamespace
            | DenialKind::UnauthorizedServiceAccount
            | DenialKind::NoUserInfo
            | DenialKind::AudienceNotAccepted => true,
        }
    }
}

/// Text that came from the reviewer is echoed to clients: keep it short and printable.
fn sanitize(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(256).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test(unsupported = test)]
    fn messages_follow_the_seed() {
        assert_eq!(
            Denial::MissingHeader.message(),
            "Missing Authorization header"
        );
        assert_eq!(
            Denial::InvalidFormat.body_json(),
            r#"{"error":"Unauthorized","message":"Invalid Authorization header format. Expected: Bearer <token>"}"#
        );
        assert_eq!(Denial::EmptyToken.message(), "Empty token");
        assert_eq!(
            Denial::NotAuthenticated(None).message(),
            "Token validation failed: Token not authenticated"
        );
        assert_eq!(
            Denial::NotAuthenticated(Some("token is expired".into())).message(),
            "Token validation failed: token is expired"
        );
        assert_eq!(
            Denial::UnauthorizedNamespace("default".into()).message(),
            "Token validation failed: ServiceAccount from unauthorized namespace: default"
        );
        assert_eq!(
            Denial::UnauthorizedServiceAccount("system:serviceaccount:dns:x".into()).message(),
            "Token validation failed: ServiceAccount not authorized: system:serviceaccount:dns:x"
        );
        assert_eq!(
            Denial::ReviewUnavailable.message(),
            "Token validation failed: TokenReview API call failed"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn only_review_errors_take_the_configured_status() {
        assert_eq!(Denial::ReviewUnavailable.status(503), 503);
        assert_eq!(Denial::NoUserInfo.status(503), 401);
        assert_eq!(Denial::MissingHeader.status(503), 401);
        assert_eq!(Denial::ProxyError.status(503), 503);
        assert!(!DenialKind::ProxyError.counts_as_failed_authentication());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn every_denial_has_its_kind_in_all() {
        let samples = [
            Denial::MissingHeader,
            Denial::InvalidFormat,
            Denial::EmptyToken,
            Denial::InvalidApiToken,
            Denial::NotAuthenticated(None),
            Denial::UnauthorizedNamespace("ns".into()),
            Denial::UnauthorizedServiceAccount("sa".into()),
            Denial::NoUserInfo,
            Denial::AudienceNotAccepted,
            Denial::ReviewUnavailable,
            Denial::Forbidden {
                user: "u".into(),
                action: "list zones".into(),
            },
            Denial::AuthorizationUnavailable,
            Denial::ProxyError,
        ];
        let kinds: Vec<DenialKind> = samples.iter().map(Denial::kind).collect();
        assert_eq!(kinds, DenialKind::ALL);
        assert_eq!(Denial::InvalidApiToken.reason(), "invalid_api_token");
        assert!(!DenialKind::InvalidApiToken.arises_in_filter());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn authorization_refusals() {
        let d = Denial::Forbidden {
            user: "system:serviceaccount:team-a:external-dns".into(),
            action: "delete zones example.org".into(),
        };
        assert_eq!(d.status(503), 403);
        assert!(!d.challenges());
        assert_eq!(
            d.body_json(),
            r#"{"error":"Forbidden","message":"system:serviceaccount:team-a:external-dns may not delete zones example.org"}"#
        );
        let u = Denial::AuthorizationUnavailable;
        assert_eq!(u.status(503), 503);
        assert!(u.challenges());
        assert_eq!(
            u.message(),
            "Authorization check failed: SubjectAccessReview API call failed"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn reviewer_text_is_sanitized() {
        let m = Denial::NotAuthenticated(Some(format!("a\nb\u{7}{}", "x".repeat(1000)))).message();
        assert!(!m.contains('\n'));
        assert!(m.len() < 300);
    }
}
