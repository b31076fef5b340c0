//! The backend as an OCI image (`make oci` → `dist/oci-backend`, `scripts/oci-backend.py`), for
//! real: built from the static binary `make image-bin` leaves in
//! `target/x86_64-unknown-linux-gnu/image/bindcar`, the image is reproducible and holds only
//! what the binary needs; `skopeo` pushes it to a real registry (Debian's `docker-registry`);
//! pulled back over the registry's HTTP API as a container runtime does (manifest by tag,
//! checked against the digest the Deployment pins, config and layer by digest), its layer is
//! unpacked into a root filesystem, and the image's entrypoint runs there under `chroot` as
//! the image's user, against a real named: health, readiness, a create, a records call, each
//! checked with `dig`. The digest pinned in `envoy/kubernetes/deployment.yaml` must be the one
//! the builder gives the current binary.
//!
//! Needs root (chroot, a private mount namespace for the zone directory's bind mount), as the
//! test machines run. A missing binary, `docker-registry`, `skopeo`, named or `python3` fails
//! the test saying what to run; nothing skips.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::envoy::workspace_root;
use bindcar_testbed::http::get;
use bindcar_testbed::named::{Named, NamedOptions};
use bindcar_testbed::ports::free_port;
use bindcar_testbed::registry::Registry;
use common::{dynamic_zone, Client};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const IMAGE_BIN: &str = "target/x86_64-unknown-linux-gnu/image/bindcar";
const DEPLOYMENT: &str = "envoy/kubernetes/deployment.yaml";
const REPO: &str = "dns/bindcar";
const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// What the root filesystem holds, and nothing else: (path, mode).
const ROOTFS: [(&str, u32); 9] = [
    ("etc", 0o755),
    ("etc/group", 0o644),
    ("etc/nsswitch.conf", 0o644),
    ("etc/passwd", 0o644),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/local", 0o755),
    ("usr/local/bin", 0o755),
    ("usr/local/bin/bindcar", 0o755),
];

fn sha256_digest(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn image_bin() -> PathBuf {
    let p = workspace_root().join(IMAGE_BIN);
    assert!(
        p.is_file(),
        "{} missing: run `make image-bin` (or `make oci`), which builds the static binary",
        p.display()
    );
    p
}

/// `python3 scripts/oci-backend.py <args>` from the workspace root.
fn builder(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg("scripts/oci-backend.py")
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap_or_else(|e| panic!("python3: {e} (needed by `make oci`)"))
}

/// The manifest digest the builder gives the binary; with `out`, also writes the layout.
fn build(binary: &Path, out: Option<&Path>) -> String {
    let b = binary.display().to_string();
    let o = out.map(|o| o.display().to_string());
    let args: Vec<&str> = match &o {
        Some(o) => vec!["build", "--out", o, &b],
        None => vec!["digest", &b],
    };
    let r = builder(&args);
    assert!(
        r.status.success(),
        "scripts/oci-backend.py {args:?}: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    let digest = String::from_utf8_lossy(&r.stdout).trim().to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest:?}"
    );
    digest
}

/// The bindcar container of the Deployment: (image reference, runAsUser:runAsGroup).
fn deployment() -> (String, String) {
    let text = fs::read_to_string(workspace_root().join(DEPLOYMENT)).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let spec = &doc["spec"]["template"]["spec"];
    let container = spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "bindcar")
        .expect("a bindcar container");
    let sc = &spec["securityContext"];
    (
        container["image"].as_str().unwrap().to_string(),
        format!("{}:{}", sc["runAsUser"], sc["runAsGroup"]),
    )
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap()
}

/// The manifest, config and layer of a one-image layout.
fn read_layout(layout: &Path) -> (Vec<u8>, Value, Vec<u8>) {
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest = blob(layout, index["manifests"][0]["digest"].as_str().unwrap());
    let m: Value = serde_json::from_slice(&manifest).unwrap();
    let config: Value =
        serde_json::from_slice(&blob(layout, m["config"]["digest"].as_str().unwrap())).unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{m}");
    assert_eq!(layers[0]["mediaType"], MT_LAYER);
    (
        manifest,
        config,
        blob(layout, layers[0]["digest"].as_str().unwrap()),
    )
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Every entry of an uncompressed USTAR archive: (name, mode, uid, gid, mtime, owner names,
/// content).
struct TarEntry {
    name: String,
    mode: u32,
    ids: (u32, u32),
    mtime: u64,
    owners: String,
    data: Vec<u8>,
}

fn tar_entries(tar: &[u8]) -> Vec<TarEntry> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 512 <= tar.len() && tar[at..at + 512].iter().any(|b| *b != 0) {
        let h = &tar[at..at + 512];
        let field = |r: std::ops::Range<usize>| {
            String::from_utf8_lossy(&h[r])
                .trim_end_matches('\0')
                .trim()
                .to_string()
        };
        let octal = |r: std::ops::Range<usize>| u64::from_str_radix(&field(r), 8).unwrap();
        let size = octal(124..136) as usize;
        out.push(TarEntry {
            name: field(0..100),
            mode: octal(100..108) as u32,
            ids: (octal(108..116) as u32, octal(116..124) as u32),
            mtime: octal(136..148),
            owners: field(265..297) + &field(297..329),
            data: tar[at + 512..at + 512 + size].to_vec(),
        });
        at += 512 + size.div_ceil(512) * 512;
    }
    out
}

#[test]
fn the_deployment_pins_the_image_make_oci_builds_for_the_current_binary() {
    let computed = build(&image_bin(), None);
    let (image, user) = deployment();
    let (name, pinned) = image
        .split_once('@')
        .unwrap_or_else(|| panic!("{DEPLOYMENT}: image {image:?} is not pinned by digest"));
    assert!(name.contains("/bindcar:"), "{image}");
    assert_eq!(
        pinned, computed,
        "stale pin: {DEPLOYMENT} runs {image}, but `make oci` (scripts/oci-backend.py) gives \
         {computed} for the current {IMAGE_BIN}: the backend (or its toolchain) changed since \
         the last pin. Run `make oci-pin` and commit {DEPLOYMENT}."
    );
    // The image's user is the one the pod runs as (the zone volume's fsGroup is its group).
    let dir = tempfile::tempdir().unwrap();
    build(&image_bin(), Some(dir.path()));
    let (_, config, _) = read_layout(dir.path());
    assert_eq!(config["config"]["User"], user.as_str(), "{config}");
}

#[test]
fn the_image_is_reproducible_and_holds_only_what_the_binary_needs() {
    let binary = image_bin();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let digest = build(&binary, Some(&a));
    // A copy of the binary with another time stamp and name: the same bytes come out.
    let copy = dir.path().join("copy");
    fs::copy(&binary, &copy).unwrap();
    assert_eq!(build(&copy, Some(&b)), digest);
    let files = |root: &Path| -> BTreeMap<String, Vec<u8>> {
        let mut found = BTreeMap::new();
        for sub in ["", "blobs/sha256"] {
            for e in fs::read_dir(root.join(sub)).unwrap() {
                let p = e.unwrap().path();
                if p.is_file() {
                    let rel = p.strip_prefix(root).unwrap().display().to_string();
                    found.insert(rel, fs::read(&p).unwrap());
                }
            }
        }
        found
    };
    assert_eq!(files(&a), files(&b), "two builds of the same binary differ");

    let (manifest, config, layer) = read_layout(&a);
    assert_eq!(sha256_digest(&manifest), digest);
    let m: Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(m["mediaType"], MT_MANIFEST);
    // Runs as a non-root user, the binary as entrypoint; nothing that changes with time.
    let c = &config["config"];
    assert_eq!(c["User"], "10053:10053");
    assert_eq!(c["Entrypoint"], json!(["/usr/local/bin/bindcar"]));
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}}));
    assert_eq!(
        (config["os"].as_str(), config["architecture"].as_str()),
        (Some("linux"), Some("amd64"))
    );
    assert!(
        config.get("created").is_none() && config.get("history").is_none(),
        "{config}"
    );

    // gzip without time or name; tar entries sorted, owned by 0, time 0, no owner names.
    assert_eq!(&layer[..4], &[0x1f, 0x8b, 8, 0]);
    assert_eq!(&layer[4..8], &[0, 0, 0, 0]);
    let tar = gunzip(&layer);
    assert_eq!(config["rootfs"]["diff_ids"], json!([sha256_digest(&tar)]));
    let entries = tar_entries(&tar);
    let listed: Vec<(String, u32)> = entries
        .iter()
        .map(|e| (e.name.trim_end_matches('/').to_string(), e.mode))
        .collect();
    let expected: Vec<(String, u32)> = ROOTFS.iter().map(|(n, m)| (n.to_string(), *m)).collect();
    assert_eq!(listed, expected);
    for e in &entries {
        assert_eq!(
            (e.ids, e.mtime, e.owners.as_str()),
            ((0, 0), 0, ""),
            "{}",
            e.name
        );
    }
    let binary_bytes = fs::read(&binary).unwrap();
    let in_image = &entries.last().unwrap().data;
    assert!(
        in_image == &binary_bytes,
        "usr/local/bin/bindcar is not {IMAGE_BIN}"
    );
    let passwd = String::from_utf8_lossy(&entries[3].data).to_string();
    assert!(passwd.contains("bindcar:x:10053:10053:"), "{passwd}");
    // Statically linked: no interpreter, no libraries to find (ldd's word for it: "statically
    // linked" for a static PIE, "not a dynamic executable" for the other kind).
    let ldd = Command::new("ldd").arg(&binary).output().unwrap();
    let said =
        String::from_utf8_lossy(&ldd.stdout).to_string() + &String::from_utf8_lossy(&ldd.stderr);
    assert!(
        said.contains("statically linked") || said.contains("not a dynamic executable"),
        "ldd: {said}"
    );
    assert!(!said.contains("=>"), "ldd lists libraries: {said}");
    let size = layer.len();
    eprintln!(
        "image {digest}: layer {size} bytes gzip, binary {} bytes",
        binary_bytes.len()
    );

    // A dynamically linked binary is refused: its root filesystem would lack the libraries.
    let r = builder(&["digest", "/bin/sh"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("dynamically linked"));
}

/// Manifest by tag, config and layer by digest, each checked against its digest.
fn pull(registry: &Registry, tag: &str, expected: &str) -> (Value, Vec<u8>) {
    let accept = MT_MANIFEST.as_bytes();
    let path = format!("/v2/{REPO}/manifests/{tag}");
    let r = get(registry.port, &path, &[("accept", accept)]).unwrap();
    assert_eq!(r.status, 200, "{path}: {}\n{}", r.text(), registry.log());
    assert_eq!(
        sha256_digest(&r.body),
        expected,
        "the registry serves another manifest"
    );
    assert_eq!(r.header("docker-content-digest"), Some(expected));
    let m: Value = serde_json::from_slice(&r.body).unwrap();
    let fetch = |d: &Value| {
        let digest = d["digest"].as_str().unwrap();
        let r = get(registry.port, &format!("/v2/{REPO}/blobs/{digest}"), &[]).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(sha256_digest(&r.body), digest, "blob {digest} altered");
        assert_eq!(r.body.len() as u64, d["size"].as_u64().unwrap());
        r.body
    };
    let config: Value = serde_json::from_slice(&fetch(&m["config"])).unwrap();
    let layer = fetch(&m["layers"][0]);
    (config, layer)
}

#[test]
fn pushed_pulled_and_unpacked_the_image_runs_against_a_real_named() {
    let binary = image_bin();
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    let digest = build(&binary, Some(&layout));
    let tag = "0.1.0";

    let registry = Registry::start().unwrap();
    registry.push(&layout, tag, REPO).unwrap();
    let (config, layer) = pull(&registry, tag, &digest);
    drop(registry);

    // The layer, unpacked as a runtime does, is the whole root filesystem.
    let rootfs = dir.path().join("rootfs");
    fs::create_dir(&rootfs).unwrap();
    let layer_file = dir.path().join("layer.tar.gz");
    fs::write(&layer_file, &layer).unwrap();
    let untar = Command::new("tar")
        .args(["--numeric-owner", "-xpzf"])
        .arg(&layer_file)
        .arg("-C")
        .arg(&rootfs)
        .output()
        .unwrap();
    assert!(untar.status.success(), "{untar:?}");
    let mut found = Vec::new();
    let mut stack = vec![rootfs.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(&rootfs).unwrap().display().to_string();
            found.push((rel, meta.permissions().mode() & 0o7777));
            if meta.is_dir() {
                stack.push(p);
            }
        }
    }
    found.sort();
    let expected: Vec<(String, u32)> = ROOTFS.iter().map(|(n, m)| (n.to_string(), *m)).collect();
    assert_eq!(found, expected);

    // What a container runtime adds: /etc/hosts (so a host name resolves, through the static
    // binary's own resolver). The zone directory is named's, bind-mounted at the same path
    // (named must see the files at the path bindcar writes), shared as the pod's fsGroup
    // shares it: group of the image's user, group-writable, setgid (named runs as root here,
    // but without the capability to write where its owner bits do not let it).
    fs::write(rootfs.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
    let named = Named::start(NamedOptions::default());
    let user = config["config"]["User"].as_str().unwrap().to_string();
    let (uid, gid) = user.split_once(':').unwrap();
    let zone_dir = named.zone_dir().to_path_buf();
    let chown = Command::new("chown")
        .arg(format!("0:{gid}"))
        .arg(&zone_dir)
        .status()
        .unwrap();
    assert!(chown.success());
    fs::set_permissions(&zone_dir, fs::Permissions::from_mode(0o2775)).unwrap();
    let entrypoint: Vec<String> =
        serde_json::from_value(config["config"]["Entrypoint"].clone()).unwrap();
    // A private mount namespace: the bind mount dies with the process. Each step execs the
    // next, so the child the test holds is bindcar itself.
    let script = r#"mkdir -p "$2$1" && mount --bind "$1" "$2$1" && root=$2 user=$3 && shift 3 && exec chroot --userspec="$user" "$root" "$@""#;
    let mut command: Vec<String> = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        "sh",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    command.push(zone_dir.display().to_string());
    command.push(rootfs.display().to_string());
    command.push(user.clone());
    command.extend(entrypoint);
    let port = free_port();
    let mut env = named.backend_env();
    env.retain(|(k, _)| k != "NSUPDATE_SERVER");
    env.extend([
        ("API_PORT".to_string(), port.to_string()),
        (
            "BIND_API_TOKEN".to_string(),
            "image-test-secret".to_string(),
        ),
        // A name, not an address: resolved by the static glibc from /etc/hosts.
        ("NSUPDATE_SERVER".to_string(), "localhost".to_string()),
        (
            "PATH".to_string(),
            std::env::var("PATH").unwrap_or_default(),
        ),
    ]);
    let backend = Backend::try_start_command(&command, env).unwrap_or_else(|e| panic!("{e:#}"));

    // It is the image's binary, chrooted, as the image's user.
    let pid = backend.pid().unwrap();
    assert_eq!(fs::read_link(format!("/proc/{pid}/root")).unwrap(), rootfs);
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ids = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        (ids("Uid:"), ids("Gid:")),
        (uid.to_string(), gid.to_string())
    );
    let exe = fs::metadata(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(
        exe.ino(),
        fs::metadata(rootfs.join("usr/local/bin/bindcar"))
            .unwrap()
            .ino()
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let open = Client::new(backend.base_url(), None);
        let api = open.with_token(Some("image-test-secret"));
        assert_eq!(open.get("/api/v1/health").await.0, 200);
        let (status, ready) = open.get("/api/v1/ready").await;
        assert_eq!(status, 200, "{ready}\n{}", backend.logs());
        assert_eq!(api.get("/api/v1/zones").await.0, 200);
        assert_eq!(open.get("/api/v1/zones").await.0, 401, "no token, no zones");
        let zone = dynamic_zone("image.test", named.key_name());
        let (status, body) = api.create(&zone).await;
        assert_eq!(status, 201, "{body}\n{}", backend.logs());
        assert_eq!(named.dig("www.image.test", "A"), ["192.0.2.10"]);
        let record = json!({"name": "added", "type": "A", "value": "192.0.2.99", "ttl": 60});
        let (status, body) = api.post("/api/v1/zones/image.test/records", &record).await;
        assert_eq!(status, 201, "{body}\n{}\n{}", backend.logs(), named.log());
        assert_eq!(named.dig("added.image.test", "A"), ["192.0.2.99"]);
        let (status, body) = api.get("/api/v1/zones/image.test/records?name=added").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["records"][0]["value"], "192.0.2.99", "{body}");
    });
    // Written by the image's user into the shared directory, read by named.
    let marker = zone_dir.join("image.test.zone");
    assert_eq!(fs::metadata(&marker).unwrap().uid().to_string(), uid);
}
