//! What a power loss can leave of a create that was not acknowledged yet (its content and
//! names are synced beside `addzone`, and the 201 waits for both): named's new-zone database
//! kept the zone, while the zone's content never reached the disk. Simulated on a stopped
//! named by emptying the zone file (the marker is the same inode), since this machine cannot
//! cut its own power: the zone is removed from BIND and its files go (absent, never half).

use std::time::Duration;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};

use crate::common::{primary_zone, Client};
use crate::consistency::{restart_loads_everything, settle, whole_zones};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_content_a_power_loss_took_is_removed_whole() {
    let mut named = Named::start(NamedOptions::default());
    let mut env = named.backend_env();
    env.push(("DISABLE_AUTH".into(), "true".into()));
    // Given two zones created through the API
    let backend = Backend::start(env.clone());
    let api = Client::new(backend.base_url(), None);
    for zone in ["kept.power.test", "lost.power.test"] {
        assert_eq!(api.create(&primary_zone(zone)).await.0, 201);
    }
    drop(backend);
    // When one's content is gone after named stopped (its file, and the marker with it, empty)
    named.stop();
    let file = named.zone_dir().join("lost.power.test.zone");
    std::fs::File::create(&file).unwrap();
    assert_eq!(
        std::fs::metadata(named.zone_dir().join(".bindcar/zones/lost.power.test.zone"))
            .unwrap()
            .len(),
        0
    );
    named.start_again();
    // Then the backend, starting, removes that zone from BIND and its files; the other stays
    let backend = Backend::start(env);
    let api = Client::new(backend.base_url(), None);
    let zones = ["kept.power.test".to_string(), "lost.power.test".to_string()];
    let (seen, violations) = settle(&named, &api, &zones, Duration::from_secs(15)).await;
    assert!(violations.is_empty(), "{violations:?}\n{}", backend.logs());
    let whole = whole_zones(&seen);
    assert_eq!(whole, ["kept.power.test"]);
    assert!(backend.logs().contains("create never completed"));
    assert_eq!(api.zones().await, ["kept.power.test"]);
    drop(backend);
    restart_loads_everything(&mut named, &whole).await;
}
