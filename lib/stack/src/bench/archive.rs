//! `cargo xtask bench archive [--customers N]` (default 1,000): how much memory the period
//! archive's writer needs for N customers' packages.
//!
//! The part of `Documents::build_archive` whose memory could grow with the period: each
//! package read from the documents bucket (one `GET`) and written into the ZIP that goes
//! straight into an S3 multipart upload (`kopek_aws::archive::ZipUpload`, 8 MiB parts). The
//! packages are N objects of the size the 100-customer documents benchmark measured (105 KB,
//! four signed documents and a manifest each; random bytes, which deflate as little as
//! PDFs do), put into the emulator first. What the builder also holds — one register row per
//! document, about 200 bytes each — is not part of this run and is named beside the figure.
//! The process's peak resident memory (`/proc`, VmHWM) is read before and after the archive.

use std::path::Path;
use std::time::Instant;

use kopek_aws::archive::ZipUpload;
use kopek_aws::objects::Objects;
use kopek_local::tools;

use super::procfs::peak_rss_kib;
use super::{ms, profile};
use crate::stack::Stack;

/// The size of one customer's package in the documents benchmark (10.5 MB for 100).
const PACKAGE_BYTES: usize = 105 * 1024;

/// `len` bytes that do not compress (xorshift from `seed`).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub(super) async fn run(root: &Path, tools: &tools::Tools, customers: usize) -> anyhow::Result<()> {
    let stack = Stack::start(root, tools, "bench").await?;
    let bucket = stack
        .function_env
        .get("documents")
        .and_then(|env| env.get("KOPEK_DOCUMENTS_BUCKET"))
        .ok_or_else(|| anyhow::anyhow!("the template gives the documents function no bucket"))?
        .clone();
    let sdk = kopek_local::sdk_config(stack.emulator.endpoint()).await;
    let objects = Objects::new(kopek_local::s3_client(&sdk), bucket);

    eprintln!(
        "kopek: filing {customers} packages of {} KB …",
        PACKAGE_BYTES / 1024
    );
    for i in 0..customers {
        objects
            .file(
                &format!("bench/packages/{i:05}.zip"),
                noise(i as u64, PACKAGE_BYTES),
                "application/zip",
            )
            .await?;
    }

    let before = peak_rss_kib(std::process::id());
    let started = Instant::now();
    let mut upload = ZipUpload::start(&objects, "bench/archive.zip").await?;
    for i in 0..customers {
        let package = objects.read(&format!("bench/packages/{i:05}.zip")).await?;
        upload
            .add(&format!("packages/{i:05}.zip"), &package, false)
            .await?;
    }
    let streamed = upload.finish().await?;
    let took = started.elapsed();
    let after = peak_rss_kib(std::process::id());

    println!(
        "The archive's writer, {customers} packages of {} KB, {} build:",
        PACKAGE_BYTES / 1024,
        profile()
    );
    println!();
    println!(
        "| packages | archive | parts | wall | most held at once | peak RSS before | peak RSS after |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {customers} | {:.1} MB | {} | {} ms | {} KiB | {} MiB | {} MiB |",
        streamed.size as f64 / 1_000_000.0,
        streamed.parts,
        ms(took),
        streamed.peak_buffer / 1024,
        before / 1024,
        after / 1024
    );
    Ok(())
}
