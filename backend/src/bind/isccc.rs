//! The control channel's wire format (ISCCC, what `rndc` speaks to named), written from the
//! protocol as named 9.18 answers it. A message is `u32 length | u32 version (1) | table`,
//! where the table is a run of `u8 key length | key | u8 type | u32 length | value`
//! (type 0/1 bytes, 2 table, 3 list). The first field is `_auth { hsha: signature }`: HMAC of
//! every byte after it (the `_ctrl` and `_data` fields), keyed by the controls key. Requests carry
//! `_ctrl { _ser, _tim, _exp, _nonce }` and `_data { type: command line }`; named answers with
//! `_data { result, err, text }` and the connection's `_nonce`.
//!
//! Pure: no I/O, so every malformed input is a unit test (an error, never a panic).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};

/// Largest message accepted from named (after the length prefix), as rndc's own limit.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// Nesting of tables and lists accepted in a reply (named uses 2).
const MAX_DEPTH: usize = 16;
/// How long a request stays valid for named (`_exp`), as rndc sends it.
const VALIDITY_SECS: u64 = 60;

const TYPE_STRING: u8 = 0;
const TYPE_BINARY: u8 = 1;
const TYPE_TABLE: u8 = 2;
const TYPE_LIST: u8 = 3;
/// The signature field of the SHA-2 algorithms: one algorithm byte, then the base64 digest
/// padded with zero bytes to 88.
const SIGNATURE_LEN: usize = 89;

/// The HMAC of the controls key (MD5 and SHA-1 are refused by configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    /// `hmac-sha256` or `sha256`, in any case.
    pub fn parse(name: &str) -> Result<Algorithm, String> {
        let lower = name.trim().to_ascii_lowercase();
        match lower.strip_prefix("hmac-").unwrap_or(&lower) {
            "sha224" => Ok(Algorithm::Sha224),
            "sha256" => Ok(Algorithm::Sha256),
            "sha384" => Ok(Algorithm::Sha384),
            "sha512" => Ok(Algorithm::Sha512),
            _ => Err(format!(
                "unsupported control-channel algorithm {name}: expected hmac-sha224/256/384/512"
            )),
        }
    }

    /// ISCCC's algorithm number, the first byte of the signature.
    fn id(self) -> u8 {
        match self {
            Algorithm::Sha224 => 162,
            Algorithm::Sha256 => 163,
            Algorithm::Sha384 => 164,
            Algorithm::Sha512 => 165,
        }
    }

    fn digest(self, secret: &[u8], data: &[u8]) -> Vec<u8> {
        fn run<M: Mac + KeyInit>(secret: &[u8], data: &[u8]) -> Vec<u8> {
            // HMAC takes keys of any length: new_from_slice cannot fail for it.
            match <M as KeyInit>::new_from_slice(secret) {
                Ok(mut mac) => {
                    mac.update(data);
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self {
            Algorithm::Sha224 => run::<Hmac<sha2::Sha224>>(secret, data),
            Algorithm::Sha256 => run::<Hmac<sha2::Sha256>>(secret, data),
            Algorithm::Sha384 => run::<Hmac<sha2::Sha384>>(secret, data),
            Algorithm::Sha512 => run::<Hmac<sha2::Sha512>>(secret, data),
        }
    }
}

/// The controls key. Debug never shows the secret.
#[derive(Clone)]
pub struct Key {
    algorithm: Algorithm,
    secret: Vec<u8>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl Key {
    pub fn new(algorithm: &str, secret_b64: &str) -> Result<Key, String> {
        let secret = STANDARD
            .decode(secret_b64.trim())
            .map_err(|e| format!("the rndc secret is not valid base64: {e}"))?;
        Ok(Key {
            algorithm: Algorithm::parse(algorithm)?,
            secret,
        })
    }

    fn signature(&self, signed: &[u8]) -> Vec<u8> {
        let digest = STANDARD.encode(self.algorithm.digest(&self.secret, signed));
        let mut field = vec![0u8; SIGNATURE_LEN];
        field[0] = self.algorithm.id();
        let end = (1 + digest.len()).min(SIGNATURE_LEN);
        field[1..end].copy_from_slice(&digest.as_bytes()[..end - 1]);
        field
    }
}

/// Why a reply could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// Not a well-formed message (length, version, field or nesting).
    Malformed(String),
    /// Well-formed but not signed by our key (wrong key or algorithm, or tampered).
    Auth(String),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Malformed(why) => write!(f, "malformed control-channel message: {why}"),
            CodecError::Auth(why) => write!(f, "{why}"),
        }
    }
}

fn malformed(why: &str) -> CodecError {
    CodecError::Malformed(why.to_string())
}

/// A decoded value: named sends every scalar as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bytes(Vec<u8>),
    Table(Vec<(String, Value)>),
    List(Vec<Value>),
}

impl Value {
    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Table(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            Value::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        }
    }
}

/// What a reply says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `_ctrl._ser`: named echoes the request's, which ties the answer to its question.
    pub serial: Option<String>,
    /// `_ctrl._nonce`: the connection's nonce, to send with every later command on it.
    pub nonce: Option<Vec<u8>>,
    /// `_data.result` is `0`.
    pub success: bool,
    /// `_data.type`: the command line (named echoes it).
    pub command: Option<String>,
    pub err: Option<String>,
    pub text: Option<String>,
}

/// A request: the whole message, length prefix included.
pub fn encode_request(
    key: &Key,
    command: &str,
    serial: u32,
    now_secs: u64,
    nonce: Option<&[u8]>,
) -> Vec<u8> {
    let serial = serial.to_string();
    let now = now_secs.to_string();
    let expires = (now_secs + VALIDITY_SECS).to_string();
    let mut ctrl = Vec::new();
    put_field(&mut ctrl, "_ser", TYPE_BINARY, serial.as_bytes());
    put_field(&mut ctrl, "_tim", TYPE_BINARY, now.as_bytes());
    put_field(&mut ctrl, "_exp", TYPE_BINARY, expires.as_bytes());
    if let Some(nonce) = nonce {
        put_field(&mut ctrl, "_nonce", TYPE_BINARY, nonce);
    }
    let mut data = Vec::new();
    put_field(&mut data, "type", TYPE_BINARY, command.as_bytes());
    let mut signed = Vec::new();
    put_field(&mut signed, "_ctrl", TYPE_TABLE, &ctrl);
    put_field(&mut signed, "_data", TYPE_TABLE, &data);

    let mut auth = Vec::new();
    put_field(&mut auth, "hsha", TYPE_BINARY, &key.signature(&signed));
    let mut body = Vec::with_capacity(8 + auth.len() + signed.len());
    body.extend_from_slice(&1u32.to_be_bytes());
    put_field(&mut body, "_auth", TYPE_TABLE, &auth);
    body.extend_from_slice(&signed);

    let mut message = Vec::with_capacity(4 + body.len());
    message.extend_from_slice(&len32(body.len()).to_be_bytes());
    message.extend_from_slice(&body);
    message
}

/// An answer as named builds it (for the fake named of the client's tests).
#[cfg(test)]
pub fn encode_answer(key: &Key, serial: &str, nonce: &[u8], command: &str, text: &str) -> Vec<u8> {
    let mut ctrl = Vec::new();
    put_field(&mut ctrl, "_ser", TYPE_BINARY, serial.as_bytes());
    put_field(&mut ctrl, "_rpl", TYPE_BINARY, b"1");
    put_field(&mut ctrl, "_nonce", TYPE_BINARY, nonce);
    let mut data = Vec::new();
    put_field(&mut data, "type", TYPE_BINARY, command.as_bytes());
    put_field(&mut data, "result", TYPE_BINARY, b"0");
    put_field(&mut data, "text", TYPE_BINARY, text.as_bytes());
    let mut signed = Vec::new();
    put_field(&mut signed, "_ctrl", TYPE_TABLE, &ctrl);
    put_field(&mut signed, "_data", TYPE_TABLE, &data);
    let mut auth = Vec::new();
    put_field(&mut auth, "hsha", TYPE_BINARY, &key.signature(&signed));
    let mut body = 1u32.to_be_bytes().to_vec();
    put_field(&mut body, "_auth", TYPE_TABLE, &auth);
    body.extend_from_slice(&signed);
    let mut message = len32(body.len()).to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    message
}

/// The length announced by a message's first 4 bytes, if acceptable.
pub fn message_len(prefix: [u8; 4]) -> Result<usize, CodecError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if !(4..=MAX_MESSAGE).contains(&len) {
        return Err(CodecError::Malformed(format!(
            "length {len} outside 4..={MAX_MESSAGE}"
        )));
    }
    Ok(len)
}

/// A reply, without its length prefix: the signature is checked before anything else is read.
pub fn decode_reply(key: &Key, message: &[u8]) -> Result<Reply, CodecError> {
    let (version, mut rest) = split(message, 4).ok_or_else(|| malformed("no version"))?;
    if version != [0, 0, 0, 1] {
        return Err(malformed("unknown protocol version"));
    }
    let (name, kind, auth) = take_field(&mut rest)?;
    if name != b"_auth" || kind != TYPE_TABLE {
        return Err(CodecError::Auth(
            "named's reply is not signed (no _auth first)".into(),
        ));
    }
    let mut auth = auth;
    let (name, kind, signature) = take_field(&mut auth)?;
    if name != b"hsha" || kind != TYPE_BINARY || !auth.is_empty() {
        return Err(CodecError::Auth(
            "named's reply is signed with another algorithm".into(),
        ));
    }
    verify(key, signature, rest)?;
    let fields = parse_table(rest, 0)?;
    if fields.iter().any(|(k, _)| k == "_auth") {
        return Err(CodecError::Auth(
            "named's reply has two _auth fields".into(),
        ));
    }
    let root = Value::Table(fields);
    let ctrl = root.get("_ctrl");
    let data = root
        .get("_data")
        .ok_or_else(|| malformed("no _data in the reply"))?;
    Ok(Reply {
        serial: ctrl.and_then(|c| c.get("_ser")).and_then(Value::text),
        nonce: ctrl.and_then(|c| c.get("_nonce")).and_then(|v| match v {
            Value::Bytes(b) => Some(b.clone()),
            _ => None,
        }),
        success: data.get("result").and_then(Value::text).as_deref() == Some("0"),
        command: data.get("type").and_then(Value::text),
        err: data.get("err").and_then(Value::text),
        text: data.get("text").and_then(Value::text),
    })
}

fn verify(key: &Key, signature: &[u8], signed: &[u8]) -> Result<(), CodecError> {
    let bad = || CodecError::Auth("signature verification failed".into());
    if signature.len() != SIGNATURE_LEN || signature[0] != key.algorithm.id() {
        return Err(CodecError::Auth(
            "named's reply is signed with another algorithm".into(),
        ));
    }
    let encoded = &signature[1..];
    let end = encoded
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(encoded.len());
    if encoded[end..].iter().any(|&b| b != 0) {
        return Err(bad());
    }
    let digest = STANDARD.decode(&encoded[..end]).map_err(|_| bad())?;
    let expected = key.algorithm.digest(&key.secret, signed);
    if expected.is_empty() || !constant_time_eq(&digest, &expected) {
        return Err(bad());
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn put_field(out: &mut Vec<u8>, name: &str, kind: u8, value: &[u8]) {
    // Our keys are the fixed names above: all shorter than 256 bytes.
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.push(kind);
    out.extend_from_slice(&len32(value.len()).to_be_bytes());
    out.extend_from_slice(value);
}

/// Lengths of what we send: a command line is far below 4 GiB (named.conf blocks).
fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn split(input: &[u8], at: usize) -> Option<(&[u8], &[u8])> {
    (input.len() >= at).then(|| input.split_at(at))
}

/// One `key | type | length | value` field off the front of `input`.
fn take_field<'a>(input: &mut &'a [u8]) -> Result<(&'a [u8], u8, &'a [u8]), CodecError> {
    let (&key_len, rest) = input
        .split_first()
        .ok_or_else(|| malformed("truncated key"))?;
    let (name, rest) = split(rest, key_len as usize).ok_or_else(|| malformed("truncated key"))?;
    let (value, rest) = take_value(rest)?;
    *input = rest;
    Ok((name, value.0, value.1))
}

type Typed<'a> = (u8, &'a [u8]);

fn take_value(input: &[u8]) -> Result<(Typed<'_>, &[u8]), CodecError> {
    let (&kind, rest) = input
        .split_first()
        .ok_or_else(|| malformed("truncated value"))?;
    let (len, rest) = split(rest, 4).ok_or_else(|| malformed("truncated value"))?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let (value, rest) =
        split(rest, len).ok_or_else(|| malformed("value longer than its container"))?;
    Ok(((kind, value), rest))
}

fn parse_value(kind: u8, bytes: &[u8], depth: usize) -> Result<Value, CodecError> {
    match kind {
        TYPE_STRING | TYPE_BINARY => Ok(Value::Bytes(bytes.to_vec())),
        TYPE_TABLE | TYPE_LIST if depth >= MAX_DEPTH => Err(malformed("nested too deep")),
        TYPE_TABLE => parse_table(bytes, depth + 1).map(Value::Table),
        TYPE_LIST => {
            let mut items = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                let ((kind, value), tail) = take_value(rest)?;
                items.push(parse_value(kind, value, depth + 1)?);
                rest = tail;
            }
            Ok(Value::List(items))
        }
        other => Err(CodecError::Malformed(format!("unknown value type {other}"))),
    }
}

fn parse_table(mut bytes: &[u8], depth: usize) -> Result<Vec<(String, Value)>, CodecError> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let (name, kind, value) = take_field(&mut bytes)?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| malformed("key not UTF-8"))?;
        fields.push((name, parse_value(kind, value, depth)?));
    }
    Ok(fields)
}

#[cfg(test)]
#[path = "isccc_tests.rs"]
mod tests;
