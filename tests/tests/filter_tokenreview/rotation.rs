//! The reviewer credential rotating without restarting Envoy, in our config and in the
//! shipped one.

use super::*;

#[test]
fn the_reviewer_credential_rotates_without_restarting_envoy() {
    let api = api_server();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    api.write_ca(&ca).unwrap();
    let token_dir: PathBuf = dir.path().join("serviceaccount");
    std::fs::create_dir(&token_dir).unwrap();
    std::fs::write(token_dir.join("token"), "reviewer-one").unwrap();
    api.set_reviewer_token("reviewer-one");
    let config = json!({"mode": "tokenReview", "tokenReview": {"audiences": ["bindcar"], "allowedNamespaces": ["dns-system"], "cacheTtlSeconds": 0}});
    let up = Upstream::start().unwrap();
    let o = EnvoyOptions::filter(&config.to_string(), up.port)
        .with_injected_reviewer_credential(api.https_port(), &ca, &token_dir)
        .unwrap();
    let envoy = Envoy::start(&o).unwrap();
    let pid = envoy.pid();
    let token = sa_token(&api, "dns-system", "external-dns");
    assert_eq!(call(&envoy, &token).status, 200, "{}", envoy.log_text());
    assert_eq!(api.caller_tokens_seen(), vec!["reviewer-one".to_string()]);

    // Rotate as the kubelet does: write the new token aside, then move it over the old one.
    api.set_reviewer_token("reviewer-two");
    std::fs::write(token_dir.join("token.new"), "reviewer-two").unwrap();
    std::fs::rename(token_dir.join("token.new"), token_dir.join("token")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    while Instant::now() < deadline {
        status = call(&envoy, &token).status;
        if status == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(status, 200, "the new credential was never used");
    assert!(api
        .caller_tokens_seen()
        .contains(&"reviewer-two".to_string()));
    assert_eq!(envoy.pid(), pid);
    assert!(
        envoy
            .log_text()
            .matches("starting main dispatch loop")
            .count()
            <= 1,
        "Envoy restarted"
    );
}

#[test]
fn the_shipped_tokenreview_config_picks_up_a_rotated_reviewer_token() {
    // envoy/envoy-tokenreview.yaml exactly as shipped but for its four port numbers, from a
    // directory laid out like the repository, with the files `make run` would create.
    let api = api_server();
    let up = Upstream::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    bindcar_testbed::envoy::lay_out_repository(dir.path()).unwrap();
    let tr = dir.path().join(".run/tokenreview");
    std::fs::create_dir_all(&tr).unwrap();
    api.write_ca(&tr.join("ca.pem")).unwrap();
    api.set_reviewer_token("reviewer-one");
    std::fs::write(tr.join("token"), "reviewer-one").unwrap();
    let (port, admin) = (
        bindcar_testbed::ports::free_port(),
        bindcar_testbed::ports::free_port(),
    );
    let config_path = dir.path().join("envoy/envoy-tokenreview.yaml");
    let mut config = std::fs::read_to_string(&config_path).unwrap();
    for (shipped, ours) in [
        (10000, port),
        (9901, admin),
        (18080, up.port),
        (16443, api.https_port()),
    ] {
        let from = format!("port_value: {shipped}}}");
        assert_eq!(
            config.matches(&from).count(),
            1,
            "{from} in the shipped config"
        );
        config = config.replace(&from, &format!("port_value: {ours}}}"));
    }
    std::fs::write(&config_path, config).unwrap();
    let envoy = Envoy::start_file(&config_path, dir.path(), port, admin).unwrap();
    let pid = envoy.pid();
    // A fresh token each time, so each request is reviewed (the shipped TTL is 60 s).
    let fresh = |i: usize| sa_token(&api, "dns-system", &format!("client-{i}"));
    let r = call(&envoy, &fresh(0));
    assert_eq!(r.status, 200, "{r:?}\n{}", envoy.log_text());
    assert_eq!(
        up.seen()[0].header("x-remote-user"),
        Some(&b"system:serviceaccount:dns-system:client-0"[..])
    );
    assert_eq!(api.caller_tokens_seen(), vec!["reviewer-one".to_string()]);
    assert_denied(
        &call(&envoy, &sa_token(&api, "default", "app")),
        401,
        "Token validation failed: ServiceAccount from unauthorized namespace: default",
    );

    // The kubelet's way: the new token is written aside, then moved over the old one.
    api.set_reviewer_token("reviewer-two");
    std::fs::write(tr.join("token.new"), "reviewer-two").unwrap();
    std::fs::rename(tr.join("token.new"), tr.join("token")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut i = 1;
    let mut status = 0;
    while Instant::now() < deadline && status != 200 {
        status = call(&envoy, &fresh(i)).status;
        assert!(status == 200 || status == 503, "{status}");
        i += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, 200, "the rotated credential was never used");
    assert_eq!(
        api.caller_tokens_seen(),
        vec!["reviewer-one".to_string(), "reviewer-two".to_string()]
    );
    assert_eq!(envoy.pid(), pid, "Envoy was restarted");
}
