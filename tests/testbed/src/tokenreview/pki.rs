//! The TLS side: a throw-away CA and the serving certificate it signs, as the
//! kube-apiserver presents to in-cluster clients (`kubernetes.default.svc`).

use std::sync::Arc;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::rustls::{
    self,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
};

/// Names the serving certificate answers to. Envoy connects with SNI
/// `kubernetes.default.svc`; tests use 127.0.0.1 or localhost.
pub const SERVER_NAMES: &[&str] = &[
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "kubernetes.default",
    "kubernetes",
    "localhost",
    "127.0.0.1",
];

pub(crate) struct Pki {
    pub(crate) ca_pem: String,
    pub(crate) tls: Arc<rustls::ServerConfig>,
}

impl Pki {
    pub(crate) fn generate() -> anyhow::Result<Self> {
        let ca_key = KeyPair::generate().context("CA key")?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "bindcar-e2e kubernetes CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).context("self-sign CA")?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().context("server key")?;
        let names: Vec<String> = SERVER_NAMES.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = params
            .signed_by(&server_key, &issuer)
            .context("sign server certificate")?;

        let chain: Vec<CertificateDer<'static>> = vec![server_cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        // Explicit provider: the workspace may compile in more than one rustls backend, in
        // which case `ServerConfig::builder()` could not pick a default.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("TLS server certificate")?;
        // Envoy may speak either protocol to its TokenReview cluster.
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        Ok(Self {
            ca_pem: ca_cert.pem(),
            tls: Arc::new(tls),
        })
    }
}
