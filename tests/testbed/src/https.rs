//! A small blocking HTTPS client over rustls, for servers under test that speak TLS (the
//! bindcar backend with `BIND_TLS_*`): the status of a GET, and the certificate a server
//! presents. It trusts only the CA it is given and, for mutual TLS, presents a client
//! certificate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use tokio_rustls::rustls::{
    self,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName},
    ClientConfig, ClientConnection, RootCertStore, StreamOwned,
};

/// How to reach an HTTPS server: the CA that signed its certificate (PEM) and, for mutual
/// TLS, a client certificate and its key (PEM files).
#[derive(Debug, Clone)]
pub struct Https {
    pub ca: PathBuf,
    pub client: Option<(PathBuf, PathBuf)>,
}

impl Https {
    fn config(&self) -> Result<Arc<ClientConfig>> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.ca)
            .with_context(|| format!("reading {}", self.ca.display()))?
        {
            roots.add(cert?)?;
        }
        // Explicit provider: the workspace may compile in more than one rustls backend.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        Ok(Arc::new(match &self.client {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
                builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key)?)?
            }
            None => builder.with_no_client_auth(),
        }))
    }

    fn connect(&self, host: &str, port: u16) -> Result<StreamOwned<ClientConnection, TcpStream>> {
        let tcp = TcpStream::connect((host, port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
        tcp.set_write_timeout(Some(Duration::from_secs(5)))?;
        let name = ServerName::try_from(host.to_string())?;
        let connection = ClientConnection::new(self.config()?, name)?;
        let mut stream = StreamOwned::new(connection, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(stream)
    }

    /// The status of `GET path`, or why there is none (a refused handshake, no answer).
    pub fn status(&self, host: &str, port: u16, path: &str) -> Result<u16> {
        let mut stream = self.connect(host, port)?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        stream.flush()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        std::str::from_utf8(&head[9..12])?
            .parse()
            .map_err(|e| anyhow!("no HTTP status in {head:?}: {e}"))
    }

    /// The DER of the certificate the server presents (its leaf).
    pub fn served_certificate(&self, host: &str, port: u16) -> Result<Vec<u8>> {
        let stream = self.connect(host, port)?;
        let certs = stream
            .conn
            .peer_certificates()
            .ok_or_else(|| anyhow!("the server presented no certificate"))?;
        Ok(certs
            .first()
            .ok_or_else(|| anyhow!("empty certificate chain"))?
            .to_vec())
    }
}
