//! A private OCI registry on loopback (Debian's `docker-registry`, the CNCF distribution
//! registry, storing on a temporary directory), and pushing an image layout to it with
//! `skopeo`, as a release would. Stopped when dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::http::get;
use crate::ports::free_port;

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

pub struct Registry {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Result<Registry> {
        if !Path::new(REGISTRY_BIN).exists() {
            bail!("{REGISTRY_BIN} not found (Debian package docker-registry; run `make setup`)");
        }
        let dir = tempfile::tempdir()?;
        let port = free_port();
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )?;
        let log = fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawning docker-registry")?;
        let mut reg = Registry { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = reg.child.try_wait()? {
                bail!("docker-registry exited: {status}; log:\n{}", reg.log());
            }
            if get(port, "/v2/", &[]).is_ok_and(|r| r.status == 200) {
                return Ok(reg);
            }
            if Instant::now() > deadline {
                bail!("docker-registry not answering /v2/; log:\n{}", reg.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Where the filesystem driver keeps a blob's bytes.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// `skopeo copy oci:<layout>:<tag> docker://127.0.0.1:<port>/<repo>:<tag>`.
    pub fn push(&self, layout: &Path, tag: &str, repo: &str) -> Result<()> {
        let out = Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://127.0.0.1:{}/{repo}:{tag}", self.port))
            .output()
            .context("running skopeo (Debian package skopeo; run `make setup`)")?;
        if !out.status.success() {
            bail!(
                "skopeo copy failed: {}\nregistry log:\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.log()
            );
        }
        Ok(())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
