//! Who a verified client certificate names: its URI and DNS subject alternative names and
//! its subject's common name. Used to admit the names `BIND_TLS_ALLOWED_CLIENTS` lists and to
//! say who made a change in the logs. Only ever read from a certificate that already chains to
//! the configured CA.

use rustls::pki_types::CertificateDer;

/// Longest name kept (a log field, an allowlist entry).
const MAX_NAME_LEN: usize = 1024;

/// The names a certificate carries, in the order they identify a workload best: URI SANs
/// (SPIFFE IDs), DNS SANs, then the subject CN (what Kubernetes takes as the user name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    pub uris: Vec<String>,
    pub dns: Vec<String>,
    pub common_name: Option<String>,
}

impl CertNames {
    /// `None` when the bytes are not a certificate webpki can read.
    pub fn of(der: &CertificateDer<'_>) -> Option<CertNames> {
        let cert = webpki::EndEntityCert::try_from(der).ok()?;
        let keep = |s: &str| (s.len() <= MAX_NAME_LEN).then(|| s.to_owned());
        Some(CertNames {
            uris: cert.valid_uri_names().filter_map(keep).collect(),
            dns: cert.valid_dns_names().filter_map(keep).collect(),
            common_name: common_name(cert.subject()).filter(|cn| cn.len() <= MAX_NAME_LEN),
        })
    }

    fn all(&self) -> impl Iterator<Item = &str> {
        self.uris
            .iter()
            .chain(&self.dns)
            .chain(&self.common_name)
            .map(String::as_str)
    }

    /// The first of these names that `allowed` lists (DNS names compared without case).
    pub fn allowed_by<'a>(&'a self, allowed: &[String]) -> Option<&'a str> {
        self.all().find(|name| {
            allowed.iter().any(|a| {
                a == name || (self.dns.iter().any(|d| d == name) && a.eq_ignore_ascii_case(name))
            })
        })
    }

    /// The name this client goes by: with an allowlist, the name it was admitted under.
    pub fn identity(&self, allowed: &[String]) -> Option<String> {
        if allowed.is_empty() {
            self.all().next()
        } else {
            self.allowed_by(allowed)
        }
        .map(str::to_owned)
    }
}

/// One DER element: (tag, contents, what follows). Definite lengths only, as DER requires.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// The last commonName (2.5.4.3) of a subject given as webpki hands it over: the contents of
/// the Name SEQUENCE, i.e. its RelativeDistinguishedName SETs one after another.
fn common_name(subject: &[u8]) -> Option<String> {
    const SET: u8 = 0x31;
    const SEQUENCE: u8 = 0x30;
    const OID: u8 = 0x06;
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    let mut found = None;
    let mut rdns = subject;
    while let Some((tag, mut attributes, rest)) = element(rdns) {
        rdns = rest;
        if tag != SET {
            return None;
        }
        while let Some((tag, attribute, rest)) = element(attributes) {
            attributes = rest;
            if tag != SEQUENCE {
                return None;
            }
            let (tag, oid, value) = element(attribute)?;
            if tag != OID || oid != CN {
                continue;
            }
            let (kind, text, _) = element(value)?;
            // UTF8String, PrintableString, IA5String: what CAs write a CN in.
            if matches!(kind, 0x0c | 0x13 | 0x16) {
                found = std::str::from_utf8(text).ok().map(str::to_owned);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    fn cert(cn: Option<&str>, sans: Vec<SanType>) -> CertificateDer<'static> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "dns-system");
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        params.subject_alt_names = sans;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn reads_uri_and_dns_names_and_the_common_name() {
        let spiffe = "spiffe://cluster.local/ns/dns-system/sa/bindy";
        let der = cert(
            Some("bindy"),
            vec![
                SanType::URI(spiffe.try_into().unwrap()),
                SanType::DnsName("bindy.dns-system.svc".try_into().unwrap()),
            ],
        );
        let names = CertNames::of(&der).unwrap();
        assert_eq!(names.uris, [spiffe]);
        assert_eq!(names.dns, ["bindy.dns-system.svc"]);
        assert_eq!(names.common_name.as_deref(), Some("bindy"));
        // Without an allowlist the best name; with one, the name admitted.
        assert_eq!(names.identity(&[]).as_deref(), Some(spiffe));
        let allowed = vec!["other".to_string(), "bindy".to_string()];
        assert_eq!(names.identity(&allowed).as_deref(), Some("bindy"));
        assert_eq!(
            names.allowed_by(&["BINDY.dns-system.SVC".to_string()]),
            Some("bindy.dns-system.svc"),
            "DNS names compare without case"
        );
        assert_eq!(
            names.allowed_by(&["BINDY".to_string()]),
            None,
            "a CN does not"
        );
        assert_eq!(names.allowed_by(&["someone-else".to_string()]), None);
    }

    #[test]
    fn a_certificate_with_only_a_common_name_or_nothing() {
        let names = CertNames::of(&cert(Some("bindy"), vec![])).unwrap();
        assert_eq!(names.identity(&[]).as_deref(), Some("bindy"));
        let names = CertNames::of(&cert(None, vec![])).unwrap();
        assert_eq!(names, CertNames::default());
        assert_eq!(names.identity(&[]), None);
        assert_eq!(
            CertNames::of(&CertificateDer::from(vec![0x30, 0x03, 1, 2])),
            None
        );
    }

    #[test]
    fn malformed_subjects_give_no_name_and_never_panic() {
        // SET { SEQUENCE { OID 2.5.4.3, UTF8String "ab" } }
        let good = [
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'a', b'b',
        ];
        assert_eq!(common_name(&good).as_deref(), Some("ab"));
        for cut in 0..good.len() {
            let _ = common_name(&good[..cut]);
        }
        let mut long_form = vec![0x31, 0x81, 0x0b];
        long_form.extend_from_slice(&good[2..]);
        assert_eq!(common_name(&long_form).as_deref(), Some("ab"));
        assert_eq!(common_name(&[0x31, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(common_name(&[0x04, 0x00]), None, "not a SET");
        let mut bmp = good;
        bmp[9] = 0x1e;
        assert_eq!(common_name(&bmp), None, "BMPString is not read");
    }
}
