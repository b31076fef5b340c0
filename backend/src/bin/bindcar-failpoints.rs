//! `bindcar-failpoints`: bindcar with its crash points compiled in, for the fault-injection
//! tests only (`cargo build -p bindcar@0.1 --features failpoints --bin bindcar-failpoints`; see
//! `bindcar::failpoints`). Never shipped.

fn main() -> std::process::ExitCode {
    bindcar::failpoints::arm();
    bindcar::server::main()
}
