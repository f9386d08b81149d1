//! The local stack's commands, run through `cargo xtask up` and `cargo xtask bench` (the
//! `xtask` binary hands them here, so that `cargo xtask test` need not build all of Kopek
//! before it runs the checks that build it).
//!
//! | command | what it does |
//! |---------|--------------|
//! | `up`    | the whole system locally with demo data, until Ctrl-C ([`up`]) |
//! | `bench` | the scripted measurements behind BENCHMARKS.md ([`bench`](mod@bench)) |
//!
//! Both install what they need into the project's `.venv` on first use; nothing outside the
//! project directory is touched and nothing listens beyond 127.0.0.1.

mod bench;
mod demo;
mod receiver;
mod stack;
mod up;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprintln!("usage: kopek-stack up [--port N] | bench …  (see `cargo xtask help`)");
            return ExitCode::from(2);
        }
    };
    kopek_local::tools::exit(result)
}
