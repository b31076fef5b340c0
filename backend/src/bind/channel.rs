//! The seam in front of named: everything above `bind/` sends commands through this trait, so
//! the zone operations run the same against the real control channel (`Rndc`) and against a
//! scripted fake named in tests.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::command::RndcCommand;

/// Why a command did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RndcFailure {
    /// named answered and refused: `err` is its result text (`not found`, `already exists`,
    /// `dynamic zone`...), `text` any detail it added.
    Refused { err: String, text: String },
    /// named could not be given the command (down, restarting, wrong key, no connection free
    /// in time): nothing was sent, so nothing was changed.
    Unavailable(String),
    /// The command was sent and its answer was lost (the connection closed or broke before it
    /// came back, or what came back cannot be used): named may have carried it out.
    Lost(String),
    /// The command was sent and no answer came within the configured time: named may have
    /// carried it out, or may still.
    Timeout(Duration),
}

impl RndcFailure {
    /// Whether named may have acted on the command: it was sent and no usable answer came.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, RndcFailure::Lost(_) | RndcFailure::Timeout(_))
    }
}

/// named's answer to one command: its text, or why there is none.
pub type Reply<'a> = Pin<Box<dyn Future<Output = Result<String, RndcFailure>> + Send + 'a>>;

/// Something that carries rndc commands to named and brings back its answer.
/// A boxed future keeps the trait object-safe (`Arc<dyn ControlChannel>`).
pub trait ControlChannel: Send + Sync + 'static {
    fn run<'a>(&'a self, command: &'a RndcCommand) -> Reply<'a>;
}
