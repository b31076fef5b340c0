//! `POST /api/v1/zones` bodies: JSON → `CreateZoneRequest` → `plan_create` (all validation,
//! records included, before any I/O).
//! Properties: an accepted plan's zone name re-parses to itself; its `addzone` block tokenizes,
//! reads back as a zone statement with `type` and `file` first, and names the zone file inside
//! the zone directory; a primary's zone file has exactly one line per SOA field, name server,
//! glue and record (no value broke out of its line) and no line opens a `$` directive beyond
//! `$TTL`.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use bindcar::bind::{ShownZone, ZoneDir, ZoneName};
use bindcar::zones::plan::plan_create;
use bindcar::zones::request::{CreateZoneRequest, ZoneType};
use libfuzzer_sys::fuzz_target;

fn zone_dir() -> &'static ZoneDir {
    static DIR: OnceLock<ZoneDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let path: PathBuf = std::env::temp_dir().join("bindcar-fuzz-zones");
        let _ = std::fs::create_dir_all(&path);
        ZoneDir::open(&path).unwrap_or_else(|e| panic!("zone dir: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<CreateZoneRequest>(data) else {
        return;
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let Ok(plan) = plan_create(&request, zone_dir(), now) else {
        return;
    };
    assert_eq!(ZoneName::parse(plan.zone.as_str()).as_ref(), Ok(&plan.zone));
    assert!(plan.options.file.starts_with(zone_dir().root()));
    assert_eq!(plan.options.file.parent(), Some(zone_dir().root()));

    let block = plan.options.render();
    let shown = ShownZone::parse(&format!("zone \"{}\" {block}", plan.zone))
        .unwrap_or_else(|e| panic!("addzone block does not read back ({e}): {block}"));
    let keywords: Vec<&str> = shown
        .statements
        .iter()
        .map(|s| s.keyword.as_str())
        .collect();
    assert_eq!(&keywords[..2], ["type", "file"], "{block}");
    assert_eq!(
        shown.value("type").as_deref(),
        Some(request.zone_type.as_str())
    );
    assert_eq!(
        shown.value("file").map(PathBuf::from).as_ref(),
        Some(&plan.options.file)
    );

    match (request.zone_type, &plan.zone_file) {
        (ZoneType::Primary, Some(text)) => {
            let config = &request.zone_config;
            let expected = 1
                + 1
                + 1
                + 6
                + 1
                + config.name_servers.len()
                + config.name_server_ips.len()
                + config.records.len();
            assert_eq!(text.lines().count(), expected, "{text}");
            let directives = text
                .lines()
                .filter(|l| l.trim_start().starts_with('$'))
                .count();
            assert_eq!(directives, 1, "{text}");
            assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
        }
        (ZoneType::Secondary, None) => {}
        other => panic!("zone file does not match the type: {other:?}"),
    }
});
