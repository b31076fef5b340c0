//! The files `BIND_TLS_*` name, read and turned into one rustls server configuration: the
//! certificate chain and key, the client CA (mutual TLS, narrowed by the allowed names),
//! ALPN h2 then http/1.1. Every error names the variable and the file.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use sha2::{Digest, Sha256};

use super::verifier::AllowedClients;
use crate::config::TlsSettings;

/// The bytes of the files, as read at one moment.
#[derive(Clone, PartialEq, Eq)]
pub struct Material {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

fn read(variable: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{variable} {}: cannot read it: {e}", path.display()))
}

impl Material {
    pub fn read(settings: &TlsSettings) -> Result<Material, String> {
        Ok(Material {
            cert: read("BIND_TLS_CERT", &settings.cert)?,
            key: read("BIND_TLS_KEY", &settings.key)?,
            client_ca: match &settings.client_ca {
                Some(path) => Some(read("BIND_TLS_CLIENT_CA", path)?),
                None => None,
            },
        })
    }

    /// What a reload compares: the contents, not the times (Kubernetes swaps a secret
    /// volume's `..data` symlink, which leaves the files' own times alone).
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        for part in [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()] {
            match part {
                Some(bytes) => {
                    hash.update((bytes.len() as u64 + 1).to_be_bytes());
                    hash.update(bytes);
                }
                None => hash.update(0u64.to_be_bytes()),
            }
        }
        hash.finalize().into()
    }

    /// The server configuration these bytes describe.
    pub fn server_config(&self, settings: &TlsSettings) -> Result<Arc<ServerConfig>, String> {
        let cert_path = settings.cert.display();
        let key_path = settings.key.display();
        let chain =
            certificates(&self.cert).map_err(|e| format!("BIND_TLS_CERT {cert_path}: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(&self.key).map_err(|e| {
            format!(
                "BIND_TLS_KEY {key_path}: no usable private key (PEM PKCS#8, PKCS#1 or SEC1): {e}"
            )
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match (&self.client_ca, &settings.client_ca) {
            (Some(pem), Some(path)) => {
                let verifier = client_verifier(pem, &settings.allowed_clients, provider)
                    .map_err(|e| format!("BIND_TLS_CLIENT_CA {}: {e}", path.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
            _ => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            format!(
                "BIND_TLS_KEY {key_path} cannot serve the certificate of BIND_TLS_CERT \
                 {cert_path}: {e}"
            )
        })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE in it (PEM expected)".into());
    }
    Ok(certs)
}

fn client_verifier(
    pem: &[u8],
    allowed: &[String],
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(pem)? {
        roots
            .add(cert)
            .map_err(|e| format!("not a usable CA certificate: {e}"))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| format!("{e}"))?;
    Ok(if allowed.is_empty() {
        verifier
    } else {
        Arc::new(AllowedClients::new(verifier, allowed.to_vec()))
    })
}
