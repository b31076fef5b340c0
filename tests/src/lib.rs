//! Harness for the end-to-end tests: real Envoy, real named, the bindcar backend binary,
//! a recording upstream and a TokenReview server of our own. Each module is named for
//! the process it drives.

pub mod ports;
pub mod named;
pub mod backend;
pub mod tokenreview;
