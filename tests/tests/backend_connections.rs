//! The backend's connection hygiene against the real binary, standalone (no mesh in front):
//! slow heads, slow bodies and idle keep-alives are closed; bodies over the limit are 413;
//! the per-client and total connection caps; and a 20,000-connection slowloris from many
//! loopback addresses during which `/api/v1/health` keeps answering and the process stays
//! within its descriptor budget. No named is needed: everything here is answered before a
//! handler would talk to it.
//!
//! Attackers bind source addresses in 127.0.0.0/8 (Linux routes the whole block to `lo`), so
//! each has its own per-client cap and its own ephemeral ports; the health checks come from
//! 127.0.0.1. Every wait is bounded: a connection the server should close but does not fails
//! the test after a generous bound, it does not hang it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bindcar_testbed::backend::Backend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{sleep, timeout, Instant};

/// Enough to get past configuration; no named is contacted at startup.
fn backend(zone_dir: &Path, extra: &[(&str, &str)]) -> Backend {
    let mut env = vec![
        ("BIND_ZONE_DIR".to_string(), zone_dir.display().to_string()),
        ("RNDC_SERVER".to_string(), "127.0.0.1:1".to_string()),
        (
            "RNDC_SECRET".to_string(),
            "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0".to_string(),
        ),
        ("DISABLE_AUTH".to_string(), "true".to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Backend::start(env)
}

fn server(backend: &Backend) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, backend.port()))
}

/// A connection from `source` (any 127.x.y.z).
async fn connect_from(source: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    socket.connect(to).await
}

/// Reads until the server closes the connection: what it sent, or `None` if it was still
/// open after `bound`.
async fn until_closed(stream: &mut TcpStream, bound: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let outcome = timeout(bound, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    outcome.ok().map(|()| received)
}

/// One complete response on a kept-alive connection: its status and body.
async fn read_response<R: AsyncRead + Unpin>(stream: &mut R) -> (u16, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
                return (status, body[..length].to_string());
            }
        }
        let n = timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("a response within 10 s")
            .expect("read");
        assert!(n > 0, "closed before a whole response: {text:?}");
        data.extend_from_slice(&buf[..n]);
    }
}

async fn health(to: SocketAddr) -> Result<u16, String> {
    let check = async {
        let mut stream = TcpStream::connect(to).await.map_err(|e| e.to_string())?;
        stream
            .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: bindcar\r\nConnection: close\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&response);
        text.get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status in {text:?}"))
    };
    // A liveness bound, not a latency figure: the original failure was 45 s without answer.
    timeout(Duration::from_secs(10), check)
        .await
        .unwrap_or_else(|_| Err("no answer within 10 s".into()))
}

async fn metrics(to: SocketAddr) -> String {
    let mut stream = TcpStream::connect(to).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: bindcar\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = Vec::new();
    timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("metrics within 10 s")
        .expect("read");
    String::from_utf8_lossy(&response).to_string()
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

fn closed(reason: &str) -> String {
    format!("bindcar_http_connections_closed_total{{reason=\"{reason}\"}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_slow_bodies_and_idle_connections_are_closed_and_big_bodies_are_413() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = backend(
        dir.path(),
        &[
            ("BIND_API_HEADER_TIMEOUT_SECS", "2"),
            ("BIND_API_BODY_TIMEOUT_SECS", "2"),
            ("BIND_API_IDLE_TIMEOUT_SECS", "3"),
        ],
    );
    let to = server(&backend);
    let bound = Duration::from_secs(20);

    // A silent connection, and one that sends a header line every half second (slowloris):
    // both closed, without a response
    let mut silent = TcpStream::connect(to).await.expect("connect");
    let mut slow = TcpStream::connect(to).await.expect("connect");
    slow.write_all(b"GET /api/v1/health HTTP/1.1\r\n")
        .await
        .expect("write");
    let dripping = async {
        let start = Instant::now();
        let mut buf = [0u8; 256];
        loop {
            tokio::select! {
                read = slow.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return Some(start.elapsed()),
                    Ok(_) => panic!("the slow head got an answer"),
                },
                () = sleep(Duration::from_millis(500)) => {
                    if slow.write_all(b"X-Slow: 1\r\n").await.is_err() {
                        return Some(start.elapsed());
                    }
                    if start.elapsed() > bound {
                        return None;
                    }
                }
            }
        }
    };
    let (silent_end, slow_end) = tokio::join!(until_closed(&mut silent, bound), dripping);
    assert_eq!(
        silent_end,
        Some(Vec::new()),
        "the silent connection was not closed"
    );
    assert!(slow_end.is_some(), "the slowloris connection was kept open");

    // A slow body: 408 with the variable's name, then closed
    let mut body = TcpStream::connect(to).await.expect("connect");
    body.write_all(
        b"POST /api/v1/zones HTTP/1.1\r\nHost: bindcar\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{",
    )
    .await
    .expect("write");
    let (mut reader, mut writer) = body.split();
    let drip = async {
        for _ in 0..40 {
            sleep(Duration::from_millis(500)).await;
            if writer.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let ((), (status, text)) = tokio::join!(drip, read_response(&mut reader));
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("BIND_API_BODY_TIMEOUT_SECS"), "{text}");

    // Keep-alive works within the idle timeout; an idle connection is then closed
    let mut kept = TcpStream::connect(to).await.expect("connect");
    for _ in 0..2 {
        kept.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: bindcar\r\n\r\n")
            .await
            .expect("write");
        assert_eq!(read_response(&mut kept).await.0, 200);
        sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(
        until_closed(&mut kept, bound).await,
        Some(Vec::new()),
        "the idle connection was not closed"
    );

    // Bodies over the limit: 413 (declared length, chunked, and the records API's 64 KiB)
    for (path, head) in [
        ("/api/v1/zones", "Content-Length: 10485760\r\n"),
        ("/api/v1/zones", "Transfer-Encoding: chunked\r\n"),
        (
            "/api/v1/zones/big.test/records",
            "Content-Length: 102400\r\n",
        ),
    ] {
        let mut stream = TcpStream::connect(to).await.expect("connect");
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: bindcar\r\nContent-Type: application/json\r\n{head}\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let chunked = head.contains("chunked");
        let (mut reader, mut writer) = stream.split();
        let send = async {
            let block = vec![b' '; 64 * 1024];
            let total = if path.ends_with("records") {
                100 * 1024
            } else {
                10 << 20
            };
            let mut sent = 0;
            while sent < total {
                let n = block.len().min(total - sent);
                let ok = if chunked {
                    let mut chunk = format!("{n:x}\r\n").into_bytes();
                    chunk.extend_from_slice(&block[..n]);
                    chunk.extend_from_slice(b"\r\n");
                    writer.write_all(&chunk).await
                } else {
                    writer.write_all(&block[..n]).await
                };
                if ok.is_err() {
                    break; // the server answered and closed: no need to send the rest
                }
                sent += n;
            }
        };
        let ((), (status, text)) = tokio::join!(send, read_response(&mut reader));
        assert_eq!(status, 413, "{path} {head}: {text}");
        assert!(text.contains("Payload too large"), "{text}");
    }

    let text = metrics(to).await;
    assert!(metric(&text, &closed("header_timeout")) >= 2, "{text}");
    assert!(metric(&text, &closed("idle_timeout")) >= 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_at_its_cap_is_refused_and_a_full_server_sheds_the_longest_waiting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = backend(
        dir.path(),
        &[
            ("BIND_API_MAX_CONNECTIONS", "20"),
            ("BIND_API_MAX_CONNECTIONS_PER_CLIENT", "5"),
            ("BIND_API_HEADER_TIMEOUT_SECS", "600"),
        ],
    );
    let to = server(&backend);
    let address = |last: u8| Ipv4Addr::new(127, 0, 0, last);

    // Five silent connections from one address are kept; its sixth is told why and closed
    let mut first_client = Vec::new();
    for _ in 0..5 {
        first_client.push(connect_from(address(2), to).await.expect("connect"));
        // accept order is connect order; a moment between them keeps their ages apart
        sleep(Duration::from_millis(20)).await;
    }
    let mut sixth = connect_from(address(2), to).await.expect("connect");
    let refused = until_closed(&mut sixth, Duration::from_secs(20))
        .await
        .expect("the sixth connection was kept open");
    let text = String::from_utf8_lossy(&refused);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("Too many connections"), "{text}");

    // Three more clients fill the server to its cap of 20 with silent connections
    let mut others = Vec::new();
    for last in 3..=5 {
        for _ in 0..5 {
            others.push(connect_from(address(last), to).await.expect("connect"));
        }
    }
    sleep(Duration::from_millis(200)).await;
    // A health check still gets in: the longest-waiting connection (the first one) makes room
    assert_eq!(health(to).await, Ok(200));
    assert_eq!(
        until_closed(&mut first_client[0], Duration::from_secs(20)).await,
        Some(Vec::new()),
        "the oldest silent connection was not shed"
    );
    let mut probe = [0u8; 1];
    assert!(
        timeout(Duration::from_millis(300), first_client[1].read(&mut probe))
            .await
            .is_err(),
        "the second oldest was closed too"
    );

    // One place was taken (the health check's, free again since it closed): 19 waiting
    // connections and this metrics request are open
    let text = metrics(to).await;
    assert_eq!(metric(&text, &closed("evicted")), 1, "{text}");
    assert_eq!(metric(&text, &closed("refused_client_limit")), 1, "{text}");
    assert_eq!(metric(&text, "bindcar_http_connections_open"), 20, "{text}");
    drop(others);
}

/// Raises this process's soft descriptor limit to the hard one (the attack below keeps up to
/// `HELD` sockets open at once).
fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[derive(Default)]
struct Attack {
    /// Connections the server answered with its 503 and closed.
    refused: AtomicUsize,
    /// Connections the server closed without a word (timed out or shed).
    dropped: AtomicUsize,
    /// Connections that could not be made at all.
    connect_failed: AtomicUsize,
    /// Connections the attack was still holding when told to stop.
    held_at_stop: AtomicUsize,
}

/// One slowloris connection: a request line, then a header line every two seconds, until the
/// server closes it or the attack stops.
async fn slow_client(
    source: Ipv4Addr,
    to: SocketAddr,
    stop: Arc<AtomicBool>,
    attack: Arc<Attack>,
    connecting: tokio::sync::OwnedSemaphorePermit,
) {
    let connected = connect_from(source, to).await;
    drop(connecting);
    let Ok(mut stream) = connected else {
        attack.connect_failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let mut buf = [0u8; 512];
    if stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: bindcar\r\n")
        .await
        .is_ok()
    {
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => {
                    match read {
                        Ok(n) if n > 0 && buf[..n].starts_with(b"HTTP/1.1 503") => {
                            attack.refused.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            attack.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    return;
                }
                () = sleep(Duration::from_secs(2)) => {
                    if stop.load(Ordering::Relaxed) {
                        attack.held_at_stop.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                        attack.dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }
    }
    attack.dropped.fetch_add(1, Ordering::Relaxed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_answered_through_a_20000_connection_slowloris() {
    const CONNECTIONS: usize = 20_000;
    /// Sockets the attack holds at most at once (below this process's descriptor limit).
    const HELD: usize = 6_000;
    const CONNECTING: usize = 128;
    let fd_limit = raise_fd_limit();
    assert!(
        fd_limit >= HELD as u64 + 1_000,
        "this test needs {} descriptors, the hard limit is {fd_limit}",
        HELD + 1_000
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // Standalone (a shared secret, not DISABLE_AUTH) with the default caps (1024
    // connections, 256 per client) and a short header timeout to see it act
    let backend = backend(
        dir.path(),
        &[
            ("DISABLE_AUTH", "false"),
            ("BIND_API_TOKEN", "s3cret"),
            ("BIND_API_HEADER_TIMEOUT_SECS", "3"),
        ],
    );
    let to = server(&backend);
    let pid = backend.pid().expect("bindcar runs");
    let budget = 1024 * 2 + 256;

    let stop = Arc::new(AtomicBool::new(false));
    let attack = Arc::new(Attack::default());
    let peak_fds = Arc::new(AtomicU64::new(0));
    let sampler = tokio::spawn({
        let (stop, peak) = (stop.clone(), peak_fds.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(open_fds(pid) as u64, Ordering::Relaxed);
                sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let checker = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                answers.push(health(to).await);
                sleep(Duration::from_millis(100)).await;
            }
            answers
        }
    });

    // One address opens 5,000 (its cap is 256), then 30 addresses 500 each (together far
    // over the total cap of 1024)
    let sources: Vec<Ipv4Addr> = std::iter::repeat_n(Ipv4Addr::new(127, 0, 0, 2), 5_000)
        .chain((0..15_000).map(|i| Ipv4Addr::new(127, 0, 1, (i % 30) as u8 + 1)))
        .collect();
    assert_eq!(sources.len(), CONNECTIONS);
    let slots = Arc::new(tokio::sync::Semaphore::new(HELD));
    // Connects in flight: more would only overflow the listen queue (SYNs dropped, retried
    // after 1 s, 3 s, ...), which slows the attack rather than the server
    let connecting = Arc::new(tokio::sync::Semaphore::new(CONNECTING));
    let mut clients = Vec::with_capacity(CONNECTIONS);
    let started = Instant::now();
    for source in sources {
        let permit = slots.clone().acquire_owned().await.expect("semaphore");
        let (stop, attack) = (stop.clone(), attack.clone());
        let connect_permit = connecting.clone().acquire_owned().await.expect("semaphore");
        clients.push(tokio::spawn(async move {
            slow_client(source, to, stop, attack, connect_permit).await;
            drop(permit);
        }));
    }
    let opened_in = started.elapsed();
    // Every connection ends by the server's doing (refused, shed, timed out): wait for them,
    // bounded
    let all_ended = timeout(Duration::from_secs(120), async {
        for client in clients.iter_mut() {
            let _ = client.await;
        }
    })
    .await
    .is_ok();
    stop.store(true, Ordering::Relaxed);
    let answers = checker.await.expect("checker");
    sampler.await.expect("sampler");
    let peak = peak_fds.load(Ordering::Relaxed);
    let (refused, dropped, failed, held) = (
        attack.refused.load(Ordering::Relaxed),
        attack.dropped.load(Ordering::Relaxed),
        attack.connect_failed.load(Ordering::Relaxed),
        attack.held_at_stop.load(Ordering::Relaxed),
    );
    println!(
        "slowloris: {CONNECTIONS} connections opened in {opened_in:?}; refused {refused}, closed \
         by the server {dropped}, connect failed {failed}; bindcar peak descriptors {peak}; \
         health checks {}",
        answers.len()
    );
    assert!(
        all_ended,
        "connections still open after 120 s: the server keeps slow clients"
    );
    assert_eq!(held, 0);
    assert_eq!(failed, 0, "connections could not even be made");
    assert_eq!(refused + dropped, CONNECTIONS);
    let failures: Vec<_> = answers.iter().filter(|a| **a != Ok(200)).collect();
    assert!(
        failures.is_empty(),
        "health failed during the attack: {failures:?}"
    );
    assert!(
        answers.len() >= 20,
        "only {} health checks ran",
        answers.len()
    );
    assert!(
        peak <= budget,
        "bindcar held {peak} descriptors, over its budget of {budget}"
    );
    assert!(!backend.logs().contains("Too many open files"));

    let text = metrics(to).await;
    for reason in ["refused_client_limit", "evicted", "header_timeout"] {
        assert!(metric(&text, &closed(reason)) > 0, "no {reason}: {text}");
    }
}
