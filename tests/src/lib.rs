//! Harness for the end-to-end tests: real Envoy, real named, the bindcar backend binary,
//! a recording upstream and a TokenReview server of our own. Each module is named for
//! the process it drives.

pub mod backend;
pub mod envoy;
pub mod http;
pub mod named;
pub mod ports;
pub mod tokenreview;
pub mod upstream;
