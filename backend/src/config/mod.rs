//! Configuration: the command line and environment (`cli`, clap reads both), the validated
//! values (`settings`), how they are built (`env`), the startup guards that refuse a dangerous
//! posture (`guards`), rndc.conf / key file parsing (`rndc_conf`), the TSIG key of updates
//! (`update`), the TLS transport (`tls`) and the catalog zone (`catalog`). Read once, at startup.

mod authz;
pub mod catalog;
pub mod cli;
pub mod env;
pub mod guards;
pub mod rndc_conf;
pub mod settings;
pub mod tls;
pub mod update;

pub use cli::Cli;
pub use settings::{
    AuthSettings, Config, ConnectionSettings, KubeSource, LinkerdSettings, RateLimitSettings,
    TokenReviewSettings,
};
pub use tls::TlsSettings;
