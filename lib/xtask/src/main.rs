//! Kopek's developer commands, run as `cargo xtask <command>` (the alias is in `.cargo/config.toml`).
//!
//! | command | what it does |
//! |---------|--------------|
//! | `up`    | the whole system locally with demo data, until Ctrl-C ([`up`]) |
//! | `test`  | every check and test CI runs, on its own emulator ([`test`](mod@test)) |
//! | `bench` | the scripted measurements behind BENCHMARKS.md ([`bench`](mod@bench)) |
//!
//! Both install what they need (moto, cfn-lint, cargo-lambda, openapi-spec-validator) into
//! the project's `.venv` on first use; nothing outside the project directory is touched and
//! nothing listens beyond 127.0.0.1.

mod bench;
mod demo;
mod stack;
mod test;
mod up;

use std::process::{Command, ExitCode};

/// A `cargo` command for the workspace, as if typed in a shell. `cargo run` (the `xtask`
/// alias) gives this process the package's `CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, …; a nested
/// cargo that inherited them would rebuild every build script that watches one (`ring` watches
/// `CARGO_MANIFEST_DIR`, and the whole AWS SDK depends on it) — once for the nested build, and
/// once more for the next plain `cargo` command.
fn cargo_command() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_by_cargo_run = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name.as_ref(),
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            );
        if set_by_cargo_run {
            command.env_remove(name.as_ref());
        }
    }
    command
}

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  up [--port N]      bring the whole system up locally with demo data (default port 3000,
                     or KOPEK_PORT); stays up until Ctrl-C
  test [-- ARGS]     run every check and test (what CI runs); ARGS go to `cargo test`
  bench cold-start|sign-in [--runs N]
  bench order-intake [--runs N]
  bench usage [--events N --pollers P]
  bench close [--customers N --pollers P]
                     the scripted measurements of BENCHMARKS.md
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kopek: {e:#}");
            ExitCode::FAILURE
        }
    }
}
