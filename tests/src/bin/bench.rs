//! `bench`: the measurements of `make bench` (filter cost, reviews per token, the reference
//! approach, backend zone operations, footprint). Writes `bench/results/latest.json`;
//! `bench/run.py` turns it into the table and the chart. `bench --help` for the flags.

#[path = "../bench/mod.rs"]
mod bench;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = bench::Options::from_args(&args).and_then(|opts| bench::run(&opts));
    match result {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
