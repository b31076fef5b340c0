//! What is served: POST on the TokenReview path only, TokenReview bodies only, and the
//! per-token review counts.

use super::*;

#[tokio::test]
async fn only_post_on_the_tokenreview_path_is_served() {
    let server = start().await;
    let client = client(&server);
    let resp = client
        .get(url(&server))
        .bearer_auth(REVIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        status_body(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource"
        )
    );
    for path in [
        "/",
        "/api/v1/namespaces",
        "/apis/authentication.k8s.io/v1/tokenreviews/x",
    ] {
        let resp = client
            .post(format!("{}{path}", server.base_url()))
            .bearer_auth(REVIEWER)
            .json(&review_body("t", &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            status_body(
                404,
                "NotFound",
                "the server could not find the requested resource"
            )
        );
    }
    assert_eq!(server.review_count(), 0);
    assert_eq!(server.unauthorized_count(), 0);
}

#[tokio::test]
async fn bodies_that_are_not_token_reviews_are_refused() {
    let server = start().await;
    let client = client(&server);
    let send = |body: &'static str, content_type: &'static str| {
        client
            .post(url(&server))
            .bearer_auth(REVIEWER)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases = [
        (
            r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"#,
            "application/json",
        ),
        (
            r#"{"apiVersion":"v1","kind":"Pod","spec":{"token":"t"}}"#,
            "application/json",
        ),
        (
            r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SubjectAccessReview","spec":{"token":"t"}}"#,
            "application/json",
        ),
        (
            r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{}}"#,
            "application/json",
        ),
        (
            r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":""}}"#,
            "application/json",
        ),
        (
            r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"t","audiences":"bindcar"}}"#,
            "application/json",
        ),
        (r#"[]"#, "application/json"),
    ];
    for (body, ct) in cases {
        let resp = send(body, ct).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        let status: Value = resp.json().await.unwrap();
        assert_eq!(status["kind"], "Status", "{body}");
        assert_eq!(status["reason"], "BadRequest", "{body}");
        assert_eq!(status["code"], 400, "{body}");
    }
    let resp = send(r#"{"spec":{}}"#, "application/json").await.unwrap();
    assert_eq!(
        resp.json::<Value>().await.unwrap()["message"],
        "token is required for TokenReview in authentication"
    );

    let resp = send(r#"{"spec":{"token":"t"}}"#, "text/plain")
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["reason"],
        "UnsupportedMediaType"
    );

    // Lenient like the apiserver: charset parameter, and apiVersion/kind defaulted.
    let resp = send(
        r#"{"spec":{"token":"t"}}"#,
        "application/json; charset=utf-8",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["kind"], "TokenReview");
    assert!(body["status"]["error"].is_string());

    // Every one of them passed the caller check, so every one counts as a review.
    assert_eq!(server.review_count(), cases.len() as u64 + 3);
    assert_eq!(server.reviews_for_token("t"), 5);
}

#[tokio::test]
async fn reviews_are_counted_per_token() {
    let server = start().await;
    let a = server.mint(&MintRequest::new("ns", "a", &["bindcar"]));
    let b = server.mint(&MintRequest::new("ns", "b", &["bindcar"]));
    for _ in 0..3 {
        review(&server, &a, &["bindcar"]).await;
    }
    review(&server, &b, &["nope"]).await;
    assert_eq!(server.review_count(), 4);
    assert_eq!(server.reviews_for_token(&a), 3);
    assert_eq!(server.reviews_for_token(&b), 1);
    assert_eq!(server.reviews_for_token("never"), 0);
}
