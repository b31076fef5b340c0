//! The deployment artifacts: envoy/kubernetes (plain manifests) and envoy/istio (WasmPlugin
//! and the Istio objects the callout needs).
//!
//! - Every Kubernetes document deserialises into its k8s-openapi type with nothing left
//!   over: no field that the type ignores (serde_ignored) and nothing lost in a
//!   deserialise/serialise round trip. k8s-openapi ignores unknown fields by itself, so
//!   without this a misspelt key (`replica: 2`) would pass silently; a test shows it fails.
//! - Istio objects are read into typed models of the Istio API (istio/api protos) that
//!   refuse unknown fields and unknown enum values.
//! - `kubectl kustomize` builds both directories and reads every document as we do.
//! - The WasmPlugin's pluginConfig is accepted by the filter's own parser, in TokenReview mode.
//! - The pieces fit together (labels, ports, paths, names, env, RBAC, hardening), named.conf
//!   passes named-checkconf, and the Istio-shaped callout (cluster name, TLS settings, the
//!   EnvoyFilter's credential injector, the SDS file) works in a real Envoy against a
//!   TokenReview server, including a rotated reviewer token.
//!
//! Here: reading the files. One module per concern: `kubernetes`, `istio_api` (the models),
//! `istio`, `pod`, `pieces`, `named_conf`, `callout`, `authz_roles`, `catalog` (the primary
//! and secondaries of envoy/kubernetes-catalog).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bindcar_policy::config::{FilterConfig, Mode};
use bindcar_testbed::envoy::{workspace_root, Envoy, EnvoyOptions};
use bindcar_testbed::http::get;
use bindcar_testbed::tokenreview::{MintRequest, ServerOptions, TokenReviewServer};
use bindcar_testbed::upstream::Upstream;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PersistentVolumeClaim, PodSpec, Secret, Service,
    ServiceAccount, VolumeMount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::Resource;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

mod authz_roles;
mod callout;
mod catalog;
mod istio;
mod istio_api;
mod kubernetes;
mod linkerd;
mod linkerd_api;
mod named_conf;
mod pieces;
mod pod;
mod service_accounts;

use istio::*;
use istio_api::*;
use kubernetes::*;
use pod::*;

pub(crate) const NAMESPACE: &str = "dns-system";
pub(crate) const POD_LABEL: (&str, &str) = ("app.kubernetes.io/name", "bindcar");

// ---------------------------------------------------------------------------------------
// Reading the files

pub(crate) fn dir(name: &str) -> PathBuf {
    workspace_root().join("envoy").join(name)
}

/// The .yaml files of a directory, except kustomization.yaml, sorted.
pub(crate) fn manifest_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    files
}

/// Every YAML document of a text, as JSON values (empty documents skipped).
pub(crate) fn yaml_docs(text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|e| e.to_string())?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// (file name, document) for every document of every manifest of a directory.
pub(crate) fn docs_of(dir: &Path) -> Vec<(String, Value)> {
    let files = manifest_files(dir);
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).unwrap();
        let docs = yaml_docs(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!docs.is_empty(), "{name} holds no document");
        out.extend(docs.into_iter().map(|d| (name.clone(), d)));
    }
    out
}

pub(crate) fn key_of(doc: &Value) -> String {
    format!(
        "{} {} {}/{}",
        doc["apiVersion"].as_str().unwrap_or("?"),
        doc["kind"].as_str().unwrap_or("?"),
        doc["metadata"]["namespace"].as_str().unwrap_or(""),
        doc["metadata"]["name"].as_str().unwrap_or("?")
    )
}

pub(crate) fn find<'a>(docs: &'a [(String, Value)], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

pub(crate) fn typed<T: DeserializeOwned>(doc: &Value) -> T {
    serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{}: {e}", key_of(doc)))
}
