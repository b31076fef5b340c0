//! `bindcar`: the HTTP API over BIND9 (`bindcar::server::main`).

fn main() -> std::process::ExitCode {
    bindcar::server::main()
}
