//! The fast local upstream of the filter-cost runs: hyper, HTTP/1.1 keep-alive, answers
//! every request `200 {"upstream":"ok"}` without looking at it. It runs on the runtime it
//! is spawned on and stops with it.

use std::convert::Infallible;

use anyhow::Result;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

const BODY: &[u8] = br#"{"upstream":"ok"}"#;

/// Starts listening on 127.0.0.1 (any free port) and returns the port.
pub fn start(rt: &Runtime) -> Result<u16> {
    let listener = rt.block_on(TcpListener::bind(("127.0.0.1", 0)))?;
    let port = listener.local_addr()?.port();
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            stream.set_nodelay(true).ok();
            tokio::spawn(async move {
                let service = service_fn(|_req: Request<Incoming>| async {
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(BODY)))
                            .unwrap_or_default(),
                    )
                });
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                    .ok();
            });
        }
    });
    Ok(port)
}
