//! The Kubernetes client, built on first use from the configured source and retried on the
//! next request if that fails; shared by TokenReview and SubjectAccessReview calls.

use kube::Client;
use tokio::sync::OnceCell;

use crate::config::KubeSource;

pub struct KubeClient {
    source: KubeSource,
    client: OnceCell<Client>,
}

impl KubeClient {
    pub fn new(source: KubeSource) -> KubeClient {
        KubeClient {
            source,
            client: OnceCell::new(),
        }
    }

    pub fn source(&self) -> &KubeSource {
        &self.source
    }

    /// The client, or why it cannot be built (logged by the caller).
    pub async fn get(&self) -> Result<Client, String> {
        self.client
            .get_or_try_init(|| async {
                let config = match &self.source {
                    KubeSource::Explicit {
                        server,
                        token_path,
                        ca_path,
                    } => {
                        let uri = server
                            .parse()
                            .map_err(|e| format!("KUBE_API_SERVER {server}: {e}"))?;
                        let mut config = kube::Config::new(uri);
                        config.root_cert_file = Some(ca_path.clone());
                        config.auth_info.token_file = Some(token_path.display().to_string());
                        config
                    }
                    KubeSource::Inferred => {
                        kube::Config::infer().await.map_err(|e| e.to_string())?
                    }
                };
                Client::try_from(config).map_err(|e| e.to_string())
            })
            .await
            .cloned()
    }
}
