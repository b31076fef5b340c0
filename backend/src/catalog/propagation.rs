//! Whether a secondary serves a zone as the primary does: the serial each answers compared
//! with the primary's, in serial-number arithmetic (RFC 1982, so a serial that wrapped past
//! 2^32 is still newer).

/// What a secondary answered to a SOA query for the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// An authoritative SOA with this serial.
    Serial(u32),
    /// An answer without the zone's SOA: the rcode (`REFUSED`, `SERVFAIL`...) or what was
    /// missing: the secondary does not serve the zone (yet).
    NotServed(String),
    /// No usable answer within the time limit.
    Unreachable(String),
}

/// A secondary's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// It serves the primary's serial.
    InStep,
    /// It serves an older serial (or a newer one, which it keeps until the primary's passes it).
    Lagging,
    /// It answers, but does not serve the zone.
    Missing,
    /// It did not answer.
    Unreachable,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::InStep => "inStep",
            State::Lagging => "lagging",
            State::Missing => "missing",
            State::Unreachable => "unreachable",
        }
    }
}

/// The standing of a secondary that answered `seen` while the primary serves `primary`.
pub fn state(primary: u32, seen: &Seen) -> State {
    match seen {
        Seen::Serial(serial) if *serial == primary => State::InStep,
        Seen::Serial(_) => State::Lagging,
        Seen::NotServed(_) => State::Missing,
        Seen::Unreachable(_) => State::Unreachable,
    }
}

/// RFC 1982 §3.2: `a` is newer than `b`.
pub fn newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

/// A word on a secondary that serves another serial than the primary's.
pub fn lag(primary: u32, serial: u32) -> Option<String> {
    if serial == primary {
        None
    } else if newer(serial, primary) {
        Some(format!(
            "serves serial {serial}, newer than the primary's {primary}: it will not transfer the \
             zone until the primary's serial passes it"
        ))
    } else {
        Some(format!(
            "serves serial {serial}, older than the primary's {primary}"
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn states_follow_the_serials() {
        assert_eq!(state(7, &Seen::Serial(7)), State::InStep);
        assert_eq!(state(7, &Seen::Serial(6)), State::Lagging);
        assert_eq!(state(7, &Seen::NotServed("REFUSED".into())), State::Missing);
        assert_eq!(
            state(7, &Seen::Unreachable("timeout".into())),
            State::Unreachable
        );
        assert_eq!(State::InStep.as_str(), "inStep");
    }

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(newer(8, 7));
        assert!(!newer(7, 8));
        assert!(newer(2, u32::MAX));
        assert!(!newer(7, 7));
        assert!(lag(2, u32::MAX).unwrap().contains("older"));
        assert!(lag(7, 9).unwrap().contains("newer"));
        assert_eq!(lag(7, 7), None);
    }
}
