//! The standalone `tokenreview-server` binary: ready line, minted tokens, admin API,
//! token-file rotation, SIGTERM. Here, next to the binary, so that Cargo builds it for the
//! test (`CARGO_BIN_EXE_tokenreview-server`); the server itself is tested in `bindcar-e2e`
//! (`tests/tests/tokenreview_server/`).

// A test file: its helpers unwrap like its tests (clippy.toml only exempts `#[test]` bodies).
#![allow(clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine;
use bindcar_testbed::tokenreview::TOKENREVIEW_PATH;
use reqwest::{Certificate, Client, StatusCode};
use serde_json::{json, Value};

fn review_body(token: &str, audiences: &[&str]) -> Value {
    let mut spec = json!({ "token": token });
    if !audiences.is_empty() {
        spec["audiences"] = json!(audiences);
    }
    json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec })
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The standalone binary: ready line, minted tokens, admin API, token-file rotation, SIGTERM.
#[tokio::test]
async fn the_binary_serves_and_is_controlled_over_its_admin_port() {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let token_file = dir.path().join("reviewer-token");
    std::fs::write(&token_file, "first\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenreview-server"))
        .args(["--admin-port", "0", "--ca-out"])
        .arg(&ca_path)
        .arg("--reviewer-token-file")
        .arg(&token_file)
        .args([
            "--print-tokens",
            "dns-system:external-dns,kube-system:admin",
            "--audience",
            "bindcar",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let https_port = ready["https_port"].as_u64().unwrap();
    let admin = format!("http://127.0.0.1:{}", ready["admin_port"].as_u64().unwrap());
    assert_eq!(ready["ca"], ca_path.to_str().unwrap());
    assert_eq!(ready["reviewer_token"], "first");

    let ca = std::fs::read_to_string(&ca_path).unwrap();
    let https = Client::builder()
        .tls_certs_only([Certificate::from_pem(ca.as_bytes()).unwrap()])
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let plain = Client::new();
    let review_url = format!("https://127.0.0.1:{https_port}{TOKENREVIEW_PATH}");
    let post = |bearer: &str, token: &str| {
        https
            .post(&review_url)
            .bearer_auth(bearer)
            .json(&review_body(token, &["bindcar"]))
            .send()
    };

    let printed = ready["tokens"]["dns-system:external-dns"].as_str().unwrap();
    assert!(ready["tokens"]["kube-system:admin"].is_string());
    let body: Value = post("first", printed).await.unwrap().json().await.unwrap();
    assert_eq!(
        body["status"]["user"]["username"],
        "system:serviceaccount:dns-system:external-dns"
    );

    let minted: Value = plain
        .post(format!("{admin}/mint"))
        .json(&json!({"namespace":"ns","serviceAccount":"sa","audiences":["bindcar"],"ttlSeconds":60}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let minted = minted["token"].as_str().unwrap().to_string();
    assert_eq!(
        jwt_part(&minted, 1)["exp"].as_i64().unwrap()
            - jwt_part(&minted, 1)["iat"].as_i64().unwrap(),
        60
    );
    let body: Value = post("first", &minted).await.unwrap().json().await.unwrap();
    assert_eq!(
        body["status"]["user"]["username"],
        "system:serviceaccount:ns:sa"
    );

    let user: Value = plain
        .post(format!("{admin}/mint"))
        .json(&json!({"username":"kubernetes-admin","groups":["system:masters"],"audiences":["bindcar"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body: Value = post("first", user["token"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"]["user"]["username"], "kubernetes-admin");

    let fault = |f: Value| plain.post(format!("{admin}/fault")).json(&f).send();
    assert!(fault(json!({"fault":"500"}))
        .await
        .unwrap()
        .status()
        .is_success());
    assert_eq!(
        post("first", &minted).await.unwrap().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert!(fault(json!({"fault":"reset"}))
        .await
        .unwrap()
        .status()
        .is_success());
    assert!(post("first", &minted).await.is_err());
    assert!(fault(json!({"fault":"none","latencyMs":300}))
        .await
        .unwrap()
        .status()
        .is_success());
    let started = Instant::now();
    assert_eq!(
        post("first", &minted).await.unwrap().status(),
        StatusCode::CREATED
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        fault(json!({"fault":"nonsense"})).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    fault(json!({"fault":"none"})).await.unwrap();

    // Rotation through the token file: the old token stops working.
    std::fs::write(&token_file, "second\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while post("second", &minted).await.unwrap().status() != StatusCode::CREATED {
        assert!(
            Instant::now() < deadline,
            "new reviewer token never accepted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        post("first", &minted).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let stats: Value = plain
        .get(format!("{admin}/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["callerTokens"], json!(["first", "second"]));
    let unauthorized = stats["unauthorized"].as_u64().unwrap();
    assert!(unauthorized >= 1);
    // Three reviews, the 500, the reset, the delayed one and the first accepted "second";
    // the refused attempts (before the file was re-read, and "first" after) are not reviews.
    assert_eq!(stats["reviews"].as_u64().unwrap(), 7);

    // SIGTERM: clean exit.
    let status = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", https_port as u16))
            .await
            .is_err()
    );
}
