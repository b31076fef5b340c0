//! The text of a primary zone's file, in bindcar's layout (`$TTL`, SOA, NS, glue, records).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// A record that passed validation, ready to be written as one zone-file line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLine {
    pub owner: String,
    pub ttl: Option<u32>,
    pub record_type: &'static str,
    pub rdata: String,
}

impl RecordLine {
    pub fn render(&self) -> String {
        match self.ttl {
            Some(ttl) => format!(
                "{} {ttl} IN {} {}",
                self.owner, self.record_type, self.rdata
            ),
            None => format!("{} IN {} {}", self.owner, self.record_type, self.rdata),
        }
    }
}

/// SOA fields after defaults were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    pub primary_ns: String,
    pub admin_email: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub negative_ttl: u32,
}

/// bindcar's SOA defaults.
pub const DEFAULT_REFRESH: u32 = 3600;
pub const DEFAULT_RETRY: u32 = 600;
pub const DEFAULT_EXPIRE: u32 = 604_800;
pub const DEFAULT_NEGATIVE_TTL: u32 = 86_400;

/// Everything that goes into a primary zone's file, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFile {
    pub ttl: u32,
    pub soa: Soa,
    pub name_servers: Vec<String>,
    /// Glue, sorted by name (deterministic output).
    pub glue: Vec<(String, IpAddr)>,
    pub records: Vec<RecordLine>,
}

impl ZoneFile {
    pub fn render(&self, zone: &str) -> String {
        let mut out = String::new();
        let soa = &self.soa;
        let _ = writeln!(out, "; zone {zone}, written by bindcar");
        let _ = writeln!(out, "$TTL {}", self.ttl);
        out.push('\n');
        let _ = writeln!(out, "@ IN SOA {} {} (", soa.primary_ns, soa.admin_email);
        let _ = writeln!(out, "    {}  ; Serial", soa.serial);
        let _ = writeln!(out, "    {}  ; Refresh", soa.refresh);
        let _ = writeln!(out, "    {}  ; Retry", soa.retry);
        let _ = writeln!(out, "    {}  ; Expire", soa.expire);
        let _ = writeln!(out, "    {} ) ; Negative TTL", soa.negative_ttl);
        out.push('\n');
        for ns in &self.name_servers {
            let _ = writeln!(out, "@ IN NS {ns}");
        }
        for (name, ip) in &self.glue {
            let record_type = if ip.is_ipv4() { "A" } else { "AAAA" };
            let _ = writeln!(out, "{name} IN {record_type} {ip}");
        }
        for record in &self.records {
            let _ = writeln!(out, "{}", record.render());
        }
        out
    }
}

/// bindcar's default serial: today (UTC) as YYYYMMDD01.
pub fn default_serial(now: SystemTime) -> u32 {
    let days = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0);
    let (year, month, day) = civil_from_days(days as i64);
    let serial = (year as u64) * 1_000_000 + (month as u64) * 10_000 + (day as u64) * 100 + 1;
    u32::try_from(serial).unwrap_or(u32::MAX)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn serial_is_the_utc_date() {
        // 2026-11-22T15:00:00Z
        let t = UNIX_EPOCH + Duration::from_secs(1_795_359_600);
        assert_eq!(default_serial(t), 2026112201);
        assert_eq!(default_serial(UNIX_EPOCH), 1970010101);
        // 2024-02-29
        assert_eq!(
            default_serial(UNIX_EPOCH + Duration::from_secs(1_709_164_800)),
            2024022901
        );
    }

    #[test]
    fn renders_bindcar_layout() {
        let file = ZoneFile {
            ttl: 300,
            soa: Soa {
                primary_ns: "ns1.example.test.".into(),
                admin_email: "admin.example.test.".into(),
                serial: 1,
                refresh: DEFAULT_REFRESH,
                retry: DEFAULT_RETRY,
                expire: DEFAULT_EXPIRE,
                negative_ttl: DEFAULT_NEGATIVE_TTL,
            },
            name_servers: vec!["ns1.example.test.".into()],
            glue: vec![("ns1.example.test.".into(), "192.0.2.53".parse().unwrap())],
            records: vec![],
        };
        let text = file.render("example.test");
        assert!(text.contains("$TTL 300\n"));
        assert!(
            text.contains("@ IN SOA ns1.example.test. admin.example.test. (\n    1  ; Serial\n")
        );
        assert!(text.contains("@ IN NS ns1.example.test.\nns1.example.test. IN A 192.0.2.53\n"));
    }
}
