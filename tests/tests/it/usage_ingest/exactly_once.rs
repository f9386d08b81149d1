//! Every event counts exactly once however often, in whatever order and packing it arrives.

use super::{Party, Rig, SMS, Sample, TRAFFIC, current, report, rig};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::{TimeDelta, Utc};
use kopek_domain::clock::SystemClock;
use kopek_domain::usage::MeterUsage;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A deterministic generator (SplitMix64): the same seed, the same events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n ≥ 1).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// `n` valid events of this period up to now, for `parties` customers, on both meters.
fn generate(rng: &mut Rng, n: usize, parties: usize) -> Vec<Sample> {
    let now = Utc::now();
    let start = kopek_tests::emulator::calendar().period_start(current());
    let span = (now - start).num_milliseconds().max(0) as u64;
    (0..n)
        .map(|i| {
            let meter = if rng.below(2) == 0 { TRAFFIC } else { SMS };
            let quantity = if meter == TRAFFIC {
                // Up to 3 decimal places: 0.001 – 999.999 GB.
                Decimal::new(rng.between(1, 999_999) as i64, 3)
            } else {
                Decimal::from(rng.between(1, 50))
            };
            let at = start + TimeDelta::milliseconds(rng.between(0, span) as i64);
            Sample {
                id: format!("evt-{i:04}-{}", rng.below(1 << 20)),
                party: rng.below(parties as u64) as usize,
                meter,
                quantity,
                at,
                site: (rng.below(3) == 0).then(|| format!("msk-{}", rng.below(4))),
            }
        })
        .collect()
}

/// Each meter's usage of each party, summed here from the events.
fn expected_usage(samples: &[Sample]) -> BTreeMap<(usize, &'static str), MeterUsage> {
    let mut totals: BTreeMap<(usize, &'static str), MeterUsage> = BTreeMap::new();
    for s in samples {
        let usage = totals.entry((s.party, s.meter)).or_default();
        usage.total += s.quantity;
        *usage
            .by_day
            .entry(kopek_tests::emulator::calendar().date_of(s.at))
            .or_default() += s.quantity;
        usage.events += 1;
    }
    totals
}

// --- 1. exactly once ------------------------------------------------------------------------

/// The events, each twice (once as sent, once retold), shuffled, in messages of 1 to 20 events
/// (single objects and arrays), in `SendMessageBatch` calls of 1 to 10 messages.
async fn send_twice_shuffled(rig: &Rig, rng: &mut Rng, samples: &[Sample], parties: &[Party]) {
    let mut events: Vec<Value> = samples
        .iter()
        .flat_map(|s| [s.render(parties, false), s.render(parties, true)])
        .collect();
    rng.shuffle(&mut events);
    let mut bodies = Vec::new();
    let mut rest = events.as_slice();
    while !rest.is_empty() {
        let size = (rng.between(1, 20) as usize).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        bodies.push(if size == 1 && rng.below(2) == 0 {
            chunk[0].to_string()
        } else {
            Value::Array(chunk.to_vec()).to_string()
        });
    }
    let queue = rig.queue("UsageQueue");
    let mut rest = bodies.as_slice();
    while !rest.is_empty() {
        let size = (rng.between(1, 10) as usize).min(rest.len());
        let (batch, tail) = rest.split_at(size);
        rest = tail;
        let entries = batch
            .iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .expect("an entry")
            })
            .collect();
        let sent = rig
            .sqs()
            .send_message_batch()
            .queue_url(queue.url())
            .set_entries(Some(entries))
            .send()
            .await
            .expect("the batch is sent");
        assert!(sent.failed().is_empty(), "{:?}", sent.failed());
    }
}

#[tokio::test]
async fn every_event_counts_exactly_once_however_often_and_in_whatever_order_it_arrives() {
    let rig = rig().await;
    let clean = [rig.party("Ромашка").await, rig.party("Василёк").await];
    let twice = [rig.party("Лютик").await, rig.party("Мак").await];
    let mut rng = Rng(0x6B6F_7065_6B00_0001);
    let n = 300;
    let samples = generate(&mut rng, n, 2);
    let period = current();
    let expected = expected_usage(&samples);
    assert_eq!(expected.len(), 4, "both customers use both meters");

    // The clean run: every event once, packed by the producer's queue client.
    let bodies: Vec<String> = samples.iter().map(|s| s.body(&clean)).collect();
    let sent = rig
        .queue("UsageQueue")
        .send_events(&bodies)
        .await
        .expect("events are queued");
    assert!(sent.messages >= 1);
    let poller = rig.poller(rig.ingestor.clone());
    let clean_report = poller
        .drain(&SystemClock, 2)
        .await
        .expect("the queue drains");
    assert_eq!(clean_report, report(n as u64, 0, 0, 0));

    // The same events for two other customers: each twice, shuffled, in messages and batches
    // of every size.
    send_twice_shuffled(&rig, &mut rng, &samples, &twice).await;
    let twice_report = poller
        .drain(&SystemClock, 2)
        .await
        .expect("the queue drains");
    assert_eq!(twice_report, report(n as u64, n as u64, 0, 0));
    assert_eq!(
        rig.queue("UsageQueue").depth().await.expect("depth"),
        (0, 0),
        "every message was deleted"
    );

    for ((party, meter), want) in &expected {
        let from_clean = rig.usage(clean[*party].org, meter, period).await;
        let from_twice = rig.usage(twice[*party].org, meter, period).await;
        assert_eq!(&from_clean, want, "clean run: customer {party}, {meter}");
        assert_eq!(
            from_twice, from_clean,
            "twice, shuffled: customer {party}, {meter}"
        );
    }
    let used: BTreeSet<String> = [TRAFFIC, SMS].map(str::to_owned).into();
    for party in clean.iter().chain(&twice) {
        assert_eq!(rig.meters_used(party.org, period).await, used);
    }
    assert!(rig.rejected(period).await.is_empty());
}
