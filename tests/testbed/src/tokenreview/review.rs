//! The JSON the apiserver speaks on this endpoint: `TokenReview` in and out, `Status` for
//! errors.

use serde_json::{json, Value};

use super::jwt::Verified;

pub(crate) const API_VERSION: &str = "authentication.k8s.io/v1";

/// A Kubernetes `Status` (failure) body, as the apiserver sends with every error code.
pub(crate) fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

/// A parsed `TokenReview` request.
pub(crate) struct ReviewRequest {
    /// `spec` exactly as sent, echoed back in the answer.
    pub(crate) spec: Value,
    pub(crate) token: String,
    pub(crate) audiences: Vec<String>,
}

/// `spec.token` if the body is JSON carrying one, whatever else is wrong with it (for the
/// per-token counters).
pub(crate) fn peek_token(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.pointer("/spec/token")?.as_str().map(str::to_string)
}

/// Parses a `TokenReview`; `Err` is the message of a 400 BadRequest. Like the apiserver,
/// a missing `apiVersion`/`kind` defaults to the endpoint's; a different one is refused.
pub(crate) fn parse(body: &[u8]) -> Result<ReviewRequest, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("couldn't get version/kind; json parse error: {e}"))?;
    let Some(obj) = v.as_object() else {
        return Err("the body of the request is not a JSON object".into());
    };
    match obj.get("apiVersion").map(Value::as_str) {
        None | Some(Some(API_VERSION)) => {}
        Some(other) => {
            return Err(format!(
                "the API version in the data ({}) does not match the expected API version ({API_VERSION})",
                other.unwrap_or_default()
            ))
        }
    }
    match obj.get("kind").map(Value::as_str) {
        None | Some(Some("TokenReview")) => {}
        Some(other) => {
            return Err(format!(
                "the object provided is unrecognized (must be of type TokenReview): kind {:?}",
                other.unwrap_or_default()
            ))
        }
    }
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    let token = match spec.get("token") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err("spec.token: expected a string".into()),
    };
    if token.is_empty() {
        return Err("token is required for TokenReview in authentication".into());
    }
    let audiences = match spec.get("audiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| a.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or("spec.audiences: expected an array of strings")?,
        Some(_) => return Err("spec.audiences: expected an array of strings".into()),
    };
    Ok(ReviewRequest {
        spec,
        token,
        audiences,
    })
}

/// The `201 Created` body: the review echoed back with its `status` filled in. A failed
/// review carries `"user":{}` and `error` but no `authenticated` key: the apiserver's
/// `authenticated` is `omitempty`, so `false` is never written.
pub(crate) fn answer(spec: &Value, outcome: &Result<Verified, String>) -> Value {
    let status = match outcome {
        Ok(v) => json!({
            "authenticated": true,
            "user": v.user,
            "audiences": v.audiences,
        }),
        Err(error) => json!({ "user": {}, "error": error }),
    };
    json!({
        "kind": "TokenReview",
        "apiVersion": API_VERSION,
        "metadata": { "creationTimestamp": null },
        "spec": spec,
        "status": status,
    })
}
