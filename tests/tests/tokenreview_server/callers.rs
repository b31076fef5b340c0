//! The caller's own bearer (the reviewer token): checked on every request, and rotated.

use super::*;

#[tokio::test]
async fn callers_must_present_the_reviewer_token() {
    let server = start().await;
    let client = client(&server);
    let token = server.mint(&MintRequest::new("ns", "sa", &["bindcar"]));
    let unauthorized = status_body(401, "Unauthorized", "Unauthorized");

    let resp = client
        .post(url(&server))
        .json(&review_body(&token, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.json::<Value>().await.unwrap(), unauthorized);

    for bearer in ["wrong", "reviewer-secret-not"] {
        let resp = client
            .post(url(&server))
            .bearer_auth(bearer)
            .json(&review_body(&token, &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.json::<Value>().await.unwrap(), unauthorized);
    }
    // Another scheme is no bearer at all.
    let resp = client
        .post(url(&server))
        .header("authorization", format!("Basic {REVIEWER}"))
        .json(&review_body(&token, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Authentication comes before routing.
    let resp = client
        .get(format!("{}/healthz", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(server.unauthorized_count(), 5);
    assert_eq!(server.review_count(), 0);
    assert_eq!(server.reviews_for_token(&token), 0);
    assert_eq!(
        server.caller_tokens_seen(),
        vec!["wrong", "reviewer-secret-not"]
    );

    let (code, _) = review_with(&client, &server, &token, &["bindcar"]).await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(
        server.caller_tokens_seen(),
        vec!["wrong", "reviewer-secret-not", REVIEWER]
    );
    assert_eq!(server.unauthorized_count(), 5);
}

#[tokio::test]
async fn rotating_the_reviewer_token_refuses_the_old_one() {
    let server = start().await;
    let client = client(&server);
    let token = server.mint(&MintRequest::new("ns", "sa", &["bindcar"]));
    let post = |bearer: &'static str| {
        client
            .post(url(&server))
            .bearer_auth(bearer)
            .json(&review_body(&token, &["bindcar"]))
            .send()
    };
    assert_eq!(post(REVIEWER).await.unwrap().status(), StatusCode::CREATED);

    server.set_reviewer_token("rotated");
    assert_eq!(server.reviewer_token(), "rotated");
    assert_eq!(
        post(REVIEWER).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(post("rotated").await.unwrap().status(), StatusCode::CREATED);

    server.accept_reviewer_tokens(&["a", "b"]);
    assert_eq!(server.reviewer_token(), "a");
    assert_eq!(post("a").await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(post("b").await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(
        post("rotated").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        server.caller_tokens_seen(),
        vec![REVIEWER, "rotated", "a", "b"]
    );
    assert_eq!(server.unauthorized_count(), 2);
    assert_eq!(server.review_count(), 4);
    assert_eq!(server.reviews_for_token(&token), 4);
}
