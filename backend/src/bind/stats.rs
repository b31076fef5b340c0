//! named's statistics channel (`statistics-channels { inet 127.0.0.1 port N ...; };`): one
//! HTTP GET over loopback lists every zone (`/json/v1/zones`), and a tiny one
//! (`/json/v1/status`) says when named booted, so a restart is noticed without listing.
//! Bodies are read up to a fixed bound; only the fields used are parsed.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Deserialize;

use super::zone_name::ZoneName;

/// Largest body accepted: 10,000 zones take ~1.8 MB, so this allows ~500,000.
const MAX_BODY_BYTES: usize = 96 * 1024 * 1024;

/// What named's statistics channel says: when it booted (a new value means a restart) and,
/// for a listing, the zones of every view but `_bind` (names normalised as `ZoneName`s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub boot_time: String,
    pub zones: Option<BTreeSet<ZoneName>>,
}

pub type StatsReply<'a> = Pin<Box<dyn Future<Output = Result<StatsSnapshot, String>> + Send + 'a>>;

/// A source of named's statistics: the real channel, or a fake in tests.
pub trait Statistics: Send + Sync + 'static {
    /// `/json/v1/status`: boot time only (`zones` is `None`).
    fn status(&self) -> StatsReply<'_>;
    /// `/json/v1/zones`: boot time and every zone.
    fn zones(&self) -> StatsReply<'_>;
}

/// The statistics channel at `host:port`.
#[derive(Debug, Clone)]
pub struct StatsChannel {
    authority: String,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Document {
    #[serde(rename = "boot-time", default)]
    boot_time: String,
    #[serde(default)]
    views: std::collections::BTreeMap<String, View>,
}

#[derive(Deserialize)]
struct View {
    #[serde(default)]
    zones: Vec<Zone>,
}

#[derive(Deserialize)]
struct Zone {
    name: String,
}

impl StatsChannel {
    /// `url`: `http://127.0.0.1:8053` (a path, if any, is ignored; only plain HTTP).
    pub fn new(url: &str, timeout: Duration) -> Result<StatsChannel, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("BIND_STATS_URL {url:?}: only http://host:port is supported (named's statistics channel has no TLS)")
        })?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() || !authority.contains(':') {
            return Err(format!(
                "BIND_STATS_URL {url:?}: expected http://host:port, e.g. http://127.0.0.1:8053"
            ));
        }
        Ok(StatsChannel {
            authority: authority.to_string(),
            timeout,
        })
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// One GET, asked again once on a new connection if named closed the first one without
    /// an answer (seen right after an `addzone`, while named pauses its network work); the
    /// request only reads.
    async fn get(&self, path: &str) -> Result<Bytes, String> {
        let work = async {
            match self.get_once(path).await {
                Err(Fetch::Lost(_)) => self.get_once(path).await,
                other => other,
            }
            .map_err(|e| match e {
                Fetch::Lost(e) | Fetch::Failed(e) => e,
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| {
                format!(
                    "statistics channel {}: no answer within {} s",
                    self.authority,
                    self.timeout.as_secs()
                )
            })?
    }

    async fn get_once(&self, path: &str) -> Result<Bytes, Fetch> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| {
                Fetch::Failed(match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => format!(
                        "statistics channel {}: connection refused (is named running?)",
                        self.authority
                    ),
                    _ => format!("statistics channel {}: {e}", self.authority),
                })
            })?;
        let _ = stream.set_nodelay(true);
        let lost =
            |e: hyper::Error| Fetch::Lost(format!("statistics channel {}: {e}", self.authority));
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(lost)?;
        let driver = tokio::spawn(conn);
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, &self.authority)
            .body(Empty::<Bytes>::new())
            .map_err(|e| Fetch::Failed(e.to_string()))?;
        let response = sender.send_request(request).await.map_err(lost);
        let response = match response {
            Ok(response) => response,
            Err(e) => {
                driver.abort();
                return Err(e);
            }
        };
        if !response.status().is_success() {
            driver.abort();
            return Err(Fetch::Failed(format!(
                "statistics channel {}{path}: HTTP {} (is named built with JSON statistics?)",
                self.authority,
                response.status()
            )));
        }
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| {
                Fetch::Failed(format!("statistics channel {}{path}: {e}", self.authority))
            });
        driver.abort();
        Ok(body?.to_bytes())
    }
}

/// Why a GET failed: `Lost` (named closed the connection without an answer) is asked again.
enum Fetch {
    Lost(String),
    Failed(String),
}

/// Reads a statistics document; with `zones`, the zones of every view but named's own `_bind`.
pub fn parse(body: &[u8], zones: bool) -> Result<StatsSnapshot, String> {
    let doc: Document = serde_json::from_slice(body)
        .map_err(|e| format!("unexpected statistics channel answer: {e}"))?;
    let zones = zones.then(|| {
        doc.views
            .iter()
            .filter(|(view, _)| view.as_str() != "_bind")
            .flat_map(|(_, v)| v.zones.iter())
            // A name this API could not have created (root, odd characters) is skipped.
            .filter_map(|z| ZoneName::parse(&z.name).ok())
            .collect()
    });
    Ok(StatsSnapshot {
        boot_time: doc.boot_time,
        zones,
    })
}

impl Statistics for StatsChannel {
    fn status(&self) -> StatsReply<'_> {
        Box::pin(async move { parse(&self.get("/json/v1/status").await?, false) })
    }

    fn zones(&self) -> StatsReply<'_> {
        Box::pin(async move { parse(&self.get("/json/v1/zones").await?, true) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn reads_zones_of_every_view_but_bind() {
        let body = br#"{"json-stats-version":"1.7","boot-time":"2026-11-30T08:00:40.907Z",
          "views":{"_default":{"zones":[{"name":"Static.TEST","class":"IN","serial":1,"type":"primary"},
            {"name":"sec.test","class":"IN","serial":"-","type":"secondary"}]},
          "_bind":{"zones":[{"name":"version.bind","class":"CH","serial":0,"type":"builtin"}]}}}"#;
        let snap = parse(body, true).unwrap();
        assert_eq!(snap.boot_time, "2026-11-30T08:00:40.907Z");
        let names: Vec<_> = snap
            .zones
            .unwrap()
            .into_iter()
            .map(|z| z.to_string())
            .collect();
        assert_eq!(names, ["sec.test", "static.test"]);
        let status = parse(br#"{"boot-time":"x"}"#, false).unwrap();
        assert_eq!(status.zones, None);
        assert!(parse(b"<html>", true).is_err());
    }

    /// A server on loopback that reads each request and, per connection in turn, closes
    /// without an answer (`false`) or answers a status document (`true`).
    async fn server(script: Vec<bool>) -> (String, tokio::task::JoinHandle<usize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut served = 0;
            for answer in script {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                served += 1;
                if answer {
                    let body = r#"{"boot-time":"booted"}"#;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    conn.write_all(reply.as_bytes()).await.unwrap();
                }
            }
            served
        });
        (url, task)
    }

    #[tokio::test]
    async fn a_connection_closed_without_an_answer_is_asked_again_once() {
        let (url, task) = server(vec![false, true]).await;
        let channel = StatsChannel::new(&url, Duration::from_secs(2)).unwrap();
        assert_eq!(channel.status().await.unwrap().boot_time, "booted");
        assert_eq!(task.await.unwrap(), 2);
        // twice closed: the error, after two connections
        let (url, task) = server(vec![false, false]).await;
        let channel = StatsChannel::new(&url, Duration::from_secs(2)).unwrap();
        let error = channel.status().await.unwrap_err();
        assert!(
            error.starts_with("statistics channel 127.0.0.1:"),
            "{error}"
        );
        assert_eq!(task.await.unwrap(), 2);
    }

    #[test]
    fn url_must_be_plain_http_with_a_port() {
        assert_eq!(
            StatsChannel::new("http://127.0.0.1:8053/", Duration::from_secs(1))
                .unwrap()
                .authority(),
            "127.0.0.1:8053"
        );
        assert!(StatsChannel::new("https://127.0.0.1:8053", Duration::from_secs(1)).is_err());
        assert!(StatsChannel::new("http://127.0.0.1", Duration::from_secs(1)).is_err());
    }
}
