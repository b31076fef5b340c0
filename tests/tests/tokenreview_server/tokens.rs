//! Token verification: ServiceAccount and plain-user tokens reviewed as the apiserver does,
//! audiences, expiry, and the apiserver's reasons for an invalid token.

use super::*;

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

/// The JWKS (for verifiers of their own, e.g. Envoy's `jwt_authn` in `make bench`) holds the
/// signing key: it verifies what the server mints and nothing signed by another key.
#[tokio::test]
async fn the_jwks_verifies_minted_tokens_and_only_those() {
    use jsonwebtoken::{decode, jwk::JwkSet, Algorithm, DecodingKey, Validation};

    let server = start().await;
    let jwks: JwkSet = serde_json::from_str(&server.jwks().unwrap()).unwrap();
    assert_eq!(jwks.keys.len(), 1);
    let jwk = &jwks.keys[0];
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["bindcar"]);
    validation.set_issuer(&[DEFAULT_ISSUER]);

    let token = server.mint(&MintRequest::new(
        "dns-system",
        "external-dns",
        &["bindcar"],
    ));
    assert_eq!(
        jwt_part(&token, 0)["kid"].as_str(),
        jwk.common.key_id.as_deref()
    );
    let claims = decode::<Value>(&token, &key, &validation).unwrap().claims;
    assert_eq!(
        claims["sub"],
        "system:serviceaccount:dns-system:external-dns"
    );

    let mut foreign = MintRequest::new("dns-system", "external-dns", &["bindcar"]);
    foreign.sign_with_other_key = true;
    let err = decode::<Value>(&server.mint(&foreign), &key, &validation).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            jsonwebtoken::errors::ErrorKind::InvalidSignature
        ),
        "{err:?}"
    );
}
