//! The ingestion's health counters add up each outcome per meter.

use super::{SMS, Sample, TRAFFIC, current, last_period_noon, messages, rig};
use chrono::{DateTime, TimeDelta, Utc};
use kopek_aws::dynamo::usage::HealthCounts;
use kopek_services::usage::ingest::BatchReport;
use std::collections::BTreeMap;

// --- 7. health ------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Accepted,
    Late,
    Duplicate,
    Rejected,
}

/// What a batch of `(health key, outcome)` should add to the counters and report.
fn tally(cases: &[(&str, Outcome)], health: &mut BTreeMap<String, HealthCounts>) -> BatchReport {
    let mut report = BatchReport::default();
    for (meter, outcome) in cases {
        let counts = health.entry((*meter).to_owned()).or_default();
        match outcome {
            Outcome::Accepted => {
                counts.accepted += 1;
                report.counted += 1;
            }
            Outcome::Late => {
                counts.accepted += 1;
                counts.late += 1;
                report.counted += 1;
                report.late += 1;
            }
            Outcome::Duplicate => {
                counts.duplicate += 1;
                report.duplicates += 1;
            }
            Outcome::Rejected => {
                counts.rejected += 1;
                report.rejected += 1;
            }
        }
    }
    report
}

#[tokio::test]
async fn the_health_counters_add_up_each_outcome_per_meter() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let now = Utc::now();
    let at = now - TimeDelta::minutes(4);
    rig.store
        .close_through(party[0].org, current().previous())
        .await
        .expect("closed");
    let event = |id: &str, meter: &'static str, quantity: &str, at: DateTime<Utc>| {
        Sample::new(id, meter, quantity, at).body(&party)
    };
    let a1 = event("evt-a1", TRAFFIC, "1.1", at);
    let late = event("evt-late", TRAFFIC, "2", last_period_noon());
    let s1 = event("evt-s1", SMS, "3", at);
    let malformed = "42".to_owned();
    use Outcome::*;
    let first: Vec<(String, &str, Outcome)> = vec![
        (a1.clone(), TRAFFIC, Accepted),
        (event("evt-a2", TRAFFIC, "2.2", at), TRAFFIC, Accepted),
        (event("evt-a3", TRAFFIC, "3.3", at), TRAFFIC, Accepted),
        (late.clone(), TRAFFIC, Late),
        (
            event(
                "evt-old",
                TRAFFIC,
                "1",
                now - rig.grace() - TimeDelta::days(2),
            ),
            TRAFFIC,
            Rejected,
        ),
        (s1.clone(), SMS, Accepted),
        (event("evt-s2", SMS, "5", at), SMS, Accepted),
        (event("evt-s3", SMS, "0.5", at), SMS, Rejected),
        (event("evt-nope", "NOPE", "1", at), "NOPE", Rejected),
    ];
    let second: Vec<(String, &str, Outcome)> = vec![
        (a1, TRAFFIC, Duplicate),
        (late, TRAFFIC, Duplicate),
        (s1, SMS, Duplicate),
    ];
    let mut want = BTreeMap::new();
    for batch in [first, second] {
        let outcomes: Vec<(&str, Outcome)> = batch.iter().map(|(_, m, o)| (*m, *o)).collect();
        let mut expected = tally(&outcomes, &mut want);
        let mut bodies: Vec<String> = batch.into_iter().map(|(body, _, _)| body).collect();
        // A message holding two events, and one that is no event (counted under `-`, each time).
        let tail = bodies.split_off(bodies.len() - 2);
        bodies.push(format!("[{}]", tail.join(",")));
        bodies.push(malformed.clone());
        expected.rejected += tally(&[("-", Rejected)], &mut want).rejected;
        assert_eq!(rig.ingest(&messages(bodies)).await, expected);
    }
    let health = rig
        .store
        .health(kopek_tests::emulator::calendar().period_of(now))
        .await
        .expect("health");
    assert_eq!(health, want);
}
