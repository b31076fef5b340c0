//! `cargo run -p bindcar-wasmhost --bin hostcalls [-- path/to/filter.wasm] [--json]`: the
//! host calls of every path through the filter, as text or as JSON (for the bench), and as
//! text what loading costs per configuration.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let wasm = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("dist/bindcar_auth_filter.wasm"));
    let counts = bindcar_wasmhost::count_paths(&wasm)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&counts)?);
    } else {
        for c in counts
            .iter()
            .chain(&bindcar_wasmhost::count_startup(&wasm)?)
        {
            println!("{c}");
        }
    }
    Ok(())
}
