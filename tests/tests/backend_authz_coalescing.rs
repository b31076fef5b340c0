//! The backend's SubjectAccessReviews under concurrency: identical checks in flight at once
//! share one call (the decision cache covers the ones after).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use bindcar_testbed::tokenreview::{
    Fault, MintRequest, RbacRule, ServerOptions, TokenReviewServer,
};
use common::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_checks_share_one_subject_access_review() {
    let api = TokenReviewServer::start(ServerOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.write_kubeconfig(dir.path()).unwrap();
    let stack = Stack::start_with(
        vec![
            ("BIND_AUTH_MODE".into(), "tokenreview".into()),
            ("BIND_ALLOW_ANY_SERVICEACCOUNT".into(), "true".into()),
            ("BIND_AUTHZ_MODE".into(), "subjectaccessreview".into()),
            ("KUBECONFIG".into(), kubeconfig.display().to_string()),
        ],
        None,
    );
    api.set_rbac(vec![RbacRule::for_groups(
        &["system:serviceaccounts:team-a"],
        &["get"],
        &["openapi", "server/status"],
    )]);
    let token = api.mint(&MintRequest::new("team-a", "external-dns", &["bindcar"]));
    let client = stack.client.with_token(Some(&token));
    // The token's verdict first, so only the check is pending below.
    assert_eq!(client.get("/api/v1/server/status").await.0, 200);
    let before = api.sar_count();
    api.set_sar_fault(Fault::Latency(Duration::from_millis(400)));
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.get("/api/v1/openapi.json").await.0 })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    assert_eq!(
        api.sar_count() - before,
        1,
        "20 concurrent requests, one check"
    );
}
