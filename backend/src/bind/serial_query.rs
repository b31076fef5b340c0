//! The serial a server serves for a zone, asked over DNS (a SOA query over UDP, no recursion,
//! no TSIG: a secondary answers anyone, and need not know the API's key): what
//! `GET /zones/{name}/propagation` compares across the secondaries. `SerialQuery` is the seam;
//! `UdpSerialQuery` the real client, bounded by a time limit per try and a number of tries.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

use super::update::rcode_name;
use super::zone_name::ZoneName;

/// What a server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// An authoritative answer with the zone's SOA.
    Serial(u32),
    /// An answer without it: the rcode, or what the answer lacked.
    NotServed(String),
    /// No answer within the time limit, or none could be sent.
    NoAnswer(String),
}

pub type SerialReply<'a> = Pin<Box<dyn Future<Output = Served> + Send + 'a>>;

pub trait SerialQuery: Send + Sync + 'static {
    fn serial<'a>(&'a self, server: SocketAddr, zone: &'a ZoneName) -> SerialReply<'a>;
}

/// The real client: one UDP socket per query, `tries` sends of `timeout` each.
pub struct UdpSerialQuery {
    pub timeout: Duration,
    pub tries: u32,
}

impl Default for UdpSerialQuery {
    /// 1 s per try, 2 tries: a propagation answer never waits more than about 2 s.
    fn default() -> Self {
        UdpSerialQuery {
            timeout: Duration::from_secs(1),
            tries: 2,
        }
    }
}

impl SerialQuery for UdpSerialQuery {
    fn serial<'a>(&'a self, server: SocketAddr, zone: &'a ZoneName) -> SerialReply<'a> {
        Box::pin(async move {
            match self.ask(server, zone).await {
                Ok(served) => served,
                Err(why) => Served::NoAnswer(why),
            }
        })
    }
}

impl UdpSerialQuery {
    async fn ask(&self, server: SocketAddr, zone: &ZoneName) -> Result<Served, String> {
        let name = Name::from_ascii(format!("{zone}.")).map_err(|e| e.to_string())?;
        let id = super::update::rand_id();
        let mut query = Message::new(id, MessageType::Query, OpCode::Query);
        query.add_query(Query::query(name, RecordType::SOA));
        query.metadata.recursion_desired = false;
        let bytes = query.to_vec().map_err(|e| e.to_string())?;
        let bind = if server.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
        socket
            .connect(server)
            .await
            .map_err(|e| format!("{server}: {e}"))?;
        let mut buf = vec![0u8; 4096];
        for _ in 0..self.tries.max(1) {
            if let Err(e) = socket.send(&bytes).await {
                return Err(format!("{server}: {e}"));
            }
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                let received = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await;
                let len = match received {
                    Err(_) => break, // this try timed out
                    Ok(Err(e)) => return Err(format!("{server}: {e}")),
                    Ok(Ok(len)) => len,
                };
                // A stray datagram (another id, garbage) is ignored, not trusted.
                match Message::from_vec(&buf[..len]) {
                    Ok(answer) if answer.metadata.id == id => return Ok(read_serial(&answer)),
                    _ => continue,
                }
            }
        }
        Err(format!(
            "no answer from {server} within {} s ({} tries)",
            self.timeout.as_secs_f32(),
            self.tries.max(1)
        ))
    }
}

/// The serial of an authoritative SOA answer, or why there is none. These bytes come from the
/// network: nothing here trusts them beyond reading.
pub fn read_serial(answer: &Message) -> Served {
    if answer.metadata.response_code != ResponseCode::NoError {
        return Served::NotServed(rcode_name(answer.metadata.response_code));
    }
    if !answer.metadata.authoritative {
        return Served::NotServed("an answer that is not authoritative".into());
    }
    answer
        .answers
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some(Served::Serial(soa.serial)),
            _ => None,
        })
        .unwrap_or_else(|| Served::NotServed("no SOA in the answer".into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use hickory_proto::rr::rdata::SOA;
    use hickory_proto::rr::Record;

    fn answer(code: ResponseCode, authoritative: bool, serial: Option<u32>) -> Message {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.metadata.response_code = code;
        m.metadata.authoritative = authoritative;
        if let Some(serial) = serial {
            let name = Name::from_ascii("example.test.").unwrap();
            let soa = SOA::new(name.clone(), name.clone(), serial, 60, 10, 600, 0);
            m.add_answer(Record::from_rdata(name, 60, RData::SOA(soa)));
        }
        m
    }

    #[test]
    fn reads_an_authoritative_soa_and_nothing_else() {
        assert_eq!(
            read_serial(&answer(ResponseCode::NoError, true, Some(42))),
            Served::Serial(42)
        );
        assert_eq!(
            read_serial(&answer(ResponseCode::Refused, false, None)),
            Served::NotServed("REFUSED".into())
        );
        assert!(matches!(
            read_serial(&answer(ResponseCode::NoError, false, Some(42))),
            Served::NotServed(_)
        ));
        assert!(matches!(
            read_serial(&answer(ResponseCode::NoError, true, None)),
            Served::NotServed(_)
        ));
    }

    #[tokio::test]
    async fn a_silent_server_is_no_answer_within_the_bound() {
        // a socket that never answers
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let query = UdpSerialQuery {
            timeout: Duration::from_millis(100),
            tries: 2,
        };
        let started = std::time::Instant::now();
        let zone = ZoneName::parse("example.test").unwrap();
        let served = query.serial(silent.local_addr().unwrap(), &zone).await;
        assert!(matches!(served, Served::NoAnswer(_)), "{served:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
