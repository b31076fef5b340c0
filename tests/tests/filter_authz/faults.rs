//! The SubjectAccessReview API failing: every fault fails closed with `statusOnError`, Envoy
//! stays healthy, and errors are never cached.

use super::*;

#[test]
fn every_fault_fails_closed_and_is_not_cached() {
    let s = sar_stack();
    s.api
        .set_rbac(vec![RbacRule::for_users(&[TEAM_A], &["*"], &["*"])]);
    let a = token(&s.api, "team-a");
    let zones = ["f1.example", "f2.example", "f3.example", "f4.example"];
    for (fault, zone) in [
        Fault::Status500,
        Fault::Reset,
        Fault::Hang,
        Fault::MalformedBody,
    ]
    .into_iter()
    .zip(zones)
    {
        s.api.set_sar_fault(fault);
        let path = format!("/api/v1/zones/{zone}");
        assert_failed(&send(&s.envoy, "GET", &path, &a), 503);
        // Once the API is back, the same request is asked again and passes.
        s.api.set_sar_fault(Fault::None);
        assert_eq!(
            send(&s.envoy, "GET", &path, &a).status,
            200,
            "after {fault:?}"
        );
    }
    assert_eq!(s.up.count(), 4);
    assert_eq!(s.api.sar_count(), 8);
    let failures: u64 = ["transport", "http_5xx", "malformed_body"]
        .iter()
        .map(|k| {
            s.envoy
                .counter(&format!("bindcar_auth_authz_failures_{k}"))
                .unwrap()
        })
        .sum();
    assert_eq!(failures, 4);
    assert_eq!(
        s.envoy
            .counter("bindcar_auth_denied_authorization_unavailable")
            .unwrap(),
        4
    );
}

#[test]
fn a_reviewer_credential_that_may_not_create_reviews_fails_closed() {
    // The API server refuses the filter's own credential (401) for the check only: the
    // token's verdict is cached first, then the reviewer token is rotated away.
    let s = stack(json!({"mode": "subjectAccessReview"}), 401);
    s.api
        .set_rbac(vec![RbacRule::for_users(&[TEAM_A], &["*"], &["*"])]);
    let a = token(&s.api, "team-a");
    assert_eq!(send(&s.envoy, "GET", "/api/v1/zones", &a).status, 200);
    s.api.set_reviewer_token("someone-else");
    let r = send(&s.envoy, "GET", "/api/v1/zones/example.com", &a);
    assert_failed(&r, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        s.envoy
            .counter("bindcar_auth_authz_failures_http_other")
            .unwrap(),
        1
    );
}
