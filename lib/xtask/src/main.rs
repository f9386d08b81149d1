//! Kopek's developer commands, run as `cargo xtask <command>` (the alias is in `.cargo/config.toml`).
//!
//! | command | what it does |
//! |---------|--------------|
//! | `up`    | the whole system locally with demo data, until Ctrl-C (runs `kopek-stack up`) |
//! | `test`  | every check and test CI runs, on its own emulators ([`test`](mod@test)) |
//! | `bench` | the scripted measurements behind BENCHMARKS.md (runs `kopek-stack bench`) |
//!
//! They install what they need (moto, cfn-lint, cargo-lambda, openapi-spec-validator, schemathesis) into
//! the project's `.venv` on first use; nothing outside the project directory is touched and
//! nothing listens beyond 127.0.0.1.
//!
//! This binary is light on purpose: it depends on the tools and the emulator only, not on the
//! AWS SDK or Kopek's crates. `test` builds the workspace itself (clippy, build, tests); were
//! `xtask` linking all of Kopek, `cargo xtask` would first build it once more with this
//! package's own feature resolution, which differs from the workspace's. `up` and `bench` hand
//! over to the `kopek-stack` binary (`lib/stack`), built with the workspace.

mod test;

use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use kopek_local::tools::cargo_command;

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
        Some("up" | "bench") => stack(&args),
        Some("test") => test::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    kopek_local::tools::exit(result)
}

/// Runs `kopek-stack` with `args` in place of this process (so Ctrl-C reaches it alone and it
/// stops the emulator itself); returns only if it cannot be started.
fn stack(args: &[String]) -> anyhow::Result<()> {
    let error = cargo_command()
        .args([
            "run",
            "--quiet",
            "--package",
            "kopek-stack",
            "--bin",
            "kopek-stack",
            "--",
        ])
        .args(args)
        .exec();
    Err(anyhow::Error::new(error).context("cannot run kopek-stack through cargo"))
}
