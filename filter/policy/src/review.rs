//! The Kubernetes `authentication.k8s.io/v1` TokenReview exchange: the request body we send
//! and what we make of the answer. What the answer *means* for access is `access.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::failure::FailureKind;

pub const DEFAULT_PATH: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

/// The JSON body of a TokenReview create call.
pub fn review_request_body(token: &str, audiences: &[String]) -> Vec<u8> {
    json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token, "audiences": audiences},
    })
    .to_string()
    .into_bytes()
}

/// Who the reviewer says the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// `status.user.extra`, passed on to SubjectAccessReviews as the API server would.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// A definitive answer from the reviewer (cacheable), as opposed to a [`ReviewFailure`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ReviewOutcome {
    Authenticated {
        /// `None` when the answer had no usable `status.user.username`.
        user: Option<Identity>,
        audiences: Vec<String>,
    },
    Rejected {
        reason: Option<String>,
    },
}

/// The reviewer could not be used; never cached, never allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewFailure {
    /// No answer at all: reset, refused, timed out inside the proxy (no `:status`).
    Transport,
    HttpStatus(u16),
    MalformedBody,
}

impl ReviewFailure {
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            ReviewFailure::Transport => FailureKind::Transport,
            ReviewFailure::HttpStatus(s) if *s >= 500 => FailureKind::Http5xx,
            ReviewFailure::HttpStatus(_) => FailureKind::HttpOther,
            ReviewFailure::MalformedBody => FailureKind::MalformedBody,
        }
    }

    /// The failure's label (see [`FailureKind::label`]).
    pub fn kind(&self) -> &'static str {
        self.failure_kind().label()
    }
}

#[derive(Deserialize)]
struct WireReview {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    status: Option<WireStatus>,
}

#[derive(Deserialize)]
struct WireStatus {
    #[serde(default)]
    authenticated: bool,
    user: Option<WireUser>,
    #[serde(default)]
    audiences: Vec<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct WireUser {
    username: Option<String>,
    uid: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    extra: Option<BTreeMap<String, Vec<String>>>,
}

/// `status` is the answer's `:status` (None when there was no answer).
pub fn parse_review_response(
    status: Option<u16>,
    body: &[u8],
) -> Result<ReviewOutcome, ReviewFailure> {
    match status {
        None => return Err(ReviewFailure::Transport),
        Some(200 | 201) => {}
        Some(other) => return Err(ReviewFailure::HttpStatus(other)),
    }
    let review: WireReview =
        serde_json::from_slice(body).map_err(|_| ReviewFailure::MalformedBody)?;
    if review.kind != "TokenReview" || review.api_version != "authentication.k8s.io/v1" {
        return Err(ReviewFailure::MalformedBody);
    }
    let status = review.status.ok_or(ReviewFailure::MalformedBody)?;
    if !status.authenticated {
        let reason = status.error.filter(|e| !e.trim().is_empty());
        return Ok(ReviewOutcome::Rejected { reason });
    }
    let user = status.user.and_then(|u| {
        let username = u.username.filter(|n| !n.is_empty())?;
        Some(Identity {
            username,
            uid: u.uid.filter(|s| !s.is_empty()),
            groups: u.groups,
            extra: u.extra.unwrap_or_default(),
        })
    });
    Ok(ReviewOutcome::Authenticated {
        user,
        audiences: status.audiences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test(unsupported = test)]
    fn request_body_is_a_token_review() {
        let body = review_request_body("tok", &["bindcar".into()]);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["apiVersion"], "authentication.k8s.io/v1");
        assert_eq!(v["kind"], "TokenReview");
        assert_eq!(v["spec"]["token"], "tok");
        assert_eq!(v["spec"]["audiences"], json!(["bindcar"]));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn authenticated_answer() {
        let body = br#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"t"},
            "status":{"authenticated":true,"user":{"username":"system:serviceaccount:dns:x","uid":"u1",
            "groups":["system:serviceaccounts","system:authenticated"]},"audiences":["bindcar"]}}"#;
        let out = parse_review_response(Some(201), body).unwrap();
        assert_eq!(
            out,
            ReviewOutcome::Authenticated {
                user: Some(Identity {
                    username: "system:serviceaccount:dns:x".into(),
                    uid: Some("u1".into()),
                    extra: Default::default(),
                    groups: vec![
                        "system:serviceaccounts".into(),
                        "system:authenticated".into()
                    ],
                }),
                audiences: vec!["bindcar".into()],
            }
        );
        assert!(parse_review_response(Some(200), body).is_ok());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn rejected_answer_keeps_the_reason() {
        let body = br#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",
            "status":{"authenticated":false,"error":"token is expired","user":{}}}"#;
        assert_eq!(
            parse_review_response(Some(201), body),
            Ok(ReviewOutcome::Rejected {
                reason: Some("token is expired".into())
            })
        );
        let body = br#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","status":{}}"#;
        assert_eq!(
            parse_review_response(Some(201), body),
            Ok(ReviewOutcome::Rejected { reason: None })
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn missing_user_is_kept_as_none() {
        let body = br#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",
            "status":{"authenticated":true,"audiences":["bindcar"],"user":{"username":""}}}"#;
        assert_eq!(
            parse_review_response(Some(201), body),
            Ok(ReviewOutcome::Authenticated {
                user: None,
                audiences: vec!["bindcar".into()]
            })
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn failures() {
        let ok = br#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","status":{"authenticated":true}}"#;
        assert_eq!(
            parse_review_response(None, b""),
            Err(ReviewFailure::Transport)
        );
        assert_eq!(
            parse_review_response(Some(500), ok),
            Err(ReviewFailure::HttpStatus(500))
        );
        assert_eq!(
            parse_review_response(Some(401), ok),
            Err(ReviewFailure::HttpStatus(401))
        );
        assert_eq!(
            parse_review_response(Some(204), ok),
            Err(ReviewFailure::HttpStatus(204))
        );
        assert_eq!(
            parse_review_response(Some(201), b"{\"apiVersion\":"),
            Err(ReviewFailure::MalformedBody)
        );
        assert_eq!(
            parse_review_response(Some(201), b""),
            Err(ReviewFailure::MalformedBody)
        );
        assert_eq!(
            parse_review_response(Some(201), b"\xff\xfe"),
            Err(ReviewFailure::MalformedBody)
        );
        assert_eq!(
            parse_review_response(
                Some(201),
                br#"{"apiVersion":"v1","kind":"Status","status":"Failure"}"#
            ),
            Err(ReviewFailure::MalformedBody)
        );
        assert_eq!(
            parse_review_response(
                Some(201),
                br#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview"}"#
            ),
            Err(ReviewFailure::MalformedBody)
        );
        assert_eq!(
            parse_review_response(Some(201), br#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","status":{"authenticated":"yes"}}"#),
            Err(ReviewFailure::MalformedBody)
        );
    }
}
