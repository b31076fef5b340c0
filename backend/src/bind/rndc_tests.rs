//! The pool against a small fake named on loopback that speaks the wire format (signed answers,
//! one nonce per connection) and can misbehave on cue: reuse, the bound, reconnection, and the
//! retry rule (a read is sent again, a change never). The real named is in tests/.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use super::*;
use crate::bind::isccc;
use crate::bind::ZoneName;

const SECRET: &str = "RLBAV4hXkffW9ccefFFaLqLpOJwUspg/guqxbx2+pQg=";

/// What the fake named does with a command (by its first word).
#[derive(Clone, Copy, PartialEq)]
enum Cue {
    Answer,
    /// Answer, then close the connection (as named does when idle 30 s, or restarting).
    AnswerThenClose,
    /// Read the command, then close without answering.
    Vanish,
}

#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    open: AtomicUsize,
    max_open: AtomicUsize,
    commands: Mutex<Vec<String>>,
    cues: Mutex<Vec<(String, Cue)>>,
}

impl Seen {
    async fn cue(&self, word: &str, cue: Cue) {
        self.cues.lock().await.push((word.to_string(), cue));
    }
    /// The first cue for this word, used once.
    async fn take_cue(&self, line: &str) -> Cue {
        let mut cues = self.cues.lock().await;
        let word = line.split(' ').next().unwrap_or_default();
        match cues.iter().position(|(w, _)| w == word) {
            Some(i) => cues.remove(i).1,
            None => Cue::Answer,
        }
    }
    async fn sent(&self, word: &str) -> usize {
        let commands = self.commands.lock().await;
        commands.iter().filter(|c| c.starts_with(word)).count()
    }
}

async fn fake_named() -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Seen::default());
    let state = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = state.clone();
            seen.connections.fetch_add(1, Ordering::SeqCst);
            let open = seen.open.fetch_add(1, Ordering::SeqCst) + 1;
            seen.max_open.fetch_max(open, Ordering::SeqCst);
            tokio::spawn(async move {
                serve(stream, &seen).await;
                seen.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (address, seen)
}

async fn serve(mut stream: TcpStream, seen: &Seen) {
    let key = isccc::Key::new("hmac-sha256", SECRET).unwrap();
    let nonce = b"4242";
    loop {
        let mut prefix = [0u8; 4];
        if stream.read_exact(&mut prefix).await.is_err() {
            return;
        }
        let mut message = vec![0u8; isccc::message_len(prefix).unwrap()];
        stream.read_exact(&mut message).await.unwrap();
        // named closes the connection on a message not signed with its key.
        let Ok(request) = isccc::decode_reply(&key, &message) else {
            return;
        };
        let line = request.command.unwrap();
        if line != "null" {
            assert_eq!(request.nonce.as_deref(), Some(&nonce[..]), "{line}");
            seen.commands.lock().await.push(line.clone());
        }
        let cue = seen.take_cue(&line).await;
        if cue == Cue::Vanish {
            return;
        }
        let answer = isccc::encode_answer(
            &key,
            &request.serial.unwrap(),
            nonce,
            &line,
            &format!("done: {line}"),
        );
        stream.write_all(&answer).await.unwrap();
        if cue == Cue::AnswerThenClose {
            return;
        }
    }
}

fn client(address: &str) -> Rndc {
    Rndc::new(
        address,
        "hmac-sha256",
        SECRET,
        Duration::from_secs(5),
        Metrics::new().unwrap(),
    )
    .unwrap()
}

fn zone(name: &str) -> ZoneName {
    ZoneName::parse(name).unwrap()
}

#[tokio::test]
async fn sequential_commands_share_one_connection() {
    let (address, seen) = fake_named().await;
    let rndc = client(&address);
    for i in 0..50 {
        let text = rndc
            .run_metered(&RndcCommand::ZoneStatus(zone(&format!("z{i}.test"))))
            .await
            .unwrap();
        assert_eq!(text, format!("done: zonestatus z{i}.test"));
    }
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    let metrics = rndc.inner.metrics.render().unwrap();
    assert!(
        metrics.contains("bindcar_rndc_connections_opened_total 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_never_open_more_than_the_bound() {
    let (address, seen) = fake_named().await;
    let rndc = client(&address);
    for _round in 0..3 {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64 {
            let rndc = rndc.clone();
            tasks.spawn(async move {
                rndc.run_metered(&RndcCommand::ShowZone(zone(&format!("c{i}.test"))))
                    .await
            });
        }
        while let Some(done) = tasks.join_next().await {
            assert!(done.unwrap().is_ok());
        }
    }
    assert!(seen.max_open.load(Ordering::SeqCst) <= MAX_IN_FLIGHT);
    assert!(seen.connections.load(Ordering::SeqCst) <= MAX_IN_FLIGHT);
    assert_eq!(seen.sent("showzone").await, 192);
}

#[tokio::test]
async fn a_connection_named_closed_is_replaced_without_resending_anything() {
    let (address, seen) = fake_named().await;
    let rndc = client(&address);
    seen.cue("status", Cue::AnswerThenClose).await;
    rndc.run_metered(&RndcCommand::Status).await.unwrap();
    // Let the FIN arrive: the idle connection is then seen closed before any write.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let block = "{ type primary; file \"/z/a.test.zone\"; };".to_string();
    rndc.run_metered(&RndcCommand::AddZone(zone("a.test"), block))
        .await
        .unwrap();
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
    assert_eq!(seen.sent("addzone").await, 1);
}

#[tokio::test]
async fn a_lost_answer_to_a_read_is_asked_again_on_a_new_connection() {
    let (address, seen) = fake_named().await;
    let rndc = client(&address);
    rndc.run_metered(&RndcCommand::Status).await.unwrap();
    seen.cue("showzone", Cue::Vanish).await;
    let text = rndc
        .run_metered(&RndcCommand::ShowZone(zone("r.test")))
        .await
        .unwrap();
    assert_eq!(text, "done: showzone r.test");
    assert_eq!(seen.sent("showzone").await, 2);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_lost_answer_to_a_change_is_never_sent_again() {
    let (address, seen) = fake_named().await;
    let rndc = client(&address);
    rndc.run_metered(&RndcCommand::Status).await.unwrap();
    seen.cue("delzone", Cue::Vanish).await;
    let failure = rndc
        .run_metered(&RndcCommand::DelZone(zone("d.test")))
        .await
        .unwrap_err();
    // sent, answer lost: named may have deleted the zone, so the outcome is unknown
    assert_eq!(
        failure,
        RndcFailure::Lost("named closed the control connection (named restarting, or the rndc key/algorithm does not match named's controls key)".into())
    );
    assert!(failure.outcome_unknown());
    assert_eq!(seen.sent("delzone").await, 1);
    // and the next command works on a new connection
    rndc.run_metered(&RndcCommand::Status).await.unwrap();
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn named_down_is_unavailable_and_a_wrong_key_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let failure = client(&address)
        .run_metered(&RndcCommand::Status)
        .await
        .unwrap_err();
    assert_eq!(
        failure,
        RndcFailure::Unavailable("connection refused (is named running?)".into())
    );

    let (address, _seen) = fake_named().await;
    let wrong = Rndc::new(
        &address,
        "hmac-sha256",
        "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=",
        Duration::from_secs(5),
        Metrics::new().unwrap(),
    )
    .unwrap();
    let failure = wrong.run_metered(&RndcCommand::Status).await.unwrap_err();
    match failure {
        RndcFailure::Unavailable(why) => assert!(why.contains("rndc key"), "{why}"),
        other => panic!("{other:?}"),
    }
}
