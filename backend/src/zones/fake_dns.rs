//! A scripted DNS server for in-process tests: records every UPDATE it is handed (so a test can
//! prove a bad request sent nothing) and answers with the next scripted outcome (default: OK).

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::bind::dnssec::Dnskey;
use crate::bind::update::{DnsChannel, DnsFailure, DnsReply, Update, ZoneRecord};
use crate::bind::ZoneName;

pub struct FakeDns {
    pub sent: Mutex<Vec<Update>>,
    pub answers: Mutex<VecDeque<Result<(), DnsFailure>>>,
    pub zone: Mutex<Vec<ZoneRecord>>,
    /// The DNSKEY RRset served, or why it cannot be read.
    pub keys: Mutex<Result<Vec<Dnskey>, DnsFailure>>,
}

/// A KSK as named 9.18 serves it (`dig DNSKEY`; `bind::dnssec`'s tests check its DS against
/// `dnssec-dsfromkey`), for a fake DNS server to serve.
pub fn ksk() -> Dnskey {
    use base64::Engine;
    Dnskey {
        flags: 257,
        algorithm: 13,
        public_key: base64::engine::general_purpose::STANDARD
            .decode("2h9w32ZWn2+FDrRvaERNoHuTKFy1Z4AwNXxNRZA5Eed1vBKb8GGfvu+E7KDNYZd1hO8RnccnMw+RtKbiMZVOwA==")
            .unwrap(),
    }
}

impl Default for FakeDns {
    fn default() -> FakeDns {
        FakeDns {
            sent: Mutex::default(),
            answers: Mutex::default(),
            zone: Mutex::default(),
            keys: Mutex::new(Ok(Vec::new())),
        }
    }
}

impl FakeDns {
    pub fn serve_keys(&self, keys: Result<Vec<Dnskey>, DnsFailure>) {
        if let Ok(mut k) = self.keys.lock() {
            *k = keys;
        }
    }

    pub fn sent(&self) -> Vec<Update> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn answer_next(&self, answer: Result<(), DnsFailure>) {
        if let Ok(mut a) = self.answers.lock() {
            a.push_back(answer);
        }
    }
}

impl DnsChannel for FakeDns {
    fn key_name(&self) -> &str {
        "test-key"
    }

    fn update<'a>(&'a self, update: &'a Update) -> DnsReply<'a, ()> {
        Box::pin(async move {
            if let Ok(mut sent) = self.sent.lock() {
                sent.push(update.clone());
            }
            self.answers
                .lock()
                .ok()
                .and_then(|mut a| a.pop_front())
                .unwrap_or(Ok(()))
        })
    }

    fn transfer<'a>(&'a self, _zone: &'a ZoneName) -> DnsReply<'a, Vec<ZoneRecord>> {
        Box::pin(async move { Ok(self.zone.lock().map(|z| z.clone()).unwrap_or_default()) })
    }

    fn dnskeys<'a>(&'a self, _zone: &'a ZoneName) -> DnsReply<'a, Vec<Dnskey>> {
        Box::pin(async move {
            self.keys
                .lock()
                .map(|k| k.clone())
                .unwrap_or_else(|_| Ok(Vec::new()))
        })
    }
}

/// Scripted serial answers per server (by port), for `/propagation`: unscripted servers do
/// not answer.
#[derive(Default)]
pub struct FakeSerials {
    pub answers: Mutex<std::collections::HashMap<u16, crate::bind::serial_query::Served>>,
    pub asked: Mutex<Vec<std::net::SocketAddr>>,
}

impl FakeSerials {
    pub fn serve(&self, port: u16, served: crate::bind::serial_query::Served) {
        if let Ok(mut a) = self.answers.lock() {
            a.insert(port, served);
        }
    }
}

impl crate::bind::serial_query::SerialQuery for FakeSerials {
    fn serial<'a>(
        &'a self,
        server: std::net::SocketAddr,
        _zone: &'a ZoneName,
    ) -> crate::bind::serial_query::SerialReply<'a> {
        Box::pin(async move {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push(server);
            }
            self.answers
                .lock()
                .ok()
                .and_then(|a| a.get(&server.port()).cloned())
                .unwrap_or_else(|| {
                    crate::bind::serial_query::Served::NoAnswer(format!("no answer from {server}"))
                })
        })
    }
}
