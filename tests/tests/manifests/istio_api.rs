//! Typed models of the Istio API objects we ship (istio/api protos): WasmPlugin,
//! DestinationRule, PeerAuthentication, EnvoyFilter. They refuse unknown fields and enum
//! values, which is what the checks rely on.

use super::*;

#[allow(dead_code)] // read by serde: unknown fields are what is checked
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IstioMetadata {
    pub(crate) name: String,
    pub(crate) namespace: String,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) annotations: BTreeMap<String, String>,
}

#[allow(dead_code)] // read by serde: unknown fields are what is checked
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct IstioObject<S> {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) metadata: IstioMetadata,
    pub(crate) spec: S,
}

/// istio.type.v1beta1.WorkloadSelector
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct WorkloadSelector {
    pub(crate) match_labels: BTreeMap<String, String>,
}

/// istio.type.v1beta1.PolicyTargetReference
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct PolicyTargetReference {
    pub(crate) group: Option<String>,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
}

/// istio.type.v1beta1.PortSelector
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PortSelector {
    pub(crate) number: u32,
}

/// istio.extensions.v1alpha1.WasmPlugin (extensions/v1alpha1/wasm.proto)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct WasmPluginSpec {
    pub(crate) selector: Option<WorkloadSelector>,
    pub(crate) target_ref: Option<PolicyTargetReference>,
    pub(crate) target_refs: Option<Vec<PolicyTargetReference>>,
    pub(crate) url: String,
    pub(crate) sha256: Option<String>,
    pub(crate) image_pull_policy: Option<PullPolicy>,
    pub(crate) image_pull_secret: Option<String>,
    pub(crate) verification_key: Option<String>,
    pub(crate) plugin_config: Option<serde_json::Map<String, Value>>,
    pub(crate) plugin_name: Option<String>,
    pub(crate) phase: Option<PluginPhase>,
    pub(crate) priority: Option<i32>,
    pub(crate) fail_strategy: Option<FailStrategy>,
    pub(crate) vm_config: Option<VmConfig>,
    #[serde(rename = "match")]
    pub(crate) traffic_selectors: Option<Vec<TrafficSelector>>,
    #[serde(rename = "type")]
    pub(crate) plugin_type: Option<PluginType>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
pub(crate) enum PullPolicy {
    #[serde(rename = "UNSPECIFIED_POLICY")]
    Unspecified,
    IfNotPresent,
    Always,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum PluginPhase {
    UnspecifiedPhase,
    Authn,
    Authz,
    Stats,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum FailStrategy {
    #[serde(rename = "FAIL_CLOSE")]
    Close,
    #[serde(rename = "FAIL_OPEN")]
    Open,
    #[serde(rename = "FAIL_RELOAD")]
    Reload,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum PluginType {
    #[serde(rename = "UNSPECIFIED_PLUGIN_TYPE")]
    Unspecified,
    Http,
    Network,
}

/// istio.type.v1beta1.WorkloadMode
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum WorkloadMode {
    Undefined,
    Client,
    Server,
    ClientAndServer,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrafficSelector {
    pub(crate) mode: Option<WorkloadMode>,
    pub(crate) ports: Option<Vec<PortSelector>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct VmConfig {
    pub(crate) env: Option<Vec<VmEnvVar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct VmEnvVar {
    pub(crate) name: String,
    pub(crate) value_from: Option<EnvValueSource>,
    pub(crate) value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum EnvValueSource {
    Inline,
    Host,
}

/// istio.networking.v1alpha3.DestinationRule: the fields used here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DestinationRuleSpec {
    pub(crate) host: String,
    pub(crate) traffic_policy: Option<TrafficPolicy>,
    pub(crate) export_to: Option<Vec<String>>,
    pub(crate) workload_selector: Option<WorkloadSelector>,
}

#[allow(dead_code)] // read by serde: unknown fields are what is checked
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct TrafficPolicy {
    pub(crate) tls: Option<ClientTlsSettings>,
    pub(crate) port_level_settings: Option<Vec<PortTrafficPolicy>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PortTrafficPolicy {
    pub(crate) port: PortSelector,
    pub(crate) tls: Option<ClientTlsSettings>,
}

/// ClientTLSSettings
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct ClientTlsSettings {
    pub(crate) mode: TlsMode,
    pub(crate) client_certificate: Option<String>,
    pub(crate) private_key: Option<String>,
    pub(crate) ca_certificates: Option<String>,
    pub(crate) credential_name: Option<String>,
    pub(crate) subject_alt_names: Option<Vec<String>>,
    pub(crate) sni: Option<String>,
    pub(crate) insecure_skip_verify: Option<bool>,
    pub(crate) ca_crl: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum TlsMode {
    Disable,
    Simple,
    Mutual,
    IstioMutual,
}

/// istio.security.v1beta1.PeerAuthentication
#[allow(dead_code)] // read by serde: unknown fields are what is checked
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct PeerAuthenticationSpec {
    pub(crate) selector: Option<WorkloadSelector>,
    pub(crate) mtls: Option<MutualTls>,
    pub(crate) port_level_mtls: Option<BTreeMap<String, MutualTls>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MutualTls {
    pub(crate) mode: MtlsMode,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum MtlsMode {
    Unset,
    Disable,
    Permissive,
    Strict,
}

/// istio.networking.v1alpha3.EnvoyFilter: the fields used here (a CLUSTER patch).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct EnvoyFilterSpec {
    pub(crate) workload_selector: Option<EnvoyFilterWorkloadSelector>,
    pub(crate) config_patches: Vec<EnvoyConfigObjectPatch>,
    pub(crate) priority: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvoyFilterWorkloadSelector {
    pub(crate) labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct EnvoyConfigObjectPatch {
    pub(crate) apply_to: ApplyTo,
    #[serde(rename = "match")]
    pub(crate) match_: Option<EnvoyConfigObjectMatch>,
    pub(crate) patch: Patch,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ApplyTo {
    Listener,
    FilterChain,
    NetworkFilter,
    HttpFilter,
    RouteConfiguration,
    VirtualHost,
    HttpRoute,
    Cluster,
    ExtensionConfig,
    Bootstrap,
    ListenerFilter,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvoyConfigObjectMatch {
    pub(crate) context: Option<PatchContext>,
    pub(crate) cluster: Option<ClusterMatch>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum PatchContext {
    Any,
    SidecarInbound,
    SidecarOutbound,
    Gateway,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct ClusterMatch {
    pub(crate) port_number: Option<u32>,
    pub(crate) service: Option<String>,
    pub(crate) subset: Option<String>,
    pub(crate) name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Patch {
    pub(crate) operation: PatchOperation,
    pub(crate) value: Option<Value>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum PatchOperation {
    Merge,
    Add,
    Remove,
    InsertBefore,
    InsertAfter,
    InsertFirst,
    Replace,
}

pub(crate) fn istio<S: DeserializeOwned>(doc: &Value) -> Result<IstioObject<S>, String> {
    serde_json::from_value(doc.clone()).map_err(|e| format!("{}: {e}", key_of(doc)))
}

/// The document is exactly one of the Istio objects modelled above.
pub(crate) fn check_istio(doc: &Value) -> Result<(), String> {
    let api = doc["apiVersion"].as_str().unwrap_or_default();
    match (api, doc["kind"].as_str().unwrap_or_default()) {
        ("extensions.istio.io/v1alpha1", "WasmPlugin") => istio::<WasmPluginSpec>(doc).map(drop),
        (
            "networking.istio.io/v1"
            | "networking.istio.io/v1beta1"
            | "networking.istio.io/v1alpha3",
            "DestinationRule",
        ) => istio::<DestinationRuleSpec>(doc).map(drop),
        ("security.istio.io/v1" | "security.istio.io/v1beta1", "PeerAuthentication") => {
            let pa = istio::<PeerAuthenticationSpec>(doc)?;
            for port in pa.spec.port_level_mtls.unwrap_or_default().keys() {
                port.parse::<u16>()
                    .map_err(|_| format!("portLevelMtls key {port:?} is not a port"))?;
            }
            Ok(())
        }
        ("networking.istio.io/v1alpha3", "EnvoyFilter") => istio::<EnvoyFilterSpec>(doc).map(drop),
        (api, kind) => Err(format!("no model for apiVersion {api:?} kind {kind:?}")),
    }
}
