//! The SubjectAccessReview endpoint: the caller's bearer first, the real schema answered with
//! 201, decided from the RBAC table as the apiserver's RBAC authorizer would (resourceNames
//! never cover a request without a name), its own faults, and its counters.

use bindcar_testbed::tokenreview::{RbacRule, SAR_PATH};

use super::*;

fn sar(user: &str, verb: &str, resource: &str, sub: Option<&str>, name: Option<&str>) -> Value {
    let mut attrs = json!({"group": "bindcar.dns", "resource": resource, "verb": verb});
    if let Some(s) = sub {
        attrs["subresource"] = json!(s);
    }
    if let Some(n) = name {
        attrs["name"] = json!(n);
    }
    json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": ["team-a"], "resourceAttributes": attrs}})
}

async fn post(server: &TokenReviewServer, bearer: &str, body: &Value) -> (StatusCode, Value) {
    let resp = client(server)
        .post(format!("{}{SAR_PATH}", server.base_url()))
        .bearer_auth(bearer)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn decides_from_the_rbac_table_with_the_real_schema() {
    let server = start().await;
    server.set_rbac(vec![
        RbacRule::for_groups(&["team-a"], &["get", "update"], &["zones/records"])
            .named(&["example.com"]),
        RbacRule::for_users(&["admin"], &["*"], &["*"]),
    ]);
    let allowed = |v: &Value| v["status"]["allowed"].as_bool();
    let (status, body) = post(
        &server,
        REVIEWER,
        &sar("u", "update", "zones", Some("records"), Some("example.com")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["kind"], "SubjectAccessReview");
    assert_eq!(body["apiVersion"], "authorization.k8s.io/v1");
    assert_eq!(body["spec"]["user"], "u");
    assert_eq!(allowed(&body), Some(true));
    for denied in [
        sar("u", "update", "zones", Some("records"), Some("example.org")),
        sar("u", "delete", "zones", Some("records"), Some("example.com")),
        sar("u", "get", "zones", None, Some("example.com")),
        // resourceNames never cover a request without a name.
        sar("u", "get", "zones", Some("records"), None),
    ] {
        let (status, body) = post(&server, REVIEWER, &denied).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(allowed(&body), Some(false), "{denied}");
    }
    let (_, body) = post(
        &server,
        REVIEWER,
        &sar("admin", "list", "zones", None, None),
    )
    .await;
    assert_eq!(allowed(&body), Some(true));
    assert_eq!(server.sar_count(), 6);
    assert_eq!(server.sar_specs().len(), 6);
    assert_eq!(
        server.review_count(),
        0,
        "SubjectAccessReviews are not TokenReviews"
    );
}

#[tokio::test]
async fn callers_are_checked_first_and_bad_bodies_refused() {
    let server = start().await;
    let (status, body) = post(&server, "wrong", &sar("u", "get", "zones", None, None)).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("Unauthorized"))
    );
    assert_eq!(server.sar_count(), 0);
    let (status, _) = post(
        &server,
        REVIEWER,
        &json!({"kind": "SubjectAccessReview", "spec": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post(
        &server,
        REVIEWER,
        &json!({"kind": "TokenReview", "spec": {"user": "u"}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(server.sar_count(), 2);
}

#[tokio::test]
async fn sar_faults_leave_token_reviews_alone() {
    let server = start().await;
    server.set_sar_fault(Fault::Status500);
    let (status, _) = post(&server, REVIEWER, &sar("u", "get", "zones", None, None)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let token = server.mint(&MintRequest::new("dns", "x", &["bindcar"]));
    let (status, body) = review(&server, &token, &["bindcar"]).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["status"]["authenticated"], true);
    server.set_sar_fault(Fault::MalformedBody);
    let resp = client(&server)
        .post(format!("{}{SAR_PATH}", server.base_url()))
        .bearer_auth(REVIEWER)
        .json(&sar("u", "get", "zones", None, None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(serde_json::from_slice::<Value>(&resp.bytes().await.unwrap()).is_err());
}
