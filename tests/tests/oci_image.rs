//! The filter as an OCI image Istio can pull (`make oci`, `scripts/oci-image.py`), for real:
//! the image built from `dist/bindcar_auth_filter.wasm` is reproducible and has the shape of
//! Istio's "compat" Wasm image; `skopeo copy` pushes the layout to a real registry (Debian's
//! `docker-registry`, the CNCF distribution registry) without changing its digest; pulled back
//! over the registry's HTTP API as Istio's agent does (manifest by tag, checked against the
//! pinned digest, then the layer by digest, `plugin.wasm` out of the tar+gzip), the module
//! runs in the real Envoy. The digest pinned in `envoy/istio/wasmplugin.yaml` (and quoted in
//! its README) must be the one the builder computes for the current module.
//!
//! A missing `docker-registry`, `skopeo`, Envoy or `python3` fails the test (run `make setup`);
//! a missing module fails it too (run `make wasm`). Nothing skips.
//!
//! Over 400 lines on purpose for now: the pull client (standing in for Istio's agent) lives
//! beside the only tests that use it. The registry is `bindcar_testbed::registry`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bindcar_testbed::envoy::{bootstrap_yaml, workspace_root, Envoy, EnvoyOptions};
use bindcar_testbed::http::get;
use bindcar_testbed::ports::free_port;
use bindcar_testbed::registry::{Registry, REGISTRY_BIN};
use bindcar_testbed::upstream::Upstream;
use serde_json::Value;
use sha2::{Digest, Sha256};

const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MT_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const MT_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// What Istio's agent (go-containerregistry) asks for, in substance.
const MANIFEST_ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
const REPO: &str = "bindcar-auth-filter";
const MODULE: &str = "dist/bindcar_auth_filter.wasm";
const WASMPLUGIN: &str = "envoy/istio/wasmplugin.yaml";
const README: &str = "envoy/istio/README.md";
const MISSING: &str = "Missing Authorization header";

// --- digests ---------------------------------------------------------------------------------

fn sha256_digest(bytes: &[u8]) -> String {
    let sum = Sha256::digest(bytes);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in sum.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Refuses bytes whose SHA-256 is not `expected` (`sha256:<hex>`).
fn verify_digest(what: &str, expected: &str, bytes: &[u8]) -> Result<()> {
    let actual = sha256_digest(bytes);
    if actual != expected {
        bail!(
            "{what}: refused, the {} bytes received hash to {actual}, expected {expected}",
            bytes.len()
        );
    }
    Ok(())
}

// --- the OCI pull client: what Istio's agent does ---------------------------------------------

#[derive(Debug)]
struct Descriptor {
    media_type: String,
    digest: String,
    size: usize,
}

fn descriptor(v: &Value, what: &str) -> Result<Descriptor> {
    let media_type = v["mediaType"]
        .as_str()
        .context(format!("{what}: no mediaType"))?;
    let digest = v["digest"].as_str().context(format!("{what}: no digest"))?;
    let size = v["size"].as_u64().context(format!("{what}: no size"))?;
    if !digest.starts_with("sha256:") || digest.len() != 71 {
        bail!("{what}: digest {digest:?} is not sha256:<64 hex>");
    }
    Ok(Descriptor {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size: usize::try_from(size)?,
    })
}

/// The config and the single layer of a compat image manifest; anything else is refused
/// (Istio's compat path wants exactly one tar+gzip layer).
fn parse_manifest(body: &[u8]) -> Result<(Descriptor, Descriptor)> {
    let m: Value = serde_json::from_slice(body).context("manifest is not JSON")?;
    if m["schemaVersion"] != 2 {
        bail!("manifest schemaVersion {} is not 2", m["schemaVersion"]);
    }
    let media_type = m["mediaType"].as_str().unwrap_or(MT_OCI_MANIFEST);
    let layer_type = match media_type {
        MT_OCI_MANIFEST => MT_OCI_LAYER,
        MT_DOCKER_MANIFEST => MT_DOCKER_LAYER,
        other => bail!("manifest media type {other} is not an image manifest"),
    };
    let config = descriptor(&m["config"], "config")?;
    let layers = m["layers"].as_array().context("manifest has no layers")?;
    if layers.len() != 1 {
        bail!("{} layers: a compat Wasm image has exactly 1", layers.len());
    }
    let layer = descriptor(&layers[0], "layer")?;
    if layer.media_type != layer_type {
        bail!(
            "layer media type {} (expected {layer_type})",
            layer.media_type
        );
    }
    Ok((config, layer))
}

/// `plugin.wasm` (by base name, as Istio matches it) out of a tar+gzip layer.
fn extract_plugin(layer: &[u8]) -> Result<Vec<u8>> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(layer)
        .read_to_end(&mut tar)
        .context("layer is not gzip")?;
    let mut at = 0;
    while at + 512 <= tar.len() {
        let h = &tar[at..at + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let field = |r: std::ops::Range<usize>| {
            let f = &h[r];
            let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
            String::from_utf8_lossy(&f[..end]).into_owned()
        };
        let size = usize::from_str_radix(field(124..136).trim(), 8)
            .with_context(|| format!("tar header at {at}: bad size"))?;
        let (name, prefix) = (field(0..100), field(345..500));
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let data = at + 512;
        if data + size > tar.len() {
            bail!("tar entry {path:?} runs past the end of the archive");
        }
        let regular = matches!(h[156], b'0' | 0);
        if regular && Path::new(&path).file_name() == Some("plugin.wasm".as_ref()) {
            return Ok(tar[data..data + size].to_vec());
        }
        at = data + size.div_ceil(512) * 512;
    }
    bail!("plugin.wasm not found in the layer")
}

struct Pulled {
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer_digest: String,
    module: Vec<u8>,
}

fn pull_manifest(port: u16, reference: &str, expected: &str) -> Result<(Vec<u8>, String)> {
    let path = format!("/v2/{REPO}/manifests/{reference}");
    let r = get(port, &path, &[("accept", MANIFEST_ACCEPT.as_bytes())])?;
    if r.status != 200 {
        bail!("GET {path}: HTTP {}: {}", r.status, r.text());
    }
    let header = r
        .header("docker-content-digest")
        .context(format!("GET {path}: no Docker-Content-Digest header"))?;
    if header != expected {
        bail!("GET {path}: refused, Docker-Content-Digest {header}, expected {expected}");
    }
    verify_digest(&format!("GET {path}"), expected, &r.body)?;
    let content_type = r.header("content-type").unwrap_or("").to_string();
    Ok((r.body, content_type))
}

fn pull_blob(port: u16, d: &Descriptor) -> Result<Vec<u8>> {
    let path = format!("/v2/{REPO}/blobs/{}", d.digest);
    let r = get(port, &path, &[])?;
    if r.status != 200 {
        bail!("GET {path}: HTTP {}: {}", r.status, r.text());
    }
    verify_digest(&format!("GET {path}"), &d.digest, &r.body)?;
    if r.body.len() != d.size {
        bail!(
            "GET {path}: {} bytes, the manifest says {}",
            r.body.len(),
            d.size
        );
    }
    Ok(r.body)
}

/// Manifest by tag (its digest must be `expected`), config and layer by digest, `plugin.wasm`.
fn pull(port: u16, tag: &str, expected: &str) -> Result<Pulled> {
    let (manifest, content_type) = pull_manifest(port, tag, expected)?;
    let (config_d, layer_d) = parse_manifest(&manifest)?;
    let declared = serde_json::from_slice::<Value>(&manifest)?["mediaType"]
        .as_str()
        .unwrap_or(MT_OCI_MANIFEST)
        .to_string();
    if content_type != declared {
        bail!("manifest served as {content_type:?}, declares {declared:?}");
    }
    let config = pull_blob(port, &config_d)?;
    let layer = pull_blob(port, &layer_d)?;
    let module = extract_plugin(&layer)?;
    Ok(Pulled {
        manifest,
        config,
        layer_digest: layer_d.digest,
        module,
    })
}

// --- the builder, the module, the pin --------------------------------------------------------

fn module() -> Vec<u8> {
    let p = workspace_root().join(MODULE);
    fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (run `make wasm`)", p.display()))
}

/// Runs `python3 scripts/oci-image.py <args>` from the workspace root.
fn builder(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg("scripts/oci-image.py")
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap_or_else(|e| {
            panic!("python3: {e} (python3 is needed by `make oci`; run `make setup`)")
        })
}

/// The manifest digest (`sha256:<hex>`) the builder gives `wasm`; with `out`, also writes the layout.
fn build(wasm: &Path, out: Option<&Path>) -> String {
    let w = wasm.display().to_string();
    let o = out.map(|o| o.display().to_string());
    let args: Vec<&str> = match &o {
        Some(o) => vec!["build", "--out", o, &w],
        None => vec!["digest", &w],
    };
    let r = builder(&args);
    assert!(
        r.status.success(),
        "scripts/oci-image.py {args:?} failed: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    let digest = String::from_utf8_lossy(&r.stdout).trim().to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest:?}"
    );
    digest
}

/// (`sha256:<pinned hex>`, the tag of `url`) from the WasmPlugin.
fn pinned() -> (String, String) {
    let text = fs::read_to_string(workspace_root().join(WASMPLUGIN)).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let sha = doc["spec"]["sha256"]
        .as_str()
        .expect("spec.sha256")
        .to_string();
    let url = doc["spec"]["url"].as_str().expect("spec.url");
    let name = url
        .strip_prefix("oci://")
        .unwrap_or_else(|| panic!("url {url:?} is not oci://"));
    let (repo, tag) = name.rsplit_once(':').expect("url has a tag");
    assert!(
        repo.ends_with(&format!("/{REPO}")) && !tag.contains('/'),
        "url {url:?}: expected <registry>/.../{REPO}:<tag>"
    );
    (format!("sha256:{sha}"), tag.to_string())
}

/// Every `sha256:<64 hex>` quoted in the README.
fn readme_digests() -> Vec<String> {
    let text = fs::read_to_string(workspace_root().join(README)).unwrap();
    let mut found = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("sha256:") {
        let hex: String = rest[i + 7..].chars().take(64).collect();
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            found.push(format!("sha256:{hex}"));
        }
        rest = &rest[i + 7..];
    }
    found
}

/// The pinned digest, after checking it is the builder's for the current module.
fn current_pin() -> (String, String) {
    let wasm = workspace_root().join(MODULE);
    let bytes = module();
    let computed = build(&wasm, None);
    let (pin, tag) = pinned();
    assert_eq!(
        pin,
        computed,
        "stale pin: {WASMPLUGIN} pins the image digest {pin}, but `make oci` (scripts/oci-image.py) \
         gives {computed} for the current {MODULE} ({} bytes, module {}); the module changed since \
         the last pin. Run `make oci-pin` and commit {WASMPLUGIN} and {README}.",
        bytes.len(),
        sha256_digest(&bytes),
    );
    (pin, tag)
}

/// The error of a pull that must fail (the pulled bytes are not printed if it succeeded).
fn refused(r: Result<Pulled>, case: &str) -> String {
    match r {
        Ok(p) => panic!("{case}: accepted ({} module bytes)", p.module.len()),
        Err(e) => format!("{e:#}"),
    }
}

fn require(bin: &str, what: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(found, "{bin} not found ({what}; run `make setup`)");
}

// --- tests -------------------------------------------------------------------------------------

#[test]
fn the_pinned_digest_is_the_one_make_oci_computes_for_the_current_module() {
    let (pin, _) = current_pin();
    let quoted = readme_digests();
    assert!(
        quoted.contains(&pin),
        "{README} does not quote the pinned digest {pin} (it quotes {quoted:?}); run `make oci-pin`"
    );
    assert!(
        quoted.iter().all(|d| d == &pin),
        "{README} quotes {quoted:?}, the pin is {pin}; run `make oci-pin`"
    );
}

/// A small valid module of our own, independent of the filter build.
fn toy_module(dir: &Path, extra: &[u8]) -> PathBuf {
    let p = dir.join("toy.wasm");
    let mut b = b"\0asm\x01\0\0\0".to_vec();
    b.extend_from_slice(extra);
    fs::write(&p, b).unwrap();
    p
}

#[test]
fn the_image_is_reproducible_and_shaped_as_istio_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = toy_module(
        dir.path(),
        &(0..=255u8).cycle().take(5000).collect::<Vec<_>>(),
    );
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let digest = build(&wasm, Some(&a));
    // Another time, another directory, the file touched: the same bytes.
    std::thread::sleep(Duration::from_millis(1100));
    fs::write(&wasm, fs::read(&wasm).unwrap()).unwrap();
    assert_eq!(build(&wasm, Some(&b)), digest);
    assert_eq!(build(&wasm, None), digest);
    let files = |root: &Path| {
        let mut v: Vec<(String, Vec<u8>)> = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(root).unwrap().display().to_string();
                    v.push((rel, fs::read(&p).unwrap()));
                }
            }
        }
        v.sort();
        v
    };
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa, fb, "two builds of the same module differ");
    let names: Vec<&str> = fa.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.contains(&"oci-layout") && names.contains(&"index.json"));

    // Layout: index → manifest (tag as ref.name) → config + one layer, every blob named by its hash.
    assert_eq!(
        fs::read_to_string(a.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index: Value = serde_json::from_slice(&fs::read(a.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0]["annotations"]["org.opencontainers.image.ref.name"],
        "0.1.0"
    );
    let m = descriptor(&entries[0], "index entry").unwrap();
    assert_eq!(
        (m.media_type.as_str(), m.digest.as_str()),
        (MT_OCI_MANIFEST, digest.as_str())
    );
    let blob = |d: &str| fs::read(a.join("blobs/sha256").join(&d[7..])).unwrap();
    for (name, bytes) in &fa {
        if let Some(hex) = name.strip_prefix("blobs/sha256/") {
            assert_eq!(sha256_digest(bytes), format!("sha256:{hex}"));
        }
    }
    let manifest = blob(&digest);
    assert_eq!(manifest.len(), m.size);
    let (config_d, layer_d) = parse_manifest(&manifest).unwrap();
    assert_eq!(config_d.media_type, MT_OCI_CONFIG);
    let mv: Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(mv["annotations"]["module.wasm.image/variant"], "compat");
    let layer = blob(&layer_d.digest);
    assert_eq!(layer.len(), layer_d.size);
    assert_eq!(extract_plugin(&layer).unwrap(), fs::read(&wasm).unwrap());

    // gzip header: no mtime, no file name (FLG without FNAME), deflate.
    assert_eq!(&layer[..4], &[0x1f, 0x8b, 8, 0], "gzip with no flags");
    assert_eq!(&layer[4..8], &[0, 0, 0, 0], "gzip mtime 0");
    // The tar entry: plugin.wasm, mode 0644, uid/gid 0, mtime 0, no owner names.
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&layer[..])
        .read_to_end(&mut tar)
        .unwrap();
    let h = &tar[..512];
    let field = |r: std::ops::Range<usize>| {
        String::from_utf8_lossy(&h[r])
            .trim_end_matches('\0')
            .trim()
            .to_string()
    };
    assert_eq!(field(0..100), "plugin.wasm");
    assert_eq!(u32::from_str_radix(&field(100..108), 8).unwrap(), 0o644);
    assert_eq!(u32::from_str_radix(&field(108..116), 8).unwrap(), 0, "uid");
    assert_eq!(u32::from_str_radix(&field(116..124), 8).unwrap(), 0, "gid");
    assert_eq!(
        u64::from_str_radix(&field(136..148), 8).unwrap(),
        0,
        "mtime"
    );
    assert_eq!(
        (field(265..297), field(297..329)),
        (String::new(), String::new())
    );
    // The config names the uncompressed layer.
    let config: Value = serde_json::from_slice(&blob(&config_d.digest)).unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        sha256_digest(&tar).as_str()
    );

    // Another module, another digest.
    let other = toy_module(dir.path(), b"x");
    assert_ne!(build(&other, None), digest);
}

#[test]
fn the_builder_refuses_what_is_not_a_module() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Option<&[u8]>, &str)> = vec![
        ("missing.wasm", None, "no such file"),
        ("empty.wasm", Some(b""), "empty file"),
        ("text.wasm", Some(b"hello world\n"), "not a Wasm module"),
        ("v2.wasm", Some(b"\0asm\x02\0\0\0"), "is not 01000000"),
    ];
    for (name, content, message) in cases {
        let p = dir.path().join(name);
        if let Some(c) = content {
            fs::write(&p, c).unwrap();
        }
        let out = dir.path().join(format!("{name}.oci"));
        let r = builder(&[
            "build",
            "--out",
            &out.display().to_string(),
            &p.display().to_string(),
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(message), "{name}: {err}");
        assert!(
            r.stdout.is_empty() && !out.exists(),
            "{name}: output despite the refusal"
        );
    }
    // A directory that is not an image layout is not overwritten.
    let wasm = toy_module(dir.path(), b"");
    let precious = dir.path().join("precious");
    fs::create_dir(&precious).unwrap();
    fs::write(precious.join("keep"), b"1").unwrap();
    let r = builder(&[
        "build",
        "--out",
        &precious.display().to_string(),
        &wasm.display().to_string(),
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(precious.join("keep").exists());
}

#[test]
fn the_pull_client_refuses_tampered_bytes_and_other_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = toy_module(dir.path(), b"module bytes");
    let layout = dir.path().join("oci");
    let digest = build(&wasm, Some(&layout));
    let blob = |d: &str| fs::read(layout.join("blobs/sha256").join(&d[7..])).unwrap();
    let manifest = blob(&digest);
    let (_, layer_d) = parse_manifest(&manifest).unwrap();
    let layer = blob(&layer_d.digest);
    verify_digest("manifest", &digest, &manifest).unwrap();
    verify_digest("layer", &layer_d.digest, &layer).unwrap();

    // One byte changed anywhere, or a byte more: refused, saying both digests.
    for at in [0, manifest.len() / 2, manifest.len() - 1] {
        let mut t = manifest.clone();
        t[at] ^= 0x20;
        let e = verify_digest("manifest", &digest, &t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("refused") && e.contains(&digest), "{e}");
    }
    for at in [0, layer.len() / 2, layer.len() - 1] {
        let mut t = layer.clone();
        t[at] ^= 1;
        let e = verify_digest("layer", &layer_d.digest, &t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("refused") && e.contains(&layer_d.digest), "{e}");
    }
    let mut longer = layer.clone();
    longer.push(0);
    assert!(verify_digest("layer", &layer_d.digest, &longer).is_err());

    // Shapes Istio's compat path does not read.
    let mut m: Value = serde_json::from_slice(&manifest).unwrap();
    let l0 = m["layers"][0].clone();
    m["layers"] = serde_json::json!([l0.clone(), l0.clone()]);
    assert!(
        parse_manifest(m.to_string().as_bytes()).is_err(),
        "two layers"
    );
    m["layers"] = serde_json::json!([]);
    assert!(
        parse_manifest(m.to_string().as_bytes()).is_err(),
        "no layer"
    );
    let mut wrong = l0;
    wrong["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd".into();
    m["layers"] = serde_json::json!([wrong]);
    assert!(
        parse_manifest(m.to_string().as_bytes()).is_err(),
        "zstd layer"
    );
    assert!(parse_manifest(b"not json").is_err());
    // A tar+gzip without plugin.wasm, and bytes that are not gzip.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &[0u8; 1024]).unwrap();
    let e = extract_plugin(&gz.finish().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("plugin.wasm not found"), "{e}");
    assert!(extract_plugin(b"\0asm\x01\0\0\0").is_err());
}

#[test]
fn pushed_with_skopeo_and_pulled_as_istio_would_the_module_runs_in_envoy() {
    require("skopeo", "Debian package skopeo");
    assert!(
        Path::new(REGISTRY_BIN).exists(),
        "{REGISTRY_BIN} not found (Debian package docker-registry; run `make setup`)"
    );
    bindcar_testbed::envoy::envoy_bin().unwrap();
    let (pin, tag) = current_pin();
    let module = module();

    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    assert_eq!(build(&workspace_root().join(MODULE), Some(&layout)), pin);
    let image_bytes: u64 = fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();

    let registry = Registry::start().unwrap();
    let started = Instant::now();
    let push = Command::new("skopeo")
        .args(["--insecure-policy", "copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:{tag}", layout.display()))
        .arg(format!("docker://127.0.0.1:{}/{REPO}:{tag}", registry.port))
        .output()
        .unwrap();
    let push_time = started.elapsed();
    assert!(
        push.status.success(),
        "skopeo copy failed: {}\nregistry log:\n{}",
        String::from_utf8_lossy(&push.stderr),
        registry.log()
    );

    let started = Instant::now();
    let pulled = pull(registry.port, &tag, &pin)
        .unwrap_or_else(|e| panic!("pull: {e:#}\nregistry log:\n{}", registry.log()));
    let pull_time = started.elapsed();
    eprintln!(
        "image {pin}: {image_bytes} bytes in 3 blobs (module {} bytes); skopeo push {push_time:?}, \
         pull (manifest, config, layer, extract) {pull_time:?}",
        module.len()
    );
    assert_eq!(pulled.module, module, "plugin.wasm differs from {MODULE}");
    assert_eq!(sha256_digest(&pulled.manifest), pin);
    let config: Value = serde_json::from_slice(&pulled.config).unwrap();
    assert_eq!(config["os"], "wasip1");

    // Exactly those bytes, loaded by the real Envoy in basic mode.
    let wasm = dir.path().join("plugin.wasm");
    fs::write(&wasm, &pulled.module).unwrap();
    let up = Upstream::start().unwrap();
    let (port, admin) = (free_port(), free_port());
    let cfg = dir.path().join("envoy.yaml");
    let options = EnvoyOptions::filter(r#"{"mode":"basic"}"#, up.port);
    fs::write(&cfg, bootstrap_yaml(&options, port, admin, &wasm)).unwrap();
    let envoy = Envoy::start_file(&cfg, dir.path(), port, admin).unwrap();
    let r = get(envoy.port, "/api/v1/zones", &[]).unwrap();
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "Unauthorized", "message": MISSING})
    );
    assert_eq!(
        up.count(),
        0,
        "a request without token reached the upstream"
    );
    let r = get(
        envoy.port,
        "/api/v1/zones",
        &[("authorization", b"Bearer abc")],
    )
    .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(up.count(), 1);
    drop(envoy);

    // A tag the registry does not have: its 404, reported.
    let e = refused(pull(registry.port, "0.0.0-missing", &pin), "unknown tag");
    assert!(
        e.contains("HTTP 404") && e.contains("MANIFEST_UNKNOWN"),
        "{e}"
    );
    // A pin that is not the image's (a stale pin): refused, as Istio's agent refuses it.
    let mut stale = pin.clone().into_bytes();
    let last = stale.len() - 1;
    stale[last] = if stale[last] == b'0' { b'1' } else { b'0' };
    let stale = String::from_utf8(stale).unwrap();
    let e = refused(pull(registry.port, &tag, &stale), "stale pin");
    assert!(e.contains("refused") && e.contains(&stale), "{e}");
    // A layer whose stored bytes were changed behind the registry's back (same size): the
    // registry serves them, the pull refuses them.
    let stored = registry.blob_file(&pulled.layer_digest);
    let mut bytes = fs::read(&stored).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\nregistry log:\n{}",
            stored.display(),
            registry.log()
        )
    });
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&stored, &bytes).unwrap();
    let e = refused(pull(registry.port, &tag, &pin), "tampered layer");
    assert!(
        e.contains("refused") && e.contains(&pulled.layer_digest),
        "{e}"
    );
}
