//! The TokenReview test server itself, over real HTTPS: the shapes and status codes the
//! kube-apiserver uses, token verification, caller authentication, counters, faults, both
//! HTTP versions and the certificate. The standalone binary is tested next to it, in
//! `tests/devstack/tests/tokenreview_server_binary.rs`.

use std::{
    io::BufRead,
    net::SocketAddr,
    time::{Duration, Instant, SystemTime},
};

use base64::Engine;
use bindcar_testbed::tokenreview::{
    Fault, MintRequest, ServerOptions, TokenReviewServer, DEFAULT_ISSUER, TOKENREVIEW_PATH,
};
use reqwest::{Certificate, Client, StatusCode, Version};
use serde_json::{json, Value};

const REVIEWER: &str = "reviewer-secret";

async fn start() -> TokenReviewServer {
    TokenReviewServer::start(ServerOptions::new(REVIEWER))
        .await
        .unwrap()
}

/// A client that trusts only the server's CA.
fn builder(server: &TokenReviewServer) -> reqwest::ClientBuilder {
    let ca = Certificate::from_pem(server.ca_pem().as_bytes()).unwrap();
    Client::builder()
        .tls_certs_only([ca])
        .timeout(Duration::from_secs(10))
}

fn client(server: &TokenReviewServer) -> Client {
    builder(server).build().unwrap()
}

fn url(server: &TokenReviewServer) -> String {
    format!("{}{TOKENREVIEW_PATH}", server.base_url())
}

fn review_body(token: &str, audiences: &[&str]) -> Value {
    let mut spec = json!({ "token": token });
    if !audiences.is_empty() {
        spec["audiences"] = json!(audiences);
    }
    json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec })
}

/// POSTs a TokenReview with the right caller token; returns (status, body).
async fn review_with(
    client: &Client,
    server: &TokenReviewServer,
    token: &str,
    audiences: &[&str],
) -> (StatusCode, Value) {
    let resp = client
        .post(url(server))
        .bearer_auth(server.reviewer_token())
        .json(&review_body(token, audiences))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn review(
    server: &TokenReviewServer,
    token: &str,
    audiences: &[&str],
) -> (StatusCode, Value) {
    review_with(&client(server), server, token, audiences).await
}

/// The review's `status.error`, asserting it is a failed review.
async fn review_error(server: &TokenReviewServer, token: &str, audiences: &[&str]) -> String {
    let (code, body) = review(server, token, audiences).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let status = &body["status"];
    // Like the apiserver: `authenticated` is omitempty, so a failure has no such key.
    assert!(status.get("authenticated").is_none(), "{body}");
    assert_eq!(status["user"], json!({}), "{body}");
    assert!(status.get("audiences").is_none(), "{body}");
    status["error"].as_str().unwrap().to_string()
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
           "message":message,"reason":reason,"code":code})
}

#[tokio::test]
async fn service_account_token_is_authenticated_like_the_apiserver() {
    let server = start().await;
    let token = server.mint(&MintRequest::new(
        "dns-system",
        "external-dns",
        &["bindcar"],
    ));

    // The token looks like a projected ServiceAccount token.
    let header = jwt_part(&token, 0);
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].as_str().is_some_and(|k| !k.is_empty()));
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["aud"], json!(["bindcar"]));
    assert_eq!(claims["iss"], DEFAULT_ISSUER);
    assert_eq!(
        claims["sub"],
        "system:serviceaccount:dns-system:external-dns"
    );
    assert_eq!(claims["kubernetes.io"]["namespace"], "dns-system");
    assert_eq!(
        claims["kubernetes.io"]["serviceaccount"]["name"],
        "external-dns"
    );
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 3600);
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat);
    let jti = claims["jti"].as_str().unwrap();
    let uid = claims["kubernetes.io"]["serviceaccount"]["uid"]
        .as_str()
        .unwrap();

    let (code, body) = review(&server, &token, &["bindcar"]).await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(
        body,
        json!({
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": { "creationTimestamp": null },
            "spec": { "token": token, "audiences": ["bindcar"] },
            "status": {
                "authenticated": true,
                "user": {
                    "username": "system:serviceaccount:dns-system:external-dns",
                    "uid": uid,
                    "groups": ["system:serviceaccounts", "system:serviceaccounts:dns-system", "system:authenticated"],
                    "extra": { "authentication.kubernetes.io/credential-id": [format!("JTI={jti}")] }
                },
                "audiences": ["bindcar"]
            }
        })
    );

    // A ServiceAccount keeps its uid across tokens; an explicit uid is honoured.
    let again = server.mint(&MintRequest::new(
        "dns-system",
        "external-dns",
        &["bindcar"],
    ));
    assert_eq!(
        jwt_part(&again, 1)["kubernetes.io"]["serviceaccount"]["uid"],
        uid
    );
    assert_ne!(jwt_part(&again, 1)["jti"], jti);
    let mut req = MintRequest::new("dns-system", "other", &["bindcar"]);
    req.uid = Some("1234".into());
    let (_, body) = review(&server, &server.mint(&req), &["bindcar"]).await;
    assert_eq!(body["status"]["user"]["uid"], "1234");
}

#[tokio::test]
async fn audiences_are_intersected_or_default_to_the_api_audiences() {
    let server = start().await;

    // Token for several audiences, review for some of them: the intersection, token order.
    let token = server.mint(&MintRequest::new("ns", "sa", &["a", "bindcar", "c"]));
    let (_, body) = review(&server, &token, &["c", "bindcar", "x"]).await;
    assert_eq!(body["status"]["authenticated"], true);
    assert_eq!(body["status"]["audiences"], json!(["bindcar", "c"]));

    // No spec.audiences: the API audiences are the target.
    let api = server.mint(&MintRequest::new("ns", "sa", &[DEFAULT_ISSUER]));
    let (_, body) = review(&server, &api, &[]).await;
    assert_eq!(body["status"]["authenticated"], true);
    assert_eq!(body["status"]["audiences"], json!([DEFAULT_ISSUER]));
    assert!(body["spec"].get("audiences").is_none());

    // A token without aud is valid for the API audiences only.
    let no_aud = server.mint(&MintRequest::new("ns", "sa", &[]));
    let (_, body) = review(&server, &no_aud, &[]).await;
    assert_eq!(body["status"]["audiences"], json!([DEFAULT_ISSUER]));
    assert_eq!(
        review_error(&server, &no_aud, &["bindcar"]).await,
        format!("[invalid bearer token, token audiences [\"{DEFAULT_ISSUER}\"] is invalid for the target audiences [\"bindcar\"]]")
    );
}

#[tokio::test]
async fn invalid_tokens_get_the_apiservers_reasons() {
    let server = start().await;
    let wrong_aud = server.mint(&MintRequest::new("ns", "sa", &["x"]));
    assert_eq!(
        review_error(&server, &wrong_aud, &["bindcar"]).await,
        r#"[invalid bearer token, token audiences ["x"] is invalid for the target audiences ["bindcar"]]"#
    );
    let two = server.mint(&MintRequest::new("ns", "sa", &["x", "y"]));
    assert_eq!(
        review_error(&server, &two, &[]).await,
        format!("[invalid bearer token, token audiences [\"x\" \"y\"] is invalid for the target audiences [\"{DEFAULT_ISSUER}\"]]")
    );

    let mut expired = MintRequest::new("ns", "sa", &["bindcar"]);
    expired.expired = true;
    let expired = server.mint(&expired);
    assert!(
        jwt_part(&expired, 1)["exp"].as_i64().unwrap()
            < jwt_part(&wrong_aud, 1)["iat"].as_i64().unwrap() - 3000
    );
    assert_eq!(
        review_error(&server, &expired, &["bindcar"]).await,
        "[invalid bearer token, service account token has expired]"
    );

    let mut early = MintRequest::new("ns", "sa", &["bindcar"]);
    early.not_before = Some(SystemTime::now() + Duration::from_secs(300));
    assert_eq!(
        review_error(&server, &server.mint(&early), &["bindcar"]).await,
        "[invalid bearer token, service account token is not valid yet]"
    );
    // Within the 60 s leeway, not-yet-valid is still accepted (go-jose's default).
    early.not_before = Some(SystemTime::now() + Duration::from_secs(30));
    let (_, body) = review(&server, &server.mint(&early), &["bindcar"]).await;
    assert_eq!(body["status"]["authenticated"], true, "{body}");

    let crypto = "[invalid bearer token, square/go-jose: error in cryptographic primitive]";
    let mut foreign = MintRequest::new("ns", "sa", &["bindcar"]);
    foreign.sign_with_other_key = true;
    assert_eq!(
        review_error(&server, &server.mint(&foreign), &["bindcar"]).await,
        crypto
    );
    assert_eq!(
        review_error(&server, "not-a-jwt", &["bindcar"]).await,
        crypto
    );
    // A valid header and signature with a doctored payload.
    let good = server.mint(&MintRequest::new("ns", "sa", &["bindcar"]));
    let admin = server.mint(&MintRequest::new("kube-system", "admin", &["bindcar"]));
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        admin.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert_eq!(review_error(&server, &forged, &["bindcar"]).await, crypto);

    let mut other_issuer = MintRequest::new("ns", "sa", &["bindcar"]);
    other_issuer.issuer = Some("https://evil.example".into());
    assert_eq!(
        review_error(&server, &server.mint(&other_issuer), &["bindcar"]).await,
        "[invalid bearer token, token issuer \"https://evil.example\" is not trusted]"
    );
}

#[tokio::test]
async fn a_short_lived_token_expires() {
    let server = start().await;
    server.set_leeway(Duration::ZERO);
    let mut req = MintRequest::new("ns", "sa", &["bindcar"]);
    req.ttl = Duration::from_secs(1);
    let token = server.mint(&req);
    let (_, body) = review(&server, &token, &["bindcar"]).await;
    assert_eq!(body["status"]["authenticated"], true);
    // exp has one-second resolution: two seconds later it is certainly past.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        review_error(&server, &token, &["bindcar"]).await,
        "[invalid bearer token, service account token has expired]"
    );
}

#[tokio::test]
async fn plain_users_are_authenticated_by_their_claim() {
    let server = start().await;
    let token = server.mint_user(
        "kubernetes-admin",
        &["system:masters"],
        &["bindcar"],
        Duration::from_secs(600),
    );
    let (code, body) = review(&server, &token, &["bindcar"]).await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(
        body["status"],
        json!({
            "authenticated": true,
            "user": { "username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"] },
            "audiences": ["bindcar"]
        })
    );
    // Same verification as ServiceAccount tokens.
    assert!(review_error(&server, &token, &["other"])
        .await
        .contains("is invalid for the target audiences"));
}

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

#[tokio::test]
async fn http1_and_http2_are_both_served() {
    let server = start().await;
    let token = server.mint(&MintRequest::new("ns", "sa", &["bindcar"]));
    for (client, version) in [
        (client(&server), Version::HTTP_2),
        (
            builder(&server).http1_only().build().unwrap(),
            Version::HTTP_11,
        ),
    ] {
        let resp = client
            .post(url(&server))
            .bearer_auth(REVIEWER)
            .json(&review_body(&token, &["bindcar"]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.version(), version);
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(
            resp.json::<Value>().await.unwrap()["status"]["authenticated"],
            true
        );
    }
}

#[tokio::test]
async fn the_certificate_covers_the_in_cluster_names_only() {
    let server = start().await;
    let addr: SocketAddr = ([127, 0, 0, 1], server.https_port()).into();
    let token = server.mint(&MintRequest::new("ns", "sa", &["bindcar"]));
    for host in ["kubernetes.default.svc", "localhost", "127.0.0.1"] {
        let client = builder(&server).resolve(host, addr).build().unwrap();
        let resp = client
            .post(format!(
                "https://{host}:{}{TOKENREVIEW_PATH}",
                server.https_port()
            ))
            .bearer_auth(REVIEWER)
            .json(&review_body(&token, &["bindcar"]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "{host}");
    }
    let client = builder(&server)
        .resolve("example.com", addr)
        .build()
        .unwrap();
    let err = client
        .get(format!("https://example.com:{}/", server.https_port()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    // A client that does not trust our CA cannot connect.
    let untrusting = Client::builder()
        .tls_certs_only([Certificate::from_pem(other_ca_pem().await.as_bytes()).unwrap()])
        .build()
        .unwrap();
    assert!(untrusting
        .get(url(&server))
        .send()
        .await
        .unwrap_err()
        .is_connect());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    server.write_ca(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), server.ca_pem());
    assert!(server.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
}

/// The CA of another server instance: a well-formed CA that did not sign our certificate.
async fn other_ca_pem() -> String {
    start().await.ca_pem()
}

#[tokio::test]
async fn fault_status500_and_malformed_body() {
    let server = start().await;
    let client = client(&server);
    let token = server.mint(&MintRequest::new("ns", "sa", &["bindcar"]));
    let post = || {
        client
            .post(url(&server))
            .bearer_auth(REVIEWER)
            .json(&review_body(&token, &["bindcar"]))
            .send()
    };

    server.set_fault(Fault::Status500);
    let resp = post().await.unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "InternalError");
    assert_eq!(body["code"], 500);

    server.set_fault(Fault::MalformedBody);
    let resp = post().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    // Faults do not apply to callers that fail authentication.
    let resp = client
        .post(url(&server))
        .bearer_auth("wrong")
        .json(&review_body(&token, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    server.set_fault(Fault::None);
    let resp = post().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["status"]["authenticated"],
        true
    );

    assert_eq!(server.review_count(), 3);
    assert_eq!(server.reviews_for_token(&token), 3);
}

#[tokio::test]
async fn fault_reset_drops_the_connection_without_an_answer() {
    let server = start().await;
    let token = server.mint(&MintRequest::new("ns", "sa", &["bindcar"]));
    server.set_fault(Fault::Reset);
    for client in [
        client(&server),
        builder(&server).http1_only().build().unwrap(),
    ] {
        let started = Instant::now();
        let err = client
            .post(url(&server))
            .bearer_auth(REVIEWER)
            .json(&review_body(&token, &["bindcar"]))
            .send()
            .await
            .unwrap_err();
        assert!(!err.is_timeout(), "{err:?}");
        assert!(err.status().is_none(), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(server.review_count(), 2);

    server.set_fault(Fault::None);
    let (code, _) = review(&server, &token, &["bindcar"]).await;
    assert_eq!(code, StatusCode::CREATED);
}

#[tokio::test]
async fn fault_hang_holds_one_request_without_blocking_others_or_shutdown() {
    let server = start().await;
    let token = server.mint(&MintRequest::new("ns", "sa", &["bindcar"]));

    // A client that gives up: the hang is a timeout, not an answer.
    server.set_fault(Fault::Hang);
    let impatient = builder(&server)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = impatient
        .post(url(&server))
        .bearer_auth(REVIEWER)
        .json(&review_body(&token, &["bindcar"]))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");

    // A patient one stays hung while others are served...
    let patient = builder(&server)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let request = patient
        .post(url(&server))
        .bearer_auth(REVIEWER)
        .json(&review_body(&token, &["bindcar"]));
    let hung = tokio::spawn(async move {
        let started = Instant::now();
        (request.send().await, started.elapsed())
    });
    while server.review_count() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.set_fault(Fault::None);
    let (code, _) = review(&server, &token, &["bindcar"]).await;
    assert_eq!(code, StatusCode::CREATED);
    assert!(!hung.is_finished());

    // ...and dropping the server ends it promptly instead of waiting for the client.
    drop(server);
    let (result, elapsed) = hung.await.unwrap();
    let err = result.unwrap_err();
    assert!(!err.is_timeout(), "{err:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test]
async fn latency_delays_answers_and_combines_with_faults() {
    let server = start().await;
    let token = server.mint(&MintRequest::new("ns", "sa", &["bindcar"]));
    let delay = Duration::from_millis(800);

    server.set_fault(Fault::Latency(delay));
    let started = Instant::now();
    let (code, body) = review(&server, &token, &["bindcar"]).await;
    assert!(started.elapsed() >= delay);
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(body["status"]["authenticated"], true);

    // Latency plus a fault.
    server.set_fault(Fault::Status500);
    let started = Instant::now();
    let (code, _) = review(&server, &token, &["bindcar"]).await;
    assert!(started.elapsed() >= delay);
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);

    // Fault::None restores normal service, latency included.
    server.set_fault(Fault::None);
    let client = client(&server);
    review_with(&client, &server, &token, &["bindcar"]).await; // warm the connection
    let started = Instant::now();
    let (code, _) = review_with(&client, &server, &token, &["bindcar"]).await;
    assert!(started.elapsed() < delay, "{:?}", started.elapsed());
    assert_eq!(code, StatusCode::CREATED);

    // set_latency alone.
    server.set_latency(delay);
    let started = Instant::now();
    review_with(&client, &server, &token, &["bindcar"]).await;
    assert!(started.elapsed() >= delay);
}

#[tokio::test]
async fn dropping_the_server_closes_its_port() {
    let server = start().await;
    let port = server.https_port();
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok());
    drop(server);
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err());
}
