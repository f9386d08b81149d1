//! The Python-packaged tools of the local stack, kept in a project-local virtualenv.
//!
//! `infra/local-tools.txt` pins them (moto's server, cfn-lint, cargo-lambda,
//! openapi-spec-validator, schemathesis, playwright). [`ensure`] creates `<root>/.venv` with `python3 -m venv` when it
//! is missing and installs the requirements file into it whenever the venv's stamp file does
//! not hold exactly that file's content, so bumping a pin reinstalls on the next run and an
//! unchanged file costs one file read. Concurrent callers (two test binaries, `cargo xtask`)
//! are serialised by a lock file under `<root>/.local/`.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// Where the requirements file lives, relative to the project root.
pub const REQUIREMENTS_PATH: &str = "infra/local-tools.txt";

/// Name of the stamp file inside the venv: holds the requirements it was installed from.
const STAMP_FILE: &str = ".kopek-local-tools.stamp";

/// Paths of the installed tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// The virtualenv, `<root>/.venv`.
    pub venv: PathBuf,
    /// moto's standalone server (the AWS emulator).
    pub moto_server: PathBuf,
    /// The virtualenv's Python (runs moto's server one request at a time, see
    /// [`crate::emulator`]).
    pub python: PathBuf,
    /// The CloudFormation/SAM linter.
    pub cfn_lint: PathBuf,
    /// cargo-lambda (builds and locally invokes the functions).
    pub cargo_lambda: PathBuf,
    /// Validator for the OpenAPI document.
    pub openapi_spec_validator: PathBuf,
    /// Property-based tests of the API against its OpenAPI document.
    pub schemathesis: PathBuf,
}

impl Tools {
    /// The tool paths inside `venv`, whether or not they are installed.
    pub fn in_venv(venv: &Path) -> Tools {
        let bin = venv_bin(venv);
        let exe = |name: &str| bin.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        Tools {
            venv: venv.to_path_buf(),
            moto_server: exe("moto_server"),
            python: exe("python"),
            cfn_lint: exe("cfn-lint"),
            cargo_lambda: exe("cargo-lambda"),
            openapi_spec_validator: exe("openapi-spec-validator"),
            schemathesis: exe("schemathesis"),
        }
    }

    fn missing(&self) -> Vec<&Path> {
        [
            &self.moto_server,
            &self.python,
            &self.cfn_lint,
            &self.cargo_lambda,
            &self.openapi_spec_validator,
            &self.schemathesis,
        ]
        .into_iter()
        .filter(|p| !p.is_file())
        .map(PathBuf::as_path)
        .collect()
    }
}

/// Debian packages the tests need, each by a program it provides: poppler's `pdftotext` reads
/// rendered documents back as text; Chromium runs the portal's browser tests (Playwright
/// drives Debian's build: a browser downloaded by Playwright's own installer cannot be
/// fetched here).
pub const SYSTEM_PACKAGES: &[(&str, &str)] =
    &[("pdftotext", "poppler-utils"), ("chromium", "chromium")];

/// Installs the [`SYSTEM_PACKAGES`] whose program is not on `PATH`, with `apt-get` (as root,
/// as CI and this machine run); elsewhere says what to install.
pub fn ensure_system_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = SYSTEM_PACKAGES
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    if !root || !on_path("apt-get") {
        bail!(
            "the tests need {}: install with `sudo apt-get install -y {}`",
            missing.join(", "),
            missing.join(" ")
        );
    }
    eprintln!("kopek: installing {} with apt-get", missing.join(", "));
    for args in [
        vec!["update", "-qq"],
        [vec!["install", "-y", "-qq"], missing.clone()].concat(),
    ] {
        let status = Command::new("apt-get")
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("cannot run apt-get")?;
        if !status.success() {
            bail!("apt-get {} failed ({status})", args.join(" "));
        }
    }
    Ok(())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Makes sure `<project_root>/.venv` holds the tools pinned in `infra/local-tools.txt`.
pub fn ensure(project_root: &Path) -> anyhow::Result<Tools> {
    let requirements_path = project_root.join(REQUIREMENTS_PATH);
    let requirements = fs::read_to_string(&requirements_path)
        .with_context(|| format!("cannot read {}", requirements_path.display()))?;
    let venv = project_root.join(".venv");
    let tools = Tools::in_venv(&venv);
    let stamp = venv.join(STAMP_FILE);

    if is_current(&stamp, &requirements) && tools.missing().is_empty() {
        return Ok(tools);
    }

    let lock_dir = project_root.join(".local");
    fs::create_dir_all(&lock_dir)
        .with_context(|| format!("cannot create {}", lock_dir.display()))?;
    let lock_path = lock_dir.join("tools.lock");
    let lock = File::create(&lock_path)
        .with_context(|| format!("cannot create the lock file {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;

    // Someone else may have installed while we waited for the lock.
    if !(is_current(&stamp, &requirements) && tools.missing().is_empty()) {
        install(
            project_root,
            &venv,
            &requirements_path,
            &stamp,
            &requirements,
        )?;
    }
    drop(lock);

    let missing = tools.missing();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "{} installed, but these tools are still missing: {}",
            REQUIREMENTS_PATH,
            names.join(", ")
        );
    }
    Ok(tools)
}

/// The project root: the nearest directory holding `infra/template.yaml`, searched upwards
/// from `CARGO_MANIFEST_DIR` (set by cargo for tests and `cargo run`), then the current
/// directory, then this crate's own source location. Falls back to the current directory.
pub fn project_root() -> PathBuf {
    let starts = [
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        std::env::current_dir().ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    starts
        .into_iter()
        .flatten()
        .find_map(|start| {
            start
                .ancestors()
                .find(|dir| dir.join(crate::TEMPLATE_PATH).is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| PathBuf::from("."))
}

fn venv_bin(venv: &Path) -> PathBuf {
    venv.join(if cfg!(windows) { "Scripts" } else { "bin" })
}

fn is_current(stamp: &Path, requirements: &str) -> bool {
    fs::read_to_string(stamp).is_ok_and(|s| s == requirements)
}

fn install(
    project_root: &Path,
    venv: &Path,
    requirements_path: &Path,
    stamp: &Path,
    requirements: &str,
) -> anyhow::Result<()> {
    let python = venv_bin(venv).join(format!("python{}", std::env::consts::EXE_SUFFIX));
    if !python.is_file() {
        eprintln!("kopek: creating the tools virtualenv {} …", venv.display());
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .current_dir(project_root)
            .stdin(Stdio::null())
            .status();
        match status {
            Err(e) if e.kind() == ErrorKind::NotFound => bail!(
                "python3 is not on PATH: the local tools need Python 3 with its venv module \
                 (Debian: apt-get install python3 python3-venv)"
            ),
            Err(e) => return Err(e).context("cannot run `python3 -m venv`"),
            Ok(s) if !s.success() => bail!(
                "`python3 -m venv {}` failed ({s}); on Debian the venv module and pip come with \
                 apt-get install python3-venv python3-pip",
                venv.display()
            ),
            Ok(_) => {}
        }
    }

    eprintln!(
        "kopek: installing {} into {} (moto, cfn-lint, cargo-lambda, openapi-spec-validator, schemathesis, playwright) …",
        REQUIREMENTS_PATH,
        venv.display()
    );
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(requirements_path)
        .current_dir(project_root)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!(
            "`pip install -r {}` failed ({status}) — is pip available in the venv \
             (Debian: apt-get install python3-pip python3-venv) and the package index reachable?",
            REQUIREMENTS_PATH
        );
    }
    fs::write(stamp, requirements)
        .with_context(|| format!("cannot write the stamp file {}", stamp.display()))?;
    Ok(())
}

/// A `cargo` command for the workspace, as if typed in a shell. `cargo run` (the `xtask`
/// alias) gives the running process its package's `CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, …; a
/// nested cargo that inherited them would rebuild every build script that watches one (`ring`
/// watches `CARGO_MANIFEST_DIR`, and the whole AWS SDK depends on it) — once for the nested
/// build, and once more for the next plain `cargo` command.
pub fn cargo_command() -> Command {
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

/// The exit of a command: success, or its error with every cause on stderr, prefixed
/// `kopek:` (the same for `cargo xtask` and the `kopek-stack` it hands over to).
pub fn exit(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kopek: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_root_holds_the_template() {
        let root = project_root();
        assert!(
            root.join(crate::TEMPLATE_PATH).is_file(),
            "{}",
            root.display()
        );
        assert!(root.join(REQUIREMENTS_PATH).is_file());
    }

    /// Creates a venv from scratch and installs into it: needs the package index, takes a
    /// minute. `cargo test -p kopek-local -- --ignored`.
    #[test]
    #[ignore = "creates a fresh venv and downloads the tools"]
    fn ensure_installs_into_a_fresh_venv_once() {
        let root = std::env::temp_dir().join(format!("kopek-tools-test-{}", std::process::id()));
        fs::create_dir_all(root.join("infra")).expect("temp root");
        fs::copy(
            project_root().join(REQUIREMENTS_PATH),
            root.join(REQUIREMENTS_PATH),
        )
        .expect("copy requirements");

        let tools = ensure(&root).expect("first ensure installs");
        assert!(tools.missing().is_empty());
        let stamp = tools.venv.join(STAMP_FILE);
        let installed_at = fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .expect("stamp");
        assert_eq!(ensure(&root).expect("second ensure"), tools);
        let unchanged = fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .expect("stamp");
        assert_eq!(
            installed_at, unchanged,
            "the second call must not reinstall"
        );

        fs::remove_dir_all(&root).expect("clean up");
    }

    #[test]
    fn tool_paths_live_in_the_venv_bin_directory() {
        let tools = Tools::in_venv(Path::new("/p/.venv"));
        assert_eq!(tools.moto_server, Path::new("/p/.venv/bin/moto_server"));
        assert_eq!(tools.cfn_lint, Path::new("/p/.venv/bin/cfn-lint"));
    }
}
