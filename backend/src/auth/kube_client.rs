//! The Kubernetes client shared by TokenReview and SubjectAccessReview calls.
//!
//! Explicit settings (`KUBE_TOKEN_PATH`): the token file is read on every use, its surrounding
//! whitespace trimmed (`echo token > file` leaves a newline, which no header may carry), and
//! the client is rebuilt when the token differs from the last one. A rotated or corrected file
//! is used by the next call, without a restart and without kube's minute-long reload period.
//! Inferred settings (kubeconfig, in-cluster): built on first use and retried on the next call
//! if that fails.

use std::path::Path;
use std::sync::Mutex;

use kube::Client;
use tokio::sync::OnceCell;

use crate::config::KubeSource;

pub struct KubeClient {
    source: KubeSource,
    inferred: OnceCell<Client>,
    /// The client of the explicit settings and the token it was built with.
    explicit: Mutex<Option<(String, Client)>>,
}

impl KubeClient {
    pub fn new(source: KubeSource) -> KubeClient {
        KubeClient {
            source,
            inferred: OnceCell::new(),
            explicit: Mutex::new(None),
        }
    }

    pub fn source(&self) -> &KubeSource {
        &self.source
    }

    /// The client, or why it cannot be built (logged by the caller).
    pub async fn get(&self) -> Result<Client, String> {
        match &self.source {
            KubeSource::Explicit {
                server,
                token_path,
                ca_path,
            } => {
                let token = read_token(token_path).await?;
                let mut current = self
                    .explicit
                    .lock()
                    .map_err(|_| "kube client lock poisoned".to_string())?;
                if let Some((known, client)) = current.as_ref() {
                    if *known == token {
                        return Ok(client.clone());
                    }
                }
                let client = explicit_client(server, ca_path, &token)?;
                if current.is_some() {
                    tracing::info!(
                        token_path = %token_path.display(),
                        "the reviewer token file changed; using its new token"
                    );
                }
                *current = Some((token, client.clone()));
                Ok(client)
            }
            KubeSource::Inferred => self
                .inferred
                .get_or_try_init(|| async {
                    let config = kube::Config::infer().await.map_err(|e| e.to_string())?;
                    Client::try_from(config).map_err(|e| e.to_string())
                })
                .await
                .cloned(),
        }
    }
}

fn explicit_client(server: &str, ca_path: &Path, token: &str) -> Result<Client, String> {
    let uri = server
        .parse()
        .map_err(|e| format!("KUBE_API_SERVER {server}: {e}"))?;
    let mut config = kube::Config::new(uri);
    config.root_cert_file = Some(ca_path.to_path_buf());
    config.auth_info.token = Some(secrecy::SecretString::from(token.to_string()));
    Client::try_from(config).map_err(|e| e.to_string())
}

async fn read_token(path: &Path) -> Result<String, String> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| format!("KUBE_TOKEN_PATH {}: {e}", path.display()))?;
    token_from_file(&bytes).map_err(|why| format!("KUBE_TOKEN_PATH {}: {why}", path.display()))
}

/// The token a file holds: its content without surrounding whitespace. Whatever else would
/// make an invalid `Authorization` header is refused here, saying why (never the token).
pub fn token_from_file(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the token file is not UTF-8".to_string())?;
    let token = text.trim();
    if token.is_empty() {
        return Err("the token file is empty".into());
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the token file holds more than one word (whitespace inside the token)".into());
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        for raw in ["abc.def", "abc.def\n", "abc.def\r\n", "  abc.def \t\n\n"] {
            assert_eq!(
                token_from_file(raw.as_bytes()).unwrap(),
                "abc.def",
                "{raw:?}"
            );
        }
    }

    #[test]
    fn files_that_cannot_make_a_header_are_refused_without_echoing_them() {
        for raw in [
            &b""[..],
            b" \n",
            b"abc def",
            b"abc\ndef",
            b"abc\x01",
            b"\xff\xfe",
        ] {
            let why = token_from_file(raw).unwrap_err();
            assert!(!why.contains("abc"), "{why}");
        }
    }
}
