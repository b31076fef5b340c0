//! TokenReview answers (the API server's body) and the access decision made on them.
//! Input: two bytes of HTTP status (big-endian; 0 means no answer), then the body.
//! Properties: only 200/201 with a well-formed TokenReview is an outcome; an identity has a
//! non-empty username and no empty uid; a rejection's reason is never blank; outcomes survive
//! the cache's serde round trip; the access policy allows only an authenticated
//! `system:serviceaccount:dns:*` answer for audience `bindcar`.
// SubjectAccessReview answers (another helper's parser) get a sibling target `sar_review.rs`.
#![no_main]

use bindcar_policy::access::AccessPolicy;
use bindcar_policy::review::{parse_review_response, ReviewFailure, ReviewOutcome};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = match u16::from_be_bytes([data[0], data[1]]) {
        0 => None,
        s => Some(s),
    };
    let body = &data[2..];
    let outcome = match parse_review_response(status, body) {
        Ok(outcome) => outcome,
        Err(failure) => {
            match (status, &failure) {
                (None, ReviewFailure::Transport) => {}
                (Some(200 | 201), ReviewFailure::MalformedBody) => {}
                (Some(s), ReviewFailure::HttpStatus(f)) => assert_eq!(s, *f),
                other => panic!("unexpected failure {other:?}"),
            }
            let _ = failure.kind();
            return;
        }
    };
    assert!(matches!(status, Some(200 | 201)));
    match &outcome {
        ReviewOutcome::Authenticated {
            user: Some(user), ..
        } => {
            assert!(!user.username.is_empty());
            assert!(user.uid.as_deref() != Some(""));
        }
        ReviewOutcome::Authenticated { user: None, .. } => {}
        ReviewOutcome::Rejected { reason } => {
            assert!(reason.as_deref().is_none_or(|r| !r.trim().is_empty()));
        }
    }
    let json = serde_json::to_vec(&outcome).unwrap_or_default();
    let back: Option<ReviewOutcome> = serde_json::from_slice(&json).ok();
    assert_eq!(
        back.as_ref(),
        Some(&outcome),
        "cache round trip changed the outcome"
    );

    let Ok(policy) = AccessPolicy::new(vec!["bindcar".into()], vec!["dns".into()], vec![], false)
    else {
        panic!("the fixed policy is valid");
    };
    if let Ok(identity) = policy.decide(&outcome) {
        let ReviewOutcome::Authenticated { audiences, .. } = &outcome else {
            panic!("allowed a rejected review");
        };
        assert!(audiences.iter().any(|a| a == "bindcar"));
        let (ns, _) = bindcar_policy::access::split_service_account(&identity.username)
            .unwrap_or_else(|| panic!("allowed a non-ServiceAccount {:?}", identity.username));
        assert_eq!(ns, "dns");
    }
});
