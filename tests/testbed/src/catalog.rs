//! A secondary that follows the catalog zone (RFC 9432) of a primary, configured exactly as
//! backend/README.md ("Catalog zone and secondaries") documents it: BIND's `catalog-zones`
//! clause and the catalog as a secondary zone that retries within seconds. The catalog tests,
//! `make run SECONDARY=1` and the bench start theirs with `secondary_options`.

use crate::named::NamedOptions;

/// The catalog name the tests, `make run` and the bench use.
pub const CATALOG: &str = "catalog.bindcar.invalid";

/// The secondary's minimum interval between two catalog updates, in seconds (BIND's default
/// is 5: every new member would wait for it).
pub const MIN_UPDATE_INTERVAL: u32 = 1;

/// Transfer limits of the documented secondary. BIND's defaults (2 transfers at a time from
/// one primary, 20 SOA queries a second) queue a burst of new zones behind each other. The
/// bench gives the secondaries of the per-secondary comparison the same.
pub const TRANSFER_LIMITS: &str = "    transfers-per-ns 20;
    serial-query-rate 200;
";

/// What the primary needs for them: room for every secondary's transfers at once. Beyond its
/// `transfers-out` (10 by default) it refuses transfers (SERVFAIL), and a secondary retries
/// such a zone only after the zone's retry time (about a minute was measured).
pub const PRIMARY_OPTIONS: &str = "    transfers-out 100;
";

/// The lines of `options { }` and the zone statement of a secondary of `catalog`, whose
/// primary serves DNS on `primary` (`ip port N` form), with member zones kept in `dir`.
pub fn secondary_config(catalog: &str, primary: &str, dir: &str) -> (String, String) {
    let options = format!(
        r#"    catalog-zones {{
        zone "{catalog}"
            default-primaries {{ {primary}; }}
            zone-directory "{dir}"
            in-memory no
            min-update-interval {MIN_UPDATE_INTERVAL};
    }};
{TRANSFER_LIMITS}"#
    );
    let zone = format!(
        r#"zone "{catalog}" {{
    type secondary;
    file "{dir}/{catalog}.db";
    primaries {{ {primary}; }};
    min-retry-time 1;
    max-retry-time 10;
}};
"#
    );
    (options, zone)
}

/// A private named that is a secondary of `catalog` on the primary's DNS port (127.0.0.1).
/// It needs no `allow-new-zones`: BIND adds the catalog's members by itself.
pub fn secondary_options(catalog: &str, primary_port: u16) -> NamedOptions {
    let (extra_options, extra_config) = secondary_config(
        catalog,
        &format!("127.0.0.1 port {primary_port}"),
        "@ZONE_DIR@",
    );
    NamedOptions {
        allow_new_zones: false,
        extra_options,
        extra_config,
        ..NamedOptions::default()
    }
}
