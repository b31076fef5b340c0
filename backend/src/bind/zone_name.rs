//! Zone names: normalised once at the edge, so everything behind it (file names, rndc command
//! lines, locks, markers) can rely on a lower-case, dot-free-at-the-end, strictly validated name.

use std::fmt;

/// Longest presentation-form name we accept (RFC 1035: 255 octets on the wire).
const MAX_NAME_BYTES: usize = 253;
/// Longest label (RFC 1035).
const MAX_LABEL_BYTES: usize = 63;

/// A validated, normalised zone name: ASCII lower case, no trailing dot, labels of
/// `[a-z0-9_-]` that do not start with `-`. Safe to embed in a file name and an rndc command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneName(String);

/// Why a zone name was refused. The text is shown to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidZoneName(pub String);

impl ZoneName {
    /// Normalise (`Example.TEST.` → `example.test`) and validate a client-supplied name.
    pub fn parse(raw: &str) -> Result<Self, InvalidZoneName> {
        let fail = |why: String| Err(InvalidZoneName(why));
        if raw.is_empty() {
            return fail("Zone name cannot be empty".into());
        }
        let trimmed = raw.strip_suffix('.').unwrap_or(raw);
        if trimmed.is_empty() {
            return fail("Zone name cannot be the root zone '.'".into());
        }
        if trimmed.len() > MAX_NAME_BYTES {
            return fail(format!(
                "Zone name exceeds maximum length of {MAX_NAME_BYTES} characters"
            ));
        }
        if let Some(bad) = trimmed
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        {
            return fail(format!(
                "Zone name contains invalid character: {}",
                describe_char(bad)
            ));
        }
        for label in trimmed.split('.') {
            if label.is_empty() {
                return fail(
                    "Zone name must not contain empty labels ('..', or a leading '.')".into(),
                );
            }
            if label.len() > MAX_LABEL_BYTES {
                return fail(format!(
                    "Zone name label '{label}' exceeds maximum length of {MAX_LABEL_BYTES} characters"
                ));
            }
            if label.starts_with('-') {
                return fail(format!("Zone name label '{label}' must not start with '-'"));
            }
        }
        Ok(ZoneName(trimmed.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Printable description of a refused character (control characters would garble the message).
fn describe_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("{:?}", c)
    } else {
        format!("'{c}'")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// Authorization names zones with the policy crate's mirror of this function: both must
    /// agree, or an RBAC rule would name another zone than the one acted on.
    #[test]
    fn the_authorization_mirror_agrees() {
        let long_label = "a".repeat(64);
        let long_name = vec!["a".repeat(50); 5].join(".");
        for raw in [
            "Example.TEST.",
            "example.com",
            "_tcp.x.org",
            "",
            ".",
            "..",
            "a..b",
            ".a",
            "-a.com",
            "a-.com",
            "a b",
            "a/b",
            "é.com",
            "a_b",
            &long_label,
            &long_name,
            "x.",
            "X",
        ] {
            assert_eq!(
                ZoneName::parse(raw).ok().map(|z| z.as_str().to_string()),
                bindcar_policy::authz::zone::normalize_zone(raw),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn normalises_case_and_trailing_dot() {
        assert_eq!(
            ZoneName::parse("Example.TEST.").map(|z| z.0),
            Ok("example.test".into())
        );
        assert_eq!(
            ZoneName::parse("example.test").map(|z| z.0),
            Ok("example.test".into())
        );
        assert_eq!(
            ZoneName::parse("_tcp.x-1.test").map(|z| z.0),
            Ok("_tcp.x-1.test".into())
        );
        assert_eq!(
            ZoneName::parse("2.0.192.in-addr.arpa").map(|z| z.0),
            Ok("2.0.192.in-addr.arpa".into())
        );
    }

    #[test]
    fn rejects_what_could_escape_a_path_or_an_rndc_command() {
        let long_label = format!("{}.test", "a".repeat(64));
        let long_name = format!("{}.test", vec!["a".repeat(60); 5].join("."));
        for bad in [
            "",
            ".",
            "..",
            "a..b",
            ".a",
            "a/b",
            "../etc",
            "a b",
            "a\"b",
            "a;b",
            "a{b",
            "a}b",
            "a\nb",
            "-a.test",
            "a.-b",
            "a\\b",
            "é.test",
            "a..",
            "a\tb",
            "a'b",
            "*.test",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert!(ZoneName::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn exactly_at_the_limits_is_fine() {
        let label63 = format!("{}.test", "a".repeat(63));
        assert!(ZoneName::parse(&label63).is_ok());
        let name253 = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        assert_eq!(name253.len(), 253);
        assert!(ZoneName::parse(&name253).is_ok());
        assert!(ZoneName::parse(&format!("{name253}.")).is_ok());
    }
}
