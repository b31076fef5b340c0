//! The TLS configuration against real handshakes in memory (rustls on both ends of a
//! `tokio::io::duplex`): what loads and what is refused at startup, ALPN, who mutual TLS and
//! the allowlist admit, and what a reload serves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::identity::CertNames;
use super::reload::{Reload, Reloader};
use crate::config::TlsSettings;

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    der: CertificateDer<'static>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// (certificate PEM, key PEM, certificate DER) for `names` (SANs) and a CN.
    fn issue(
        &self,
        cn: &str,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> (String, String, CertificateDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) if name.contains("://") => SanType::URI((*name).try_into().unwrap()),
                Err(_) => SanType::DnsName((*name).try_into().unwrap()),
            })
            .collect();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().clone())
    }
}

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(name: &str) -> Files {
        let dir = std::env::temp_dir().join(format!("bindcar-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Files { dir }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn settings(&self, client_ca: bool, allowed: &[&str]) -> TlsSettings {
        TlsSettings {
            cert: self.dir.join("tls.crt"),
            key: self.dir.join("tls.key"),
            client_ca: client_ca.then(|| self.dir.join("ca.crt")),
            allowed_clients: allowed.iter().map(|s| s.to_string()).collect(),
            reload_every: None,
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn server_files(name: &str, ca: &Ca) -> (Files, CertificateDer<'static>) {
    let files = Files::new(name);
    let (cert, key, der) = ca.issue(
        "bindcar",
        &["127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    files.write("tls.crt", &cert);
    files.write("tls.key", &key);
    files.write("ca.crt", &ca.pem);
    (files, der)
}

fn client_config(ca: &Ca, client: Option<(&str, &str)>, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.der.clone()).unwrap();
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
    let mut config = match client {
        Some((cert, key)) => {
            let cert = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                KeyPair::from_pem(key).unwrap().serialize_der(),
            ));
            builder.with_client_auth_cert(vec![cert], key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// What the server sees of one handshake: Ok(ALPN, client's certificate names, the
/// certificate it served) or its error.
async fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
) -> Result<(Option<Vec<u8>>, Option<CertNames>, CertificateDer<'static>), String> {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let (served, accepted) = tokio::join!(
        TlsConnector::from(client).connect(name, client_io),
        TlsAcceptor::from(server).accept(server_io)
    );
    let accepted = accepted.map_err(|e| e.to_string())?;
    let served = served.map_err(|e| e.to_string())?;
    let connection = accepted.get_ref().1;
    Ok((
        connection.alpn_protocol().map(<[u8]>::to_vec),
        connection
            .peer_certificates()
            .and_then(<[_]>::first)
            .and_then(CertNames::of),
        served.get_ref().1.peer_certificates().unwrap()[0].clone(),
    ))
}

#[tokio::test]
async fn server_tls_serves_the_certificate_and_offers_h2_then_http1() {
    let ca = Ca::new("test CA");
    let (files, served) = server_files("serve", &ca);
    let reloader = Reloader::load(files.settings(false, &[])).unwrap();
    assert_eq!(
        reloader.current().alpn_protocols,
        [b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    let (alpn, client, cert) = handshake(
        reloader.current(),
        client_config(&ca, None, &[b"h2", b"http/1.1"]),
    )
    .await
    .unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(client, None);
    assert_eq!(cert, served);
    let (alpn, _, _) = handshake(reloader.current(), client_config(&ca, None, &[b"http/1.1"]))
        .await
        .unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
}

#[test]
fn unusable_files_stop_startup_naming_the_variable() {
    let ca = Ca::new("test CA");
    let (files, _) = server_files("refuse", &ca);
    let load = |settings: TlsSettings| Reloader::load(settings).err().unwrap_or_default();
    let good = files.settings(true, &[]);

    let missing = TlsSettings {
        cert: files.dir.join("absent.crt"),
        ..good.clone()
    };
    let error = load(missing);
    assert!(
        error.starts_with("BIND_TLS_CERT ") && error.contains("absent.crt"),
        "{error}"
    );
    let error = load(TlsSettings {
        key: files.dir.join("absent.key"),
        ..good.clone()
    });
    assert!(error.starts_with("BIND_TLS_KEY "), "{error}");
    let error = load(TlsSettings {
        client_ca: Some(files.dir.join("absent-ca.crt")),
        ..good.clone()
    });
    assert!(error.starts_with("BIND_TLS_CLIENT_CA "), "{error}");

    let garbage = files.write("garbage.pem", "not a certificate\n");
    let error = load(TlsSettings {
        cert: garbage.clone(),
        ..good.clone()
    });
    assert!(
        error.starts_with("BIND_TLS_CERT ") && error.contains("no CERTIFICATE"),
        "{error}"
    );
    let error = load(TlsSettings {
        key: garbage.clone(),
        ..good.clone()
    });
    assert!(
        error.starts_with("BIND_TLS_KEY ") && error.contains("no usable private key"),
        "{error}"
    );
    let error = load(TlsSettings {
        client_ca: Some(garbage),
        ..good.clone()
    });
    assert!(error.starts_with("BIND_TLS_CLIENT_CA "), "{error}");
    // A key that is not the certificate's.
    let other_key = files.write("other.key", &KeyPair::generate().unwrap().serialize_pem());
    let error = load(TlsSettings {
        key: other_key,
        ..good.clone()
    });
    assert!(
        error.starts_with("BIND_TLS_KEY ") && error.contains("BIND_TLS_CERT"),
        "{error}"
    );
    assert!(Reloader::load(good).is_ok());
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_a_certificate_of_the_ca() {
    let ca = Ca::new("test CA");
    let (files, _) = server_files("mutual", &ca);
    let server = Reloader::load(files.settings(true, &[])).unwrap().current();
    let (cert, key, _) = ca.issue("bindy", &[], ExtendedKeyUsagePurpose::ClientAuth);
    let (alpn, client, _) = handshake(server.clone(), client_config(&ca, Some((&cert, &key)), &[]))
        .await
        .unwrap();
    assert_eq!(alpn, None);
    assert_eq!(client.unwrap().identity(&[]).as_deref(), Some("bindy"));
    let error = handshake(server.clone(), client_config(&ca, None, &[]))
        .await
        .unwrap_err();
    assert!(error.contains("certificate"), "{error}");
    let stranger = Ca::new("another CA");
    let (cert, key, _) = stranger.issue("bindy", &[], ExtendedKeyUsagePurpose::ClientAuth);
    assert!(
        handshake(server.clone(), client_config(&ca, Some((&cert, &key)), &[]))
            .await
            .is_err()
    );
    // A server certificate of the right CA is no client certificate.
    let (cert, key, _) = ca.issue("bindy", &[], ExtendedKeyUsagePurpose::ServerAuth);
    assert!(
        handshake(server, client_config(&ca, Some((&cert, &key)), &[]))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_allowlist_admits_only_the_clients_it_names() {
    let ca = Ca::new("test CA");
    let (files, _) = server_files("allowlist", &ca);
    let spiffe = "spiffe://cluster.local/ns/dns-system/sa/bindy";
    let server = Reloader::load(files.settings(true, &["bindy", spiffe]))
        .unwrap()
        .current();
    let (cert, key, _) = ca.issue("bindy", &[], ExtendedKeyUsagePurpose::ClientAuth);
    assert!(
        handshake(server.clone(), client_config(&ca, Some((&cert, &key)), &[]))
            .await
            .is_ok()
    );
    let (cert, key, _) = ca.issue("other", &[spiffe], ExtendedKeyUsagePurpose::ClientAuth);
    let (_, names, _) = handshake(server.clone(), client_config(&ca, Some((&cert, &key)), &[]))
        .await
        .unwrap();
    assert_eq!(
        names
            .unwrap()
            .identity(&["bindy".into(), spiffe.into()])
            .as_deref(),
        Some(spiffe)
    );
    let (cert, key, _) = ca.issue(
        "mallory",
        &["mallory.dns-system.svc"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let error = handshake(server, client_config(&ca, Some((&cert, &key)), &[]))
        .await
        .unwrap_err();
    assert!(
        error.contains("ApplicationVerificationFailure") || error.contains("certificate"),
        "{error}"
    );
}

#[tokio::test]
async fn a_reload_serves_new_files_and_keeps_the_old_ones_when_the_new_do_not_load() {
    let ca = Ca::new("test CA");
    let (files, first) = server_files("reload", &ca);
    let reloader = Reloader::load(files.settings(false, &[])).unwrap();
    let client = client_config(&ca, None, &[]);
    assert_eq!(reloader.reload(), Reload::Unchanged);

    let (cert, key, second) = ca.issue(
        "renewed",
        &["127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    assert_ne!(first, second);
    files.write("tls.crt", &cert);
    files.write("tls.key", &key);
    assert_eq!(reloader.reload(), Reload::Reloaded);
    assert_eq!(
        handshake(reloader.current(), client.clone())
            .await
            .unwrap()
            .2,
        second
    );
    assert_eq!(reloader.reload(), Reload::Unchanged);

    // A certificate written before its key: the pair does not match, the old one stays.
    let (cert, _, _) = ca.issue("half", &["127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth);
    files.write("tls.crt", &cert);
    let Reload::Kept(reason) = reloader.reload() else {
        panic!("a mismatched pair was loaded");
    };
    assert!(reason.starts_with("BIND_TLS_KEY"), "{reason}");
    std::fs::remove_file(files.dir.join("tls.key")).unwrap();
    assert!(matches!(reloader.reload(), Reload::Kept(reason) if reason.contains("cannot read")));
    assert_eq!(
        handshake(reloader.current(), client).await.unwrap().2,
        second
    );
}
