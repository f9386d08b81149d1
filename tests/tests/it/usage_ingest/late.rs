//! Late events are billed in the open period; a closed period never changes.

use super::{SMS, Sample, TRAFFIC, current, last_period_noon, message, messages, report, rig};
use chrono::{NaiveDate, TimeDelta, Utc};
use kopek_domain::usage::MeterUsage;
use std::collections::BTreeSet;

// --- 5. late events -------------------------------------------------------------------------

#[tokio::test]
async fn a_late_event_is_billed_in_the_open_period_and_a_closed_period_never_changes() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let org = party[0].org;
    let (this, last) = (current(), current().previous());
    let last_day: NaiveDate = last.last_day();
    let on_time = Sample::new("evt-on-time", TRAFFIC, "7.125", last_period_noon());
    let this_month = Sample::new(
        "evt-now",
        TRAFFIC,
        "1.5",
        Utc::now() - TimeDelta::minutes(1),
    );
    let late = Sample::new("evt-late", TRAFFIC, "3.3", last_period_noon());

    let first = messages([on_time.body(&party), this_month.body(&party)]);
    assert_eq!(rig.ingest(&first).await, report(2, 0, 0, 0));
    let last_before = rig.usage(org, TRAFFIC, last).await;
    assert_eq!(
        (last_before.total, last_before.events),
        (on_time.quantity, 1)
    );

    // Period close invoices the previous period.
    rig.store.close_through(org, last).await.expect("closed");
    assert_eq!(
        rig.store.closed_through(org).await.expect("read"),
        Some(last)
    );

    // An event of the closed period arrives: counted, late, into this period.
    assert_eq!(
        rig.ingest(&[message(late.body(&party))]).await,
        report(1, 0, 0, 1)
    );
    let this_after = rig.usage(org, TRAFFIC, this).await;
    let mut want = MeterUsage::default();
    for s in [&this_month, &late] {
        want.total += s.quantity;
        *want
            .by_day
            .entry(kopek_tests::emulator::calendar().date_of(s.at))
            .or_default() += s.quantity;
        want.events += 1;
    }
    want.late_events = 1;
    assert_eq!(this_after, want);
    assert_eq!(
        this_after.by_day.get(&last_day),
        Some(&late.quantity),
        "by the day it happened"
    );
    assert_eq!(
        rig.usage(org, TRAFFIC, last).await,
        last_before,
        "the closed period"
    );

    // Redeliveries after the close — of an event counted before it, and of the late one —
    // count nothing anywhere.
    let again = messages([on_time.body(&party), late.render(&party, true).to_string()]);
    assert_eq!(rig.ingest(&again).await, report(0, 2, 0, 0));
    assert_eq!(rig.usage(org, TRAFFIC, last).await, last_before);
    assert_eq!(rig.usage(org, TRAFFIC, this).await, this_after);
}

#[tokio::test]
async fn a_redelivery_after_the_close_marks_no_meter_used_in_the_open_period() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let org = party[0].org;
    let (this, last) = (current(), current().previous());
    let sms = Sample::new("evt-sms-last", SMS, "4", last_period_noon());
    let batch = [message(sms.body(&party))];
    assert_eq!(rig.ingest(&batch).await, report(1, 0, 0, 0));
    rig.store.close_through(org, last).await.expect("closed");

    assert_eq!(rig.ingest(&batch).await, report(0, 1, 0, 0));
    assert_eq!(rig.usage(org, SMS, this).await, MeterUsage::default());
    assert_eq!(
        rig.meters_used(org, this).await,
        BTreeSet::new(),
        "no SMS usage is billed in {this}, so period close must not find SMS among its meters"
    );
    let used_last: BTreeSet<String> = [SMS.to_owned()].into();
    assert_eq!(rig.meters_used(org, last).await, used_last);
}
