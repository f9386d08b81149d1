//! Render time per document kind, in process: an invoice for payment, an act and a credit
//! note (the
//! domain's sample sheet, three lines, Russian and English), each typeset to PDF by one
//! long-lived `Renderer` (as the documents function holds one per cold start).
//!
//! `cargo bench -p kopek-render --bench render` (release). Criterion reports the median; the
//! run also prints p50 and p95 over 200 renders of each kind, and the first render after
//! `Renderer::new` (what a cold start pays once).

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use kopek_domain::catalog::Lang;
use kopek_domain::documents::{InvoiceSheet, SheetKind};
use kopek_render::Renderer;

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.50), at(0.95))
}

fn render(c: &mut Criterion) {
    let started = Instant::now();
    let renderer = Renderer::new();
    let first = renderer
        .sheet(&InvoiceSheet::sample(SheetKind::Invoice, Lang::Ru))
        .expect("rendered");
    println!(
        "cold: Renderer::new and the first invoice: {:?} ({} bytes)",
        started.elapsed(),
        first.len()
    );
    for (name, kind, lang) in [
        ("invoice_ru", SheetKind::Invoice, Lang::Ru),
        ("act_ru", SheetKind::Act, Lang::Ru),
        ("invoice_en", SheetKind::Invoice, Lang::En),
        ("act_en", SheetKind::Act, Lang::En),
        ("credit_note_ru", SheetKind::CreditNote, Lang::Ru),
        ("upd_print_ru", SheetKind::Upd, Lang::Ru),
    ] {
        let sheet = InvoiceSheet::sample(kind, lang);
        let samples: Vec<Duration> = (0..200)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(renderer.sheet(&sheet).expect("rendered"));
                t.elapsed()
            })
            .collect();
        let (p50, p95) = percentiles(samples);
        println!("{name}: p50 {p50:?}, p95 {p95:?}");
        c.bench_function(&format!("render/{name}"), |b| {
            b.iter(|| renderer.sheet(&sheet).expect("rendered"))
        });
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
