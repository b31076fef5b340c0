//! The run's clock and its time budget (the binary gives up past it).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

pub(crate) struct Clock {
    pub(crate) started: Instant,
    pub(crate) budget: Duration,
}

impl Clock {
    pub(crate) fn check(&self, step: &str) -> Result<()> {
        if self.started.elapsed() > self.budget {
            bail!(
                "over the time budget ({:?}) before {step}: stopping",
                self.budget
            );
        }
        Ok(())
    }

    pub(crate) fn secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
