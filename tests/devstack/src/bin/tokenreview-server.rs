//! `tokenreview-server`: the TokenReview test server as a process, for `make run` and demos.
//!
//! ```text
//! tokenreview-server [--listen-port P] [--admin-port P] [--ca-out PATH]
//!                    [--reviewer-token T | --reviewer-token-file PATH]
//!                    [--print-tokens NS:SA[,NS:SA..]] [--audience AUD]..
//!                    [--issuer URL] [--api-audience AUD]..
//! ```
//! When ready it prints one JSON line on stdout:
//! `{"https_port":..,"admin_port":..,"ca":"<path>","reviewer_token":"..","issuer":"..",
//!   "tokens":{"<ns>:<sa>":"<jwt>",..}}` (`tokens` holds the `--print-tokens` tokens,
//! also printed to stderr as `token <ns>:<sa> <jwt>`).
//!
//! Admin API (plain HTTP on 127.0.0.1:<admin_port>, JSON):
//! - `POST /mint {"namespace","serviceAccount","audiences":[..],"ttlSeconds":N,
//!   "expired":bool}` → `{"token":".."}`; with `"username"` (and `"groups"`) instead of
//!   namespace/serviceAccount it mints a plain-user token.
//! - `POST /fault {"fault":"none|500|reset|hang|malformed","latencyMs":N}`: either key
//!   may be left out; `"none"` without `latencyMs` also clears the latency.
//! - `GET /stats` → `{"reviews":N,"unauthorized":N,"callerTokens":[..]}`.
//!
//! With `--reviewer-token-file` the file is re-read every 200 ms and its (trimmed) content
//! becomes the one accepted reviewer token when it changes. Exits 0 on SIGTERM/SIGINT.

use std::{collections::BTreeMap, convert::Infallible, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{bail, Context};
use bindcar_testbed::tokenreview::{Fault, MintRequest, ServerOptions, TokenReviewServer};
use http_body_util::{BodyExt, Full};
use hyper::{
    body::{Bytes, Incoming},
    service::service_fn,
    Method, Request, Response, StatusCode,
};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::{
    net::TcpListener,
    signal::unix::{signal, SignalKind},
};

const USAGE: &str = "\
usage: tokenreview-server [options]

A stand-in for the Kubernetes API server's TokenReview and SubjectAccessReview APIs over HTTPS
on 127.0.0.1, for demos and tests. When ready it prints one JSON line on stdout:
{\"https_port\",\"admin_port\",\"ca\",\"reviewer_token\",\"issuer\",\"tokens\"}.

  --listen-port P               HTTPS port (default: a free one)
  --admin-port P                plain-HTTP admin API port (default: a free one)
  --ca-out PATH                 write the server's CA certificate (PEM) here
  --reviewer-token T            the bearer a caller must present (default: random)
  --reviewer-token-file PATH    read it from PATH, re-read every 200 ms (rotation)
  --print-tokens NS:SA[,NS:SA]  mint a token for each ServiceAccount and print it
  --audience AUD                audience of the printed tokens (repeatable; default bindcar)
  --issuer URL                  iss of minted tokens, the only one accepted
                                (default https://kubernetes.default.svc.cluster.local)
  --api-audience AUD            audiences reviewed when spec.audiences is empty (repeatable)
  -h, --help                    this text

Admin API (JSON, on 127.0.0.1:<admin port>):
  POST /mint  {\"namespace\",\"serviceAccount\",\"audiences\":[..],\"ttlSeconds\":N,\"expired\":bool}
              -> {\"token\"}; with \"username\" (and \"groups\") a plain-user token
  POST /fault {\"fault\":\"none|500|reset|hang|malformed\",\"latencyMs\":N}
  GET  /stats -> {\"reviews\",\"unauthorized\",\"callerTokens\"}
Flags also take the form --flag=value. Exits 0 on SIGTERM or SIGINT.";

#[derive(Default)]
struct Args {
    listen_port: u16,
    admin_port: u16,
    ca_out: Option<PathBuf>,
    reviewer_token: Option<String>,
    reviewer_token_file: Option<PathBuf>,
    print_tokens: Vec<(String, String)>,
    audiences: Vec<String>,
    issuer: Option<String>,
    api_audiences: Vec<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || -> anyhow::Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().with_context(|| format!("{flag} needs a value")),
            }
        };
        match flag.as_str() {
            "--listen-port" => args.listen_port = value()?.parse().context("--listen-port")?,
            "--admin-port" => args.admin_port = value()?.parse().context("--admin-port")?,
            "--ca-out" => args.ca_out = Some(value()?.into()),
            "--reviewer-token" => args.reviewer_token = Some(value()?),
            "--reviewer-token-file" => args.reviewer_token_file = Some(value()?.into()),
            "--print-tokens" => {
                for item in value()?.split(',').filter(|s| !s.is_empty()) {
                    let (ns, sa) = item
                        .split_once(':')
                        .with_context(|| format!("--print-tokens: {item:?} is not <ns>:<sa>"))?;
                    args.print_tokens.push((ns.to_string(), sa.to_string()));
                }
            }
            "--audience" => args.audiences.push(value()?),
            "--issuer" => args.issuer = Some(value()?),
            "--api-audience" => args.api_audiences.push(value()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    if args.reviewer_token.is_some() && args.reviewer_token_file.is_some() {
        bail!("--reviewer-token and --reviewer-token-file are exclusive");
    }
    Ok(args)
}

fn read_token_file(path: &PathBuf) -> anyhow::Result<String> {
    let token = std::fs::read_to_string(path)
        .with_context(|| format!("read {}", path.display()))?
        .trim()
        .to_string();
    if token.is_empty() {
        bail!("{} is empty", path.display());
    }
    Ok(token)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let mut opts = ServerOptions::default();
    if let Some(t) = &args.reviewer_token {
        opts.reviewer_token = t.clone();
    }
    if let Some(path) = &args.reviewer_token_file {
        opts.reviewer_token = read_token_file(path)?;
    }
    if let Some(issuer) = &args.issuer {
        opts.issuer = issuer.clone();
    }
    if !args.api_audiences.is_empty() {
        opts.api_audiences = args.api_audiences.clone();
    }
    let reviewer_token = opts.reviewer_token.clone();
    let server = Arc::new(TokenReviewServer::start_on(opts, args.listen_port).await?);

    let ca_path = args.ca_out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("tokenreview-ca-{}.pem", std::process::id()))
    });
    server
        .write_ca(&ca_path)
        .with_context(|| format!("write {}", ca_path.display()))?;

    let admin = TcpListener::bind(("127.0.0.1", args.admin_port))
        .await
        .with_context(|| format!("bind admin 127.0.0.1:{}", args.admin_port))?;
    let admin_port = admin.local_addr()?.port();
    tokio::spawn(serve_admin(admin, server.clone()));

    if let Some(path) = args.reviewer_token_file.clone() {
        tokio::spawn(watch_token_file(
            path,
            reviewer_token.clone(),
            server.clone(),
        ));
    }

    let audiences: Vec<&str> = if args.audiences.is_empty() {
        vec!["bindcar"]
    } else {
        args.audiences.iter().map(String::as_str).collect()
    };
    let mut tokens = BTreeMap::new();
    for (ns, sa) in &args.print_tokens {
        let token = server.mint(&MintRequest::new(ns, sa, &audiences));
        eprintln!("token {ns}:{sa} {token}");
        tokens.insert(format!("{ns}:{sa}"), token);
    }

    println!(
        "{}",
        json!({
            "https_port": server.https_port(),
            "admin_port": admin_port,
            "ca": ca_path,
            "reviewer_token": reviewer_token,
            "issuer": server.issuer(),
            "tokens": tokens,
        })
    );

    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    // Returning drops the runtime (admin tasks and their server handles) and then the
    // server itself, which closes the HTTPS port.
    Ok(())
}

/// Rotation demos: whatever the file holds becomes the only accepted reviewer token.
async fn watch_token_file(path: PathBuf, mut current: String, server: Arc<TokenReviewServer>) {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        // A half-written or missing file keeps the current token.
        if let Ok(token) = read_token_file(&path) {
            if token != current {
                server.set_reviewer_token(&token);
                current = token;
            }
        }
    }
}

async fn serve_admin(listener: TcpListener, server: Arc<TokenReviewServer>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let server = server.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| admin(req, server.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

fn reply(code: StatusCode, body: Value) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MintBody {
    namespace: Option<String>,
    service_account: Option<String>,
    username: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    audiences: Vec<String>,
    ttl_seconds: Option<u64>,
    #[serde(default)]
    expired: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultBody {
    fault: Option<String>,
    latency_ms: Option<u64>,
}

async fn admin(
    req: Request<Incoming>,
    server: Arc<TokenReviewServer>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
    };
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/stats") => reply(
            StatusCode::OK,
            json!({
                "reviews": server.review_count(),
                "unauthorized": server.unauthorized_count(),
                "callerTokens": server.caller_tokens_seen(),
            }),
        ),
        (&Method::POST, "/mint") => {
            let m: MintBody = match serde_json::from_slice(&body) {
                Ok(m) => m,
                Err(e) => return reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
            };
            let ttl = Duration::from_secs(m.ttl_seconds.unwrap_or(3600));
            let auds: Vec<&str> = m.audiences.iter().map(String::as_str).collect();
            let token = match (m.username, m.namespace, m.service_account) {
                (Some(user), _, _) => {
                    let groups: Vec<&str> = m.groups.iter().map(String::as_str).collect();
                    server.mint_user(&user, &groups, &auds, ttl)
                }
                (None, Some(ns), Some(sa)) => {
                    let mut r = MintRequest::new(&ns, &sa, &auds);
                    r.ttl = ttl;
                    r.expired = m.expired;
                    server.mint(&r)
                }
                _ => {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        json!({"error": "need namespace+serviceAccount or username"}),
                    )
                }
            };
            reply(StatusCode::OK, json!({ "token": token }))
        }
        (&Method::POST, "/fault") => {
            let f: FaultBody = match serde_json::from_slice(&body) {
                Ok(f) => f,
                Err(e) => return reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
            };
            if let Some(name) = f.fault.as_deref() {
                let fault = match name {
                    "none" => Fault::None,
                    "500" => Fault::Status500,
                    "reset" => Fault::Reset,
                    "hang" => Fault::Hang,
                    "malformed" => Fault::MalformedBody,
                    other => {
                        return reply(
                            StatusCode::BAD_REQUEST,
                            json!({"error": format!("unknown fault {other:?}")}),
                        )
                    }
                };
                server.set_fault(fault);
            }
            if let Some(ms) = f.latency_ms {
                server.set_latency(Duration::from_millis(ms));
            }
            reply(StatusCode::OK, json!({}))
        }
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "not found"})),
    }
}
