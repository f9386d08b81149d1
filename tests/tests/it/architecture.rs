//! ARCHITECTURE.md draws the crate graph; this test holds it to what Cargo builds. The
//! ```` ```deps ```` block of ARCHITECTURE.md must name every workspace crate with exactly its
//! normal dependencies on other workspace crates, as `cargo metadata` reads them from the
//! manifests — so the page cannot drift from the code, and a layer cannot quietly reach past
//! another (`kopek-api` into the store, say). The rules the graph stands for are checked in so
//! many words too.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use kopek_local::tools;
use serde_json::Value;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The graph as ARCHITECTURE.md draws it: `crate -> dep, dep` lines in the `deps` block.
fn drawn() -> Graph {
    let path = tools::project_root().join("ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path).expect("ARCHITECTURE.md reads");
    let block = text
        .split("```deps\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("ARCHITECTURE.md has a ```deps block");
    block
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (name, deps) = line
                .split_once("->")
                .unwrap_or_else(|| panic!("`{line}` is not `crate -> deps`"));
            let deps = deps
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect();
            (name.trim().to_owned(), deps)
        })
        .collect()
}

/// Every workspace crate's manifest, from `cargo metadata`.
fn packages() -> Vec<Value> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(tools::project_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON");
    metadata["packages"].as_array().expect("packages").clone()
}

/// A package's normal (not dev, not build) dependencies, by name; with `workspace`, only
/// those on other crates of the workspace (path dependencies).
fn dependencies(package: &Value, workspace: bool) -> BTreeSet<String> {
    package["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter(|d| d["kind"].is_null() && (!workspace || d["path"].is_string()))
        .map(|d| d["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[test]
fn architecture_md_draws_the_crate_graph_cargo_builds() {
    let built: Graph = packages()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("a name").to_owned(),
                dependencies(p, true),
            )
        })
        .collect();
    let drawn = drawn();
    for (name, deps) in &built {
        match drawn.get(name) {
            None => panic!("ARCHITECTURE.md does not draw `{name}` (it depends on {deps:?})"),
            Some(drawn_deps) => assert_eq!(
                drawn_deps, deps,
                "ARCHITECTURE.md draws `{name}`'s dependencies otherwise than its Cargo.toml"
            ),
        }
    }
    let gone: Vec<_> = drawn.keys().filter(|n| !built.contains_key(*n)).collect();
    assert!(
        gone.is_empty(),
        "ARCHITECTURE.md draws crates that do not exist: {gone:?}"
    );
}

#[test]
fn the_layers_point_one_way() {
    let packages = packages();
    let deps = |name: &str| {
        let package = packages
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no crate `{name}`"));
        dependencies(package, false)
    };
    // The rules of billing know nothing of AWS, Lambda or HTTP.
    let domain = deps("kopek-domain");
    let foreign: Vec<_> = domain
        .iter()
        .filter(|d| {
            d.starts_with("aws")
                || d.starts_with("lambda")
                || ["axum", "tower", "hyper", "http", "kopek-aws"].contains(&d.as_str())
        })
        .collect();
    assert!(foreign.is_empty(), "kopek-domain depends on {foreign:?}");
    // Handlers cannot reach the store: neither the API nor its plumbing depends on the AWS
    // adapters, so every use case goes through the services.
    for name in ["kopek-api", "kopek-http"] {
        let deps = deps(name);
        assert!(
            !deps
                .iter()
                .any(|d| d == "kopek-aws" || d.starts_with("aws-")),
            "{name} depends on the AWS adapters: {deps:?}"
        );
        assert!(
            deps.contains("kopek-services"),
            "{name} works through the services"
        );
    }
    // The services do not know HTTP.
    let services = deps("kopek-services");
    assert!(
        !services
            .iter()
            .any(|d| ["axum", "kopek-http", "kopek-api", "lambda_http"].contains(&d.as_str())),
        "kopek-services depends on HTTP: {services:?}"
    );
}

/// `cargo tree` of `package` alone (as `cargo run -p`/`cargo lambda build -p` resolves it),
/// one line per crate or feature, without the tree's drawing.
fn tree_of(package: &str, edges: &str) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            package,
            "-e",
            edges,
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(tools::project_root())
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The features a build of `package` alone turns on for `kopek-aws`, as `cargo tree` resolves
/// them (what `cargo lambda build --release --package <function>` compiles).
fn aws_features_of(package: &str) -> BTreeSet<String> {
    tree_of(package, "features")
        .lines()
        .filter_map(|line| line.strip_prefix("kopek-aws feature \""))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_function_is_built_with_fault_injection() {
    let functions: Vec<String> = packages()
        .iter()
        .filter(|p| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| m.contains("/functions/"))
        })
        .map(|p| p["name"].as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(functions.len(), 16, "{functions:?}");
    for function in &functions {
        let features = aws_features_of(function);
        assert!(
            !features.contains("faults"),
            "{function} would be built with kopek-aws's `faults`: {features:?}"
        );
    }
    // The check can fail: the tests crate, which injects faults, does turn it on.
    assert!(aws_features_of("kopek-tests").contains("faults"));
}

/// `cargo xtask` compiles `xtask` alone before it runs anything. Were the AWS SDK in its tree,
/// it would be built once with `xtask`'s feature resolution and again with the workspace's
/// (CI paid about two minutes for that); `kopek-local` without its `aws` feature keeps it out.
#[test]
fn xtask_is_built_without_the_aws_sdk() {
    let crates: BTreeSet<String> = tree_of("xtask", "normal")
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(crates.contains("kopek-local"), "{crates:?}");
    let heavy: Vec<_> = crates
        .iter()
        .filter(|c| c.starts_with("aws-") || c.starts_with("kopek-") && *c != "kopek-local")
        .collect();
    assert!(heavy.is_empty(), "xtask's build pulls in {heavy:?}");
    // The check can fail: the stack it hands `up` and `bench` to does link the SDK.
    assert!(tree_of("kopek-stack", "normal").contains("aws-sdk-dynamodb"));
}

/// Workspace crates allowed to link Typst (minutes to build, tens of megabytes to link): the
/// renderer itself, the documents function, the local stack (which runs its jobs in process)
/// and the tests. No HTTP function, no other event function, not `xtask`.
const TYPST_ALLOWED: &[&str] = &["kopek-render", "documents", "kopek-stack", "kopek-tests"];

#[test]
fn typst_is_built_only_into_the_renderer() {
    for package in packages() {
        let name = package["name"].as_str().expect("a name");
        if TYPST_ALLOWED.contains(&name) {
            continue;
        }
        let tree = tree_of(name, "normal");
        assert!(
            !tree
                .lines()
                .any(|l| l.starts_with("typst ") || l.starts_with("kopek-render ")),
            "{name} links Typst"
        );
    }
    // The check can fail: the renderer does link it.
    assert!(
        tree_of("kopek-render", "normal")
            .lines()
            .any(|l| l.starts_with("typst "))
    );
}
