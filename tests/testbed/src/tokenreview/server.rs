//! The HTTPS listener and the request handler.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::Duration,
};

use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    body::{Bytes, Incoming},
    header::{AUTHORIZATION, CONTENT_TYPE},
    service::service_fn,
    Method, Request, Response, StatusCode,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::Notify,
};
use tokio_rustls::{rustls::ServerConfig, TlsAcceptor};

use super::{
    faults::{Fault, FaultState, MALFORMED_BODY},
    jwt::{Verified, Verifier},
    keys::JwtKey,
    review, sar, ServerOptions, SAR_PATH, TOKENREVIEW_PATH,
};

/// A TokenReview is a few KiB at most; anything larger is refused rather than buffered.
const MAX_BODY: usize = 1 << 20;

/// go-jose's default clock-skew allowance, which the apiserver uses for exp/nbf/iat.
pub(crate) const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// Poison only means another thread panicked mid-update of a counter or list; the data
/// is still usable for a test fixture.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// State shared by the handle (`TokenReviewServer`) and the server thread.
pub(crate) struct Shared {
    pub(crate) issuer: String,
    pub(crate) api_audiences: Vec<String>,
    pub(crate) key: JwtKey,
    pub(crate) other_key: JwtKey,
    /// Bearer values accepted from callers; the first is "the" reviewer token.
    pub(crate) accepted: Mutex<Vec<String>>,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) leeway: Mutex<Duration>,
    pub(crate) reviews: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    pub(crate) per_token: Mutex<HashMap<String, u64>>,
    pub(crate) callers: Mutex<Vec<String>>,
    pub(crate) sa_uids: Mutex<HashMap<(String, String), String>>,
    pub(crate) rbac: Mutex<Vec<sar::RbacRule>>,
    pub(crate) sar_faults: Mutex<FaultState>,
    pub(crate) sars: AtomicU64,
    pub(crate) sar_specs: Mutex<Vec<serde_json::Value>>,
}

impl Shared {
    pub(crate) fn new(opts: ServerOptions) -> anyhow::Result<Self> {
        Ok(Self {
            issuer: opts.issuer,
            api_audiences: opts.api_audiences,
            key: JwtKey::generate()?,
            other_key: JwtKey::generate()?,
            accepted: Mutex::new(vec![opts.reviewer_token]),
            faults: Mutex::new(FaultState::default()),
            leeway: Mutex::new(DEFAULT_LEEWAY),
            reviews: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            per_token: Mutex::new(HashMap::new()),
            callers: Mutex::new(Vec::new()),
            sa_uids: Mutex::new(HashMap::new()),
            rbac: Mutex::new(Vec::new()),
            sar_faults: Mutex::new(FaultState::default()),
            sars: AtomicU64::new(0),
            sar_specs: Mutex::new(Vec::new()),
        })
    }

    fn note_caller(&self, bearer: &str) {
        let mut callers = lock(&self.callers);
        if !callers.iter().any(|c| c == bearer) {
            callers.push(bearer.to_string());
        }
    }

    fn verify(&self, token: &str, requested: &[String]) -> Result<Verified, String> {
        Verifier {
            key: &self.key,
            issuer: &self.issuer,
            api_audiences: &self.api_audiences,
            leeway: *lock(&self.leeway),
        }
        .verify(token, requested)
    }
}

/// Accepts connections until the task is dropped (the server thread's runtime goes away).
pub(crate) async fn serve(listener: TcpListener, tls: Arc<ServerConfig>, shared: Arc<Shared>) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                tokio::spawn(connection(tcp, acceptor.clone(), shared.clone()));
            }
            // EMFILE and friends: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn connection(tcp: TcpStream, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    // Keep a second handle on the socket so `Fault::Reset` can set SO_LINGER 0 on it after
    // TLS and hyper have taken ownership of the stream.
    let Ok(std_tcp) = tcp.into_std() else { return };
    let Ok(raw) = std_tcp.try_clone() else { return };
    let Ok(tcp) = TcpStream::from_std(std_tcp) else {
        return;
    };
    let Ok(tls) = acceptor.accept(tcp).await else {
        return; // e.g. the client does not trust our CA
    };
    let reset = Arc::new(Notify::new());
    let svc = {
        let reset = reset.clone();
        service_fn(move |req| handle(req, shared.clone(), reset.clone()))
    };
    // HTTP/1.1 or HTTP/2, by ALPN (or by the h2 preface when the client sent no ALPN).
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(tls), svc);
    tokio::select! {
        _ = conn => {}
        _ = reset.notified() => {
            // Leaving the select drops the connection; with linger 0 the close of the last
            // descriptor (`raw`, below) sends RST instead of FIN.
            let _ = socket2::SockRef::from(&raw).set_linger(Some(Duration::ZERO));
        }
    }
    drop(raw);
}

type Answer = Response<Full<Bytes>>;

fn json_response(code: StatusCode, body: &serde_json::Value) -> Answer {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn status(code: StatusCode, reason: &str, message: &str) -> Answer {
    json_response(code, &review::status(code.as_u16(), reason, message))
}

fn bearer(req: &hyper::http::request::Parts) -> Option<String> {
    let value = req.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// JSON, or no content-type at all (curl -d without -H); the apiserver also takes YAML and
/// protobuf, which this server does not speak.
fn is_json(req: &hyper::http::request::Parts) -> bool {
    match req.headers.get(CONTENT_TYPE).map(|v| v.to_str()) {
        None => true,
        Some(Ok(v)) => v
            .split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")),
        Some(Err(_)) => false,
    }
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    reset: Arc<Notify>,
) -> Result<Answer, Infallible> {
    let (parts, body) = req.into_parts();
    // Read the whole request first, so that even Reset/Hang happen after the caller has
    // finished sending (that is what "the server went away mid-review" looks like).
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes());
    let is_sar = parts.uri.path() == SAR_PATH;
    let faults = if is_sar {
        *lock(&shared.sar_faults)
    } else {
        *lock(&shared.faults)
    };
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }

    // The caller's own credentials come first, on every path, as in the apiserver.
    let caller = bearer(&parts);
    if let Some(token) = &caller {
        shared.note_caller(token);
    }
    let authorized = caller.is_some_and(|t| lock(&shared.accepted).contains(&t));
    if !authorized {
        shared.unauthorized.fetch_add(1, Ordering::SeqCst);
        return Ok(status(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
        ));
    }
    if parts.uri.path() != TOKENREVIEW_PATH && !is_sar {
        return Ok(status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        ));
    }
    if parts.method != Method::POST {
        return Ok(status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        ));
    }

    if is_sar {
        return Ok(subject_access_review(&parts, body.ok(), &shared, faults.fault, &reset).await);
    }
    // From here on the request counts as a review, whatever happens to it.
    shared.reviews.fetch_add(1, Ordering::SeqCst);
    let Ok(body) = body else {
        return Ok(status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "request body too large or unreadable",
        ));
    };
    if let Some(token) = review::peek_token(&body) {
        *lock(&shared.per_token).entry(token).or_insert(0) += 1;
    }

    match faults.fault {
        Fault::None | Fault::Latency(_) => {}
        Fault::Status500 => {
            return Ok(status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "Internal error occurred: injected fault (tokenreview test server)",
            ))
        }
        Fault::Reset => {
            reset.notify_one();
            std::future::pending::<()>().await;
        }
        Fault::Hang => std::future::pending::<()>().await,
        Fault::MalformedBody => {
            let mut resp = Response::new(Full::new(Bytes::from_static(MALFORMED_BODY.as_bytes())));
            *resp.status_mut() = StatusCode::CREATED;
            resp.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            return Ok(resp);
        }
    }

    if !is_json(&parts) {
        return Ok(status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json",
        ));
    }
    let review = match review::parse(&body) {
        Ok(r) => r,
        Err(message) => return Ok(status(StatusCode::BAD_REQUEST, "BadRequest", &message)),
    };
    let outcome = shared.verify(&review.token, &review.audiences);
    Ok(json_response(
        StatusCode::CREATED,
        &review::answer(&review.spec, &outcome),
    ))
}

/// The fault's answer, if it takes over (`None`: answer normally). Reset and Hang never return.
async fn fault_answer(fault: Fault, reset: &Notify) -> Option<Answer> {
    match fault {
        Fault::None | Fault::Latency(_) => None,
        Fault::Status500 => Some(status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Internal error occurred: injected fault (tokenreview test server)",
        )),
        Fault::Reset => {
            reset.notify_one();
            std::future::pending::<Option<Answer>>().await
        }
        Fault::Hang => std::future::pending::<Option<Answer>>().await,
        Fault::MalformedBody => {
            let mut resp = Response::new(Full::new(Bytes::from_static(
                br#"{"kind":"SubjectAccessReview","apiVersion":"authorization.k8s.io/v1","status":{"allowed":tr"#,
            )));
            *resp.status_mut() = StatusCode::CREATED;
            resp.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            Some(resp)
        }
    }
}

/// A SubjectAccessReview that passed the caller check: counted, then the fault, then decided.
async fn subject_access_review(
    parts: &hyper::http::request::Parts,
    body: Option<Bytes>,
    shared: &Shared,
    fault: Fault,
    reset: &Notify,
) -> Answer {
    shared.sars.fetch_add(1, Ordering::SeqCst);
    let Some(body) = body else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "request body too large or unreadable",
        );
    };
    if let Some(spec) = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("spec").cloned())
    {
        let mut specs = lock(&shared.sar_specs);
        if specs.len() < 100_000 {
            specs.push(spec);
        }
    }
    if let Some(answer) = fault_answer(fault, reset).await {
        return answer;
    }
    if !is_json(parts) {
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json",
        );
    }
    let rules = lock(&shared.rbac).clone();
    match sar::review(&body, &rules) {
        Ok(v) => json_response(StatusCode::CREATED, &v),
        Err(message) => status(StatusCode::BAD_REQUEST, "BadRequest", &message),
    }
}
