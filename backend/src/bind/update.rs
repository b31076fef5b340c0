//! RFC 2136 UPDATEs and zone transfers (AXFR), TSIG-signed (RFC 8945), sent by this process
//! over TCP: no `nsupdate` process, no key file. `DnsChannel` is the seam (like
//! `ControlChannel`): the records operations run against `TsigDns` here and a fake in tests.
//! Messages are built and signed with hickory-proto; the TCP framing (a 2-byte length before
//! each message) is done here so each exchange has one deadline.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::dnssec::PublicKey as _;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::dnssec::Dnskey;
use super::now_secs;
use super::zone_name::ZoneName;

/// One change in the update section. Names are absolute (`www.example.test.`), `rdata` is
/// presentation text already checked by `check_rdata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Add {
        name: String,
        rtype: String,
        ttl: u32,
        rdata: String,
    },
    DeleteRr {
        name: String,
        rtype: String,
        rdata: String,
    },
    DeleteRrset {
        name: String,
        rtype: String,
    },
}

/// A prerequisite (RFC 2136 §2.4). Where named would silently skip a change (a CNAME beside
/// other data, RFC 2136 §3.4.2.2), a prerequisite makes it refuse the whole UPDATE instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prerequisite {
    /// An RRset of this name and type exists (value independent); else NXRRSET.
    RrsetExists { name: String, rtype: String },
    /// No RRset of this name and type exists; else YXRRSET.
    RrsetAbsent { name: String, rtype: String },
    /// The name owns no record at all; else YXDOMAIN.
    NameUnused { name: String },
    /// The RRset is exactly these values (value dependent; TTLs ignored); else NXRRSET.
    RrsetEquals {
        name: String,
        rtype: String,
        rdatas: Vec<String>,
    },
}

/// One UPDATE message: applied by named all or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub zone: ZoneName,
    pub prerequisites: Vec<Prerequisite>,
    pub changes: Vec<Change>,
}

/// One record of a zone transfer, in presentation form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecord {
    pub name: String,
    pub rtype: String,
    pub ttl: u32,
    pub value: String,
}

/// Why an update or transfer did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsFailure {
    /// named answered with this rcode (`REFUSED`, `NOTAUTH`, `NXRRSET`...); `tsig` is the TSIG
    /// error it reported (`BADKEY`, `BADSIG`, `BADTIME`), if any.
    Rcode { rcode: String, tsig: Option<String> },
    /// Cannot connect, or the connection broke before the message was written whole: nothing
    /// reached named.
    Unavailable(String),
    /// The message was written and the connection broke before its answer came back: named
    /// may have applied it.
    Lost(String),
    /// The message was written and no answer came within the time limit.
    Timeout(Duration),
    /// An answer that cannot be trusted or read (bad TSIG on it, garbage).
    Protocol(String),
    /// The records API has no usable key (see `config::update`).
    Disabled(String),
}

pub type DnsReply<'a, T> = Pin<Box<dyn Future<Output = Result<T, DnsFailure>> + Send + 'a>>;

pub trait DnsChannel: Send + Sync + 'static {
    /// The TSIG key name used, for error messages.
    fn key_name(&self) -> &str;
    fn update<'a>(&'a self, update: &'a Update) -> DnsReply<'a, ()>;
    fn transfer<'a>(&'a self, zone: &'a ZoneName) -> DnsReply<'a, Vec<ZoneRecord>>;
    /// The DNSKEY RRset named serves at the zone's apex (empty when it serves none).
    fn dnskeys<'a>(&'a self, zone: &'a ZoneName) -> DnsReply<'a, Vec<Dnskey>>;
}

/// named's name for an rcode (`NOERROR`, `REFUSED`, ...).
pub fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

fn parse_type(rtype: &str) -> Result<RecordType, String> {
    rtype
        .parse::<RecordType>()
        .map_err(|_| format!("unknown record type {rtype:?}"))
}

fn parse_name(name: &str) -> Result<Name, String> {
    Name::from_ascii(name).map_err(|e| format!("bad name {name:?}: {e}"))
}

/// Whether `rdata` is valid presentation data of `rtype` (what the UPDATE will carry).
pub fn check_rdata(rtype: &str, rdata: &str) -> Result<(), String> {
    RData::try_from_str(parse_type(rtype)?, rdata)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Whether two presentation values of `rtype` are the same record data (as named compares
/// them: `2001:db8::1` is `2001:DB8:0::1`, names compare without case). Values that do not
/// parse are compared as text.
pub fn same_rdata(rtype: &str, a: &str, b: &str) -> bool {
    let parse = |text: &str| {
        parse_type(rtype)
            .ok()
            .and_then(|t| RData::try_from_str(t, text).ok())
    };
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn record(name: &str, rtype: &str, ttl: u32, rdata: Option<&str>) -> Result<Record, String> {
    let name = parse_name(name)?;
    let rtype = parse_type(rtype)?;
    match rdata {
        Some(text) => {
            let data = RData::try_from_str(rtype, text).map_err(|e| e.to_string())?;
            Ok(Record::from_rdata(name, ttl, data))
        }
        None => Ok(Record::update0(name, 0, rtype)),
    }
}

/// The UPDATE message, unsigned.
pub fn build_update(update: &Update) -> Result<Message, String> {
    let mut message = Message::new(rand_id(), MessageType::Query, OpCode::Update);
    let mut zone = Query::query(parse_name(&fqdn(&update.zone))?, RecordType::SOA);
    zone.set_query_class(DNSClass::IN);
    message.add_zone(zone);
    for prerequisite in &update.prerequisites {
        match prerequisite {
            Prerequisite::RrsetExists { name, rtype } => {
                let mut rr = record(name, rtype, 0, None)?;
                rr.dns_class = DNSClass::ANY;
                message.add_pre_requisite(rr);
            }
            Prerequisite::RrsetAbsent { name, rtype } => {
                let mut rr = record(name, rtype, 0, None)?;
                rr.dns_class = DNSClass::NONE;
                message.add_pre_requisite(rr);
            }
            Prerequisite::NameUnused { name } => {
                let mut rr = record(name, "ANY", 0, None)?;
                rr.dns_class = DNSClass::NONE;
                message.add_pre_requisite(rr);
            }
            Prerequisite::RrsetEquals {
                name,
                rtype,
                rdatas,
            } => {
                for rdata in rdatas {
                    message.add_pre_requisite(record(name, rtype, 0, Some(rdata))?);
                }
            }
        }
    }
    for change in &update.changes {
        let rr = match change {
            Change::Add {
                name,
                rtype,
                ttl,
                rdata,
            } => record(name, rtype, *ttl, Some(rdata))?,
            Change::DeleteRr { name, rtype, rdata } => {
                let mut rr = record(name, rtype, 0, Some(rdata))?;
                rr.dns_class = DNSClass::NONE;
                rr
            }
            Change::DeleteRrset { name, rtype } => {
                let mut rr = record(name, rtype, 0, None)?;
                rr.dns_class = DNSClass::ANY;
                rr
            }
        };
        message.add_update(rr);
    }
    Ok(message)
}

fn fqdn(zone: &ZoneName) -> String {
    format!("{}.", zone.as_str())
}

pub(super) fn rand_id() -> u16 {
    // Not security relevant over TCP with TSIG; the clock's nanoseconds vary enough.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos ^ (nanos >> 16)) as u16
}

/// The real client: TCP to `server`, every message signed with the key.
pub struct TsigDns {
    server: String,
    key_name: String,
    signer: Result<TSigner, String>,
    timeout: Duration,
}

impl TsigDns {
    /// `key`: (algorithm as `hmac-sha256`, secret bytes), or why there is no usable key.
    pub fn new(
        server: &str,
        key_name: &str,
        key: Result<(&str, Vec<u8>), String>,
        timeout: Duration,
    ) -> Result<TsigDns, String> {
        let signer = match key {
            Err(why) => Err(why),
            Ok((algorithm, secret)) => {
                let algorithm = match algorithm {
                    "hmac-sha256" => TsigAlgorithm::HmacSha256,
                    "hmac-sha384" => TsigAlgorithm::HmacSha384,
                    "hmac-sha512" => TsigAlgorithm::HmacSha512,
                    other => return Err(format!("unsupported TSIG algorithm {other}")),
                };
                let name = parse_name(key_name)?;
                Ok(TSigner::new(secret, algorithm, name, 300)
                    .map_err(|e| format!("TSIG key {key_name}: {e}"))?)
            }
        };
        Ok(TsigDns {
            server: server.to_string(),
            key_name: key_name.to_string(),
            signer,
            timeout,
        })
    }

    async fn exchange(&self, mut message: Message, axfr: bool) -> Result<Vec<Message>, DnsFailure> {
        let signer = self
            .signer
            .as_ref()
            .map_err(|e| DnsFailure::Disabled(e.clone()))?;
        let verifier = message
            .finalize(signer, now_secs())
            .map_err(|e| DnsFailure::Protocol(format!("signing: {e}")))?;
        let bytes = message
            .to_vec()
            .map_err(|e| DnsFailure::Protocol(format!("encoding: {e}")))?;
        let written = std::sync::atomic::AtomicBool::new(false);
        let work = async {
            let mut stream = TcpStream::connect(&self.server)
                .await
                .map_err(|e| DnsFailure::Unavailable(format!("{}: {e}", self.server)))?;
            let _ = stream.set_nodelay(true);
            let length = u16::try_from(bytes.len())
                .map_err(|_| DnsFailure::Protocol("update larger than 64 KiB".into()))?;
            let mut framed = length.to_be_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            stream.write_all(&framed).await.map_err(|e| {
                DnsFailure::Unavailable(format!("connection to the DNS server broke: {e}"))
            })?;
            written.store(true, std::sync::atomic::Ordering::SeqCst);
            // an UPDATE only: a transfer changes nothing
            fail::fail_point!("update.after_send", !axfr, |_| Err(broken(
                std::io::Error::other("failpoint update.after_send")
            )));
            let mut verifier = verifier;
            let mut answers = Vec::new();
            let mut soas = 0usize;
            loop {
                let mut len = [0u8; 2];
                stream.read_exact(&mut len).await.map_err(broken)?;
                let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
                stream.read_exact(&mut buf).await.map_err(broken)?;
                let answer = read_answer(&buf)?;
                // A success counts only if signed by the server with our key.
                match verifier.as_mut() {
                    Some(v) if answer.signature().is_some() || answers.is_empty() => {
                        v.verify(&buf).map_err(|e| {
                            DnsFailure::Protocol(format!("answer's TSIG does not verify: {e}"))
                        })?;
                    }
                    _ => {}
                }
                soas += answer
                    .answers
                    .iter()
                    .filter(|r| r.record_type() == RecordType::SOA)
                    .count();
                answers.push(answer);
                if !axfr || soas >= 2 {
                    return Ok(answers);
                }
            }
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(answers) => answers,
            Err(_) if written.load(std::sync::atomic::Ordering::SeqCst) => {
                Err(DnsFailure::Timeout(self.timeout))
            }
            Err(_) => Err(DnsFailure::Unavailable(format!(
                "{}: cannot connect within {} s",
                self.server,
                self.timeout.as_secs()
            ))),
        }
    }
}

/// One answer from the DNS server (the bytes of one TCP frame): parsed, and a refusal turned
/// into its rcode (refusals such as BADKEY or BADSIG come unsigned, so they are reported as
/// they are). These bytes come from the network: the fuzz target `dns_answer` feeds it any.
pub fn read_answer(buf: &[u8]) -> Result<Message, DnsFailure> {
    let answer = Message::from_vec(buf)
        .map_err(|e| DnsFailure::Protocol(format!("unreadable answer: {e}")))?;
    if answer.metadata.response_code != ResponseCode::NoError {
        let tsig = answer.signature().and_then(|s| {
            s.data
                .error
                .as_ref()
                .map(|e| format!("{e:?}").to_uppercase())
        });
        return Err(DnsFailure::Rcode {
            rcode: rcode_name(answer.metadata.response_code),
            tsig,
        });
    }
    Ok(answer)
}

/// The records of a zone transfer's answers, as the API lists them (the closing SOA dropped).
pub fn zone_records(answers: &[Message]) -> Vec<ZoneRecord> {
    let mut records: Vec<ZoneRecord> = answers
        .iter()
        .flat_map(|m| m.answers.iter())
        .map(|r| ZoneRecord {
            name: r.name.to_string(),
            rtype: r.record_type().to_string(),
            ttl: r.ttl,
            value: presentation(&r.data),
        })
        .collect();
    // AXFR ends with the SOA it started with.
    if records.len() > 1 && records.last().is_some_and(|r| r.rtype == "SOA") {
        records.pop();
    }
    records
}

/// Record data as named presents it. hickory's CAA text drops nothing but escapes nothing
/// either (a `"` in a value would end it early), so CAA is written here as named writes it.
fn presentation(data: &RData) -> String {
    match data {
        RData::CAA(caa) => {
            let mut value = String::new();
            for &byte in &caa.value {
                match byte {
                    b'"' | b'\\' => {
                        value.push('\\');
                        value.push(char::from(byte));
                    }
                    0x20..=0x7e => value.push(char::from(byte)),
                    other => value.push_str(&format!("\\{other:03}")),
                }
            }
            format!("{} {} \"{value}\"", caa.flags(), caa.tag)
        }
        other => other.to_string(),
    }
}

/// The connection broke after the message was written.
fn broken(e: std::io::Error) -> DnsFailure {
    DnsFailure::Lost(format!(
        "the connection to the DNS server broke before its answer came: {e}"
    ))
}

impl DnsChannel for TsigDns {
    fn key_name(&self) -> &str {
        &self.key_name
    }

    fn update<'a>(&'a self, update: &'a Update) -> DnsReply<'a, ()> {
        Box::pin(async move {
            let message = build_update(update).map_err(DnsFailure::Protocol)?;
            self.exchange(message, false).await.map(|_| ())
        })
    }

    fn transfer<'a>(&'a self, zone: &'a ZoneName) -> DnsReply<'a, Vec<ZoneRecord>> {
        Box::pin(async move {
            let name = parse_name(&fqdn(zone)).map_err(DnsFailure::Protocol)?;
            let mut message = Message::new(rand_id(), MessageType::Query, OpCode::Query);
            message.add_query(Query::query(name, RecordType::AXFR));
            let answers = self.exchange(message, true).await?;
            Ok(zone_records(&answers))
        })
    }

    fn dnskeys<'a>(&'a self, zone: &'a ZoneName) -> DnsReply<'a, Vec<Dnskey>> {
        Box::pin(async move {
            let name = parse_name(&fqdn(zone)).map_err(DnsFailure::Protocol)?;
            let mut message = Message::new(rand_id(), MessageType::Query, OpCode::Query);
            message.add_query(Query::query(name, RecordType::DNSKEY));
            let answers = self.exchange(message, false).await?;
            Ok(dnskeys(&answers))
        })
    }
}

/// The DNSKEY records among the answers.
pub fn dnskeys(answers: &[Message]) -> Vec<Dnskey> {
    answers
        .iter()
        .flat_map(|m| m.answers.iter())
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some(Dnskey {
                flags: key.flags(),
                algorithm: u8::from(key.public_key().algorithm()),
                public_key: key.public_key().public_bytes().to_vec(),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn builds_an_update_with_prerequisites_deletes_and_adds() {
        let update = Update {
            zone: ZoneName::parse("example.test").unwrap(),
            prerequisites: vec![Prerequisite::RrsetExists {
                name: "www.example.test.".into(),
                rtype: "A".into(),
            }],
            changes: vec![
                Change::DeleteRrset {
                    name: "www.example.test.".into(),
                    rtype: "A".into(),
                },
                Change::Add {
                    name: "www.example.test.".into(),
                    rtype: "A".into(),
                    ttl: 60,
                    rdata: "192.0.2.1".into(),
                },
                Change::DeleteRr {
                    name: "example.test.".into(),
                    rtype: "TXT".into(),
                    rdata: "\"a b\"".into(),
                },
            ],
        };
        let message = build_update(&update).unwrap();
        assert_eq!(message.metadata.op_code, OpCode::Update);
        assert_eq!(message.queries[0].query_type(), RecordType::SOA);
        assert_eq!(message.answers[0].dns_class, DNSClass::ANY);
        let classes: Vec<_> = message.authorities.iter().map(|r| r.dns_class).collect();
        assert_eq!(classes, [DNSClass::ANY, DNSClass::IN, DNSClass::NONE]);
        assert_eq!(message.authorities[1].ttl, 60);
    }

    #[test]
    fn prerequisites_make_named_refuse_what_it_would_skip() {
        let name = "w.example.test.".to_string();
        let update = Update {
            zone: ZoneName::parse("example.test").unwrap(),
            prerequisites: vec![
                Prerequisite::RrsetAbsent {
                    name: name.clone(),
                    rtype: "CNAME".into(),
                },
                Prerequisite::NameUnused { name: name.clone() },
                Prerequisite::RrsetEquals {
                    name: "example.test.".into(),
                    rtype: "NS".into(),
                    rdatas: vec!["ns1.example.test.".into(), "ns2.example.test.".into()],
                },
            ],
            changes: vec![],
        };
        let message = build_update(&update).unwrap();
        let prereqs: Vec<_> = message
            .answers
            .iter()
            .map(|r| (r.dns_class, r.record_type(), r.ttl))
            .collect();
        assert_eq!(
            prereqs,
            [
                (DNSClass::NONE, RecordType::CNAME, 0),
                (DNSClass::NONE, RecordType::ANY, 0),
                (DNSClass::IN, RecordType::NS, 0),
                (DNSClass::IN, RecordType::NS, 0),
            ]
        );
    }

    #[test]
    fn same_rdata_compares_as_named_does() {
        assert!(same_rdata("AAAA", "2001:db8::1", "2001:DB8:0::1"));
        assert!(same_rdata("CNAME", "A.example.", "a.example."));
        assert!(same_rdata("MX", "10 mail.example.", "10 MAIL.example."));
        assert!(!same_rdata("MX", "10 mail.example.", "20 mail.example."));
        assert!(!same_rdata("TXT", "\"a b\"", "\"a\" \"b\""));
        assert!(!same_rdata("CAA", "0 issue \"a\"", "0 issue \"b\""));
    }

    #[test]
    fn caa_is_presented_as_named_presents_it() {
        let caa = |value: &[u8]| {
            let mut data = RData::try_from_str(RecordType::CAA, "0 issue \"x\"").unwrap();
            if let RData::CAA(c) = &mut data {
                c.value = value.to_vec();
            }
            presentation(&data)
        };
        assert_eq!(caa(b"letsencrypt.org"), "0 issue \"letsencrypt.org\"");
        assert_eq!(caa(b"a\"b\\c"), "0 issue \"a\\\"b\\\\c\"");
        assert_eq!(caa(b"\xc3\xa9"), "0 issue \"\\195\\169\"");
        let tbs = RData::try_from_str(RecordType::CAA, "128 tbs \"Unknown\"").unwrap();
        assert_eq!(presentation(&tbs), "128 tbs \"Unknown\"");
    }

    #[test]
    fn checks_rdata_like_the_wire_encoder() {
        assert!(check_rdata("A", "192.0.2.1").is_ok());
        assert!(check_rdata("MX", "10 mail.example.test.").is_ok());
        assert!(check_rdata("CAA", "0 issue \"letsencrypt.org\"").is_ok());
        assert!(check_rdata("A", "nope").is_err());
        assert_eq!(rcode_name(ResponseCode::NXRRSet), "NXRRSET");
    }
}
