//! Free loopback ports for the processes a test starts.

// A loopback bind that fails means the machine cannot run any of this: fail loudly.
#![allow(clippy::expect_used)]

use std::net::TcpListener;

/// A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
