//! Injected faults and latency, and the port closing when the server is dropped.

use super::*;

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
