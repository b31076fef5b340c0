//! HTTP/1.1 and HTTP/2, and the serving certificate.

use super::*;

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
pub(crate) async fn other_ca_pem() -> String {
    start().await.ca_pem()
}
