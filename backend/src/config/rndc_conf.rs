//! Where the rndc client's server, algorithm and secret come from: `RNDC_SERVER`,
//! `RNDC_ALGORITHM`, `RNDC_SECRET`, else an rndc.conf or rndc.key file (`RNDC_CONF`, or the
//! first of /etc/bind/rndc.conf, /etc/rndc.conf, /etc/bind/rndc.key), else defaults.
//! Each value is resolved on its own, as bindcar does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::bind::conf_tokens::{tokenize, unquote};

pub const DEFAULT_SERVER: &str = "127.0.0.1:953";
pub const DEFAULT_ALGORITHM: &str = "hmac-sha256";
const DEFAULT_FILES: [&str; 3] = [
    "/etc/bind/rndc.conf",
    "/etc/rndc.conf",
    "/etc/bind/rndc.key",
];
const MAX_INCLUDE_DEPTH: usize = 8;

/// The resolved settings. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RndcSettings {
    pub server: String,
    pub algorithm: String,
    pub secret: String,
    /// Where the values came from, for the startup log.
    pub source: String,
}

impl std::fmt::Debug for RndcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RndcSettings")
            .field("server", &self.server)
            .field("algorithm", &self.algorithm)
            .field("secret", &"[REDACTED]")
            .field("source", &self.source)
            .finish()
    }
}

/// What one rndc.conf / key file provides.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConfFile {
    pub keys: BTreeMap<String, (String, String)>,
    pub default_key: Option<String>,
    pub default_server: Option<String>,
    pub default_port: Option<u16>,
}

impl ConfFile {
    pub fn load(path: &Path) -> Result<ConfFile, String> {
        let mut conf = ConfFile::default();
        conf.read(path, 0)?;
        Ok(conf)
    }

    fn read(&mut self, path: &Path, depth: usize) -> Result<(), String> {
        if depth > MAX_INCLUDE_DEPTH {
            return Err(format!(
                "{}: includes nested too deep (a cycle?)",
                path.display()
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.read_text(&text, path, depth)
    }

    /// Parses rndc.conf text as if read from `path` (its includes are read relative to it).
    /// The entry point of the fuzz target `rndc_conf` (tests/fuzz), which needs no file.
    #[doc(hidden)]
    pub fn parse_text(text: &str, path: &Path) -> Result<ConfFile, String> {
        let mut conf = ConfFile::default();
        conf.read_text(text, path, 0)?;
        Ok(conf)
    }

    fn read_text(&mut self, text: &str, path: &Path, depth: usize) -> Result<(), String> {
        let tokens = tokenize(text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut i = 0;
        while i < tokens.len() {
            let keyword = tokens[i].as_str();
            let end = statement_end(&tokens, i)
                .ok_or_else(|| format!("{}: unbalanced braces", path.display()))?;
            let statement = &tokens[i..end];
            match keyword {
                "include" => {
                    let target = statement
                        .get(1)
                        .map(|t| unquote(t))
                        .ok_or_else(|| format!("{}: include without a file", path.display()))?;
                    let target = PathBuf::from(target);
                    let target = if target.is_absolute() {
                        target
                    } else {
                        path.parent().unwrap_or(Path::new("/")).join(target)
                    };
                    self.read(&target, depth + 1)?;
                }
                "key" => {
                    let name = statement.get(1).map(|t| unquote(t)).unwrap_or_default();
                    let algorithm = value_of(statement, "algorithm");
                    let secret = value_of(statement, "secret");
                    if let (Some(algorithm), Some(secret)) = (algorithm, secret) {
                        self.keys.insert(name, (algorithm, secret));
                    }
                }
                "options" => {
                    self.default_key =
                        value_of(statement, "default-key").or(self.default_key.take());
                    self.default_server =
                        value_of(statement, "default-server").or(self.default_server.take());
                    if let Some(port) = value_of(statement, "default-port") {
                        let port = port.parse().map_err(|_| {
                            format!("{}: default-port {port:?} is not a port", path.display())
                        })?;
                        self.default_port = Some(port);
                    }
                }
                _ => {}
            }
            i = end + 1;
        }
        Ok(())
    }

    /// `default-key`, else the only key.
    pub fn key(&self) -> Result<Option<&(String, String)>, String> {
        if let Some(name) = &self.default_key {
            return self
                .keys
                .get(name)
                .map(Some)
                .ok_or_else(|| format!("default-key {name:?} is not defined"));
        }
        match self.keys.len() {
            0 => Ok(None),
            1 => Ok(self.keys.values().next()),
            _ => Err("several keys and no default-key".into()),
        }
    }
}

/// Index of the `;` ending the statement that starts at `start` (depth 0).
fn statement_end(tokens: &[String], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token.as_str() {
            "{" => depth += 1,
            "}" => depth = depth.checked_sub(1)?,
            ";" if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// The value after `keyword` inside a statement's block (`algorithm hmac-sha256;`).
fn value_of(statement: &[String], keyword: &str) -> Option<String> {
    statement
        .windows(3)
        .find(|w| w[0] == keyword && w[2] == ";")
        .map(|w| unquote(&w[1]))
}

/// Resolves the settings from the environment values and the files.
pub fn resolve(
    server: Option<&str>,
    algorithm: Option<&str>,
    secret: Option<&str>,
    conf: Option<&Path>,
) -> Result<RndcSettings, String> {
    let nonempty = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (server, algorithm, secret) = (nonempty(server), nonempty(algorithm), nonempty(secret));
    let (file, file_path) = match conf {
        Some(path) => (Some(ConfFile::load(path)?), Some(path.to_path_buf())),
        None if server.is_some() && algorithm.is_some() && secret.is_some() => (None, None),
        None => DEFAULT_FILES
            .iter()
            .map(Path::new)
            .filter(|p| p.exists())
            .find_map(|p| {
                ConfFile::load(p)
                    .ok()
                    .map(|c| (Some(c), Some(p.to_path_buf())))
            })
            .unwrap_or((None, None)),
    };
    let key = match &file {
        Some(file) => file.key().map_err(|e| match &file_path {
            Some(p) => format!("{}: {e}", p.display()),
            None => e,
        })?,
        None => None,
    };
    let from_file = |what: &str| {
        file_path
            .as_ref()
            .map(|p| format!("{what} from {}", p.display()))
            .unwrap_or_default()
    };
    let mut sources = Vec::new();
    let server = match server {
        Some(s) => {
            sources.push("server from RNDC_SERVER".to_string());
            s
        }
        None => match file
            .as_ref()
            .and_then(|f| f.default_server.clone().map(|s| (s, f.default_port)))
        {
            Some((host, port)) => {
                sources.push(from_file("server"));
                format!("{host}:{}", port.unwrap_or(953))
            }
            None => match file.as_ref().and_then(|f| f.default_port) {
                Some(port) => format!("127.0.0.1:{port}"),
                None => DEFAULT_SERVER.to_string(),
            },
        },
    };
    let server = if server.contains(':') && !server.ends_with(']') {
        server
    } else {
        format!("{server}:953")
    };
    let algorithm = match algorithm {
        Some(a) => normalise_algorithm(&a)?,
        None => match key {
            Some((a, _)) => {
                sources.push(from_file("algorithm"));
                hmac_sha2(a).map_err(|why| {
                    let file = file_path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    format!("RNDC_CONF {file}: the key's algorithm {a}: {why}")
                })?
            }
            None => DEFAULT_ALGORITHM.to_string(),
        },
    };
    let secret = match secret {
        Some(s) => {
            sources.push("secret from RNDC_SECRET".to_string());
            s
        }
        None => match key {
            Some((_, s)) if !s.is_empty() => {
                sources.push(from_file("secret"));
                s.clone()
            }
            _ => return Err(
                "no rndc secret: set RNDC_SECRET (base64, the secret of named's controls key), \
                     or RNDC_CONF to an rndc.conf or rndc.key file"
                    .into(),
            ),
        },
    };
    Ok(RndcSettings {
        server,
        algorithm,
        secret,
        source: sources.join(", "),
    })
}

/// `sha256` / `hmac-sha256` → `hmac-sha256`; MD5 and SHA-1 refused (as bindcar 0.9.0).
/// The error names `RNDC_ALGORITHM`.
pub fn normalise_algorithm(raw: &str) -> Result<String, String> {
    hmac_sha2(raw).map_err(|why| format!("RNDC_ALGORITHM {raw}: {why}"))
}

/// The one algorithm policy of the control channel and of TSIG (`NSUPDATE_ALGORITHM` too):
/// HMAC with SHA-2, nothing older. The error is the reason alone; callers name the variable.
pub fn hmac_sha2(raw: &str) -> Result<String, String> {
    let lower = raw.trim().to_ascii_lowercase();
    let bare = lower.strip_prefix("hmac-").unwrap_or(&lower);
    match bare {
        "sha224" | "sha256" | "sha384" | "sha512" => Ok(format!("hmac-{bare}")),
        "md5" | "sha1" => Err(
            "MD5 and SHA-1 are refused; use hmac-sha256 (tsig-keygen -a hmac-sha256), or \
             hmac-sha224/384/512"
                .into(),
        ),
        _ => Err("expected hmac-sha224, hmac-sha256, hmac-sha384 or hmac-sha512".into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn scratch(name: &str, text: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("bindcar-rndc-conf-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_rndc_conf_with_include() {
        let key = scratch(
            "rndc.key",
            "key \"rndc-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0\";\n};\n",
        );
        let conf = scratch(
            "rndc.conf",
            &format!(
                "include \"{}\";\noptions {{ default-key \"rndc-key\"; default-server 127.0.0.1; default-port 9953; }};\n",
                key.display()
            ),
        );
        let settings = resolve(None, None, None, Some(&conf)).unwrap();
        assert_eq!(settings.server, "127.0.0.1:9953");
        assert_eq!(settings.algorithm, "hmac-sha256");
        assert_eq!(settings.secret, "c2VjcmV0");
        assert!(!format!("{settings:?}").contains("c2VjcmV0"));
        // environment wins, value by value
        let settings = resolve(Some("10.0.0.1:953"), Some("sha512"), None, Some(&conf)).unwrap();
        assert_eq!(
            (settings.server.as_str(), settings.algorithm.as_str()),
            ("10.0.0.1:953", "hmac-sha512")
        );
        assert_eq!(settings.secret, "c2VjcmV0");
        // a bare key file is enough
        let settings = resolve(Some("127.0.0.1:1"), None, None, Some(&key)).unwrap();
        assert_eq!(settings.secret, "c2VjcmV0");
    }

    #[test]
    fn refuses_weak_algorithms_and_missing_secret() {
        for weak in ["hmac-md5", "SHA1", "hmac-sha1", "md5"] {
            let error = normalise_algorithm(weak).unwrap_err();
            assert!(
                error.starts_with(&format!("RNDC_ALGORITHM {weak}:"))
                    && error.contains("MD5 and SHA-1"),
                "{error}"
            );
        }
        assert!(normalise_algorithm("hmac-sha256-128").is_err());
        // A weak key from a file names the file and RNDC_CONF, not a variable that is unset.
        let md5 = scratch(
            "md5.key",
            "key \"rndc-key\" { algorithm hmac-md5; secret \"c2VjcmV0\"; };",
        );
        let error = resolve(Some("127.0.0.1:1"), None, None, Some(&md5)).unwrap_err();
        assert!(
            error.starts_with("RNDC_CONF ")
                && error.contains("md5.key")
                && error.contains("MD5 and SHA-1 are refused"),
            "{error}"
        );
        // The environment's algorithm wins over the file's, and is checked as such.
        assert_eq!(
            resolve(Some("127.0.0.1:1"), Some("hmac-sha512"), None, Some(&md5))
                .unwrap()
                .algorithm,
            "hmac-sha512"
        );
        let error = resolve(Some("127.0.0.1:1"), Some("sha1"), Some("YQ=="), None).unwrap_err();
        assert!(error.starts_with("RNDC_ALGORITHM sha1:"), "{error}");
        assert_eq!(normalise_algorithm("SHA384").unwrap(), "hmac-sha384");
        let empty = scratch("empty.conf", "options { default-port 1; };");
        let err = resolve(Some("127.0.0.1:1"), None, None, Some(&empty)).unwrap_err();
        assert!(err.contains("RNDC_SECRET"), "{err}");
        let two = scratch("two.conf", "key a { algorithm hmac-sha256; secret \"YQ==\"; }; key b { algorithm hmac-sha256; secret \"Yg==\"; };");
        assert!(resolve(None, None, None, Some(&two)).is_err());
    }
}
