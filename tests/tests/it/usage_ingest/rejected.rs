//! Invalid events are kept once, never retried, and count once re-submitted after the fix; an
//! id reused for other content is refused.

use super::{Party, Rig, SMS, Sample, TRAFFIC, current, message, messages, report, rig};
use chrono::{TimeDelta, Utc};
use kopek_aws::dynamo::usage::RejectedEvent;
use kopek_domain::ids::OrgId;
use kopek_domain::usage::RejectReason;
use kopek_services::usage::ingest::{ResubmitError, Resubmitted};
use kopek_tests::unique;
use rust_decimal::Decimal;
use serde_json::json;

// --- 4. rejected events ---------------------------------------------------------------------

#[tokio::test]
async fn invalid_events_are_kept_once_never_retried_and_count_once_resubmitted_after_the_fix() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let org = party[0].org;
    let now = Utc::now();
    let period = kopek_tests::emulator::calendar().period_of(now);
    let at = now - TimeDelta::minutes(3);
    let later_reference = format!("crm:later-{}", unique());

    let unknown_meter = Sample::new("evt-roaming", "ROAMING", "2.5", at);
    let mut unknown_customer = Sample::new("evt-stranger", TRAFFIC, "4.25", at);
    unknown_customer.party = 1;
    let stranger = [
        party[0].clone(),
        Party {
            org: OrgId::new(),
            reference: later_reference.clone(),
        },
    ];
    let fractional = Sample::new("evt-half-sms", SMS, "1.5", at);
    let future = Sample::new("evt-future", TRAFFIC, "1", now + TimeDelta::hours(1));
    let too_old = Sample::new(
        "evt-old",
        TRAFFIC,
        "1",
        now - rig.grace() - TimeDelta::days(1),
    );
    let mut wrong_type = Sample::new("evt-wrong", TRAFFIC, "1", at).render(&party, false);
    wrong_type["quantity"] = json!(true);
    let cases: Vec<(String, RejectReason, &str)> = vec![
        (
            unknown_meter.body(&party),
            RejectReason::UnknownMeter,
            "meter",
        ),
        (
            unknown_customer.body(&stranger),
            RejectReason::UnknownCustomer,
            "customer",
        ),
        (
            fractional.body(&party),
            RejectReason::BadQuantity,
            "quantity",
        ),
        (
            future.body(&party),
            RejectReason::FutureTimestamp,
            "timestamp",
        ),
        (too_old.body(&party), RejectReason::TooOld, "timestamp"),
        ("{not json".to_owned(), RejectReason::Malformed, ""),
        (wrong_type.to_string(), RejectReason::Malformed, "quantity"),
    ];
    let n = cases.len() as u64;
    let batch = messages(cases.iter().map(|(body, _, _)| body.clone()));

    // Delivered twice: rejected both times, never failed (never retried), kept once.
    for delivery in 1..=2 {
        assert_eq!(
            rig.ingest(&batch).await,
            report(0, 0, n, 0),
            "delivery {delivery}"
        );
    }
    let kept = rig.rejected(period).await;
    let mut got: Vec<(RejectReason, String)> =
        kept.iter().map(|r| (r.reason, r.field.clone())).collect();
    let mut want: Vec<(RejectReason, String)> = cases
        .iter()
        .map(|(_, r, f)| (*r, (*f).to_owned()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "each rejection kept once, with its reason and field"
    );
    assert!(kept.iter().all(|r| r.status == "open" && !r.truncated));
    let find = |reason: RejectReason, event_id: &str| -> RejectedEvent {
        kept.iter()
            .find(|r| r.reason == reason && r.event_id.as_deref() == Some(event_id))
            .unwrap_or_else(|| panic!("no {reason} for {event_id} in {kept:#?}"))
            .clone()
    };
    assert!(
        rig.meters_used(org, period).await.is_empty(),
        "nothing counted"
    );

    // Still wrong: re-submitting changes nothing and leaves it open.
    let half = find(RejectReason::BadQuantity, &fractional.id);
    match rig.ingestor.resubmit(&half, Utc::now()).await {
        Err(ResubmitError::StillRejected(r)) => assert_eq!(r.reason, RejectReason::BadQuantity),
        other => panic!("a fractional SMS is still refused: {other:?}"),
    }
    let half_now = rig.store.rejected_event(&half.id).await.expect("read");
    assert_eq!(half_now.expect("kept").status, "open");

    // The catalog is fixed: the meter is created; the event counts once.
    let roaming = find(RejectReason::UnknownMeter, &unknown_meter.id);
    let per_unit = json!({"type": "per_unit", "unit_price": "3.00"});
    rig.create_meter("ROAMING", "gigabyte", per_unit).await;
    resubmit_counts_once(&rig, &roaming, org, "ROAMING", unknown_meter.quantity).await;

    // The customer is fixed: the reference is given to the organisation; the event counts once.
    rig.store
        .set_external_ref(org, &later_reference)
        .await
        .expect("reference");
    let stranger = find(RejectReason::UnknownCustomer, &unknown_customer.id);
    resubmit_counts_once(&rig, &stranger, org, TRAFFIC, unknown_customer.quantity).await;
}

/// Re-submits `rejected` (now fixed): `meter`'s usage grows by exactly `quantity`, the record is
/// resolved, and neither it nor a stale copy of it counts again.
async fn resubmit_counts_once(
    rig: &Rig,
    rejected: &RejectedEvent,
    org: OrgId,
    meter: &str,
    quantity: Decimal,
) {
    let period = current();
    let before = rig.usage(org, meter, period).await;
    match rig.ingestor.resubmit(rejected, Utc::now()).await {
        Ok(Resubmitted::Counted(event)) => {
            assert_eq!((event.org, event.quantity.value()), (org, quantity));
        }
        other => panic!("{} counts after the fix: {other:?}", rejected.id),
    }
    let after = rig.usage(org, meter, period).await;
    assert_eq!(after.total, before.total + quantity);
    assert_eq!(after.events, before.events + 1);
    assert!(rig.meters_used(org, period).await.contains(meter));

    let resolved = rig
        .store
        .rejected_event(&rejected.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(resolved.status, "resolved");
    assert!(resolved.resolved_at.is_some());
    assert!(matches!(
        rig.ingestor.resubmit(&resolved, Utc::now()).await,
        Err(ResubmitError::NotOpen)
    ));
    // A stale copy still saying `open` (a second back-office tab) counts nothing either.
    let again = rig.ingestor.resubmit(rejected, Utc::now()).await;
    assert!(!matches!(again, Ok(Resubmitted::Counted(_))), "{again:?}");
    assert_eq!(rig.usage(org, meter, period).await, after);
}

// --- 6. conflicts ---------------------------------------------------------------------------

#[tokio::test]
async fn an_id_reused_for_other_content_is_rejected_as_a_conflict_and_counts_nothing() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let org = party[0].org;
    let period = current();
    let original = Sample::new(
        "evt-reused",
        TRAFFIC,
        "1.5",
        Utc::now() - TimeDelta::minutes(2),
    );
    assert_eq!(
        rig.ingest(&[message(original.body(&party))]).await,
        report(1, 0, 0, 0)
    );
    let counted = rig.usage(org, TRAFFIC, period).await;

    let mut more = original.clone();
    more.quantity = "2.5".parse().expect("decimal");
    let mut earlier = original.clone();
    earlier.at -= TimeDelta::seconds(1);
    let mut elsewhere = original.clone();
    elsewhere.site = Some("spb-1".to_owned());
    let reused = messages([
        more.body(&party),
        earlier.body(&party),
        elsewhere.body(&party),
    ]);
    assert_eq!(rig.ingest(&reused).await, report(0, 0, 3, 0));
    // The original itself is still a duplicate, not a conflict.
    assert_eq!(
        rig.ingest(&[message(original.render(&party, true).to_string())])
            .await,
        report(0, 1, 0, 0)
    );

    assert_eq!(rig.usage(org, TRAFFIC, period).await, counted);
    let kept = rig.rejected(period).await;
    assert_eq!(kept.len(), 3, "{kept:#?}");
    for r in &kept {
        assert_eq!((r.reason, r.field.as_str()), (RejectReason::Conflict, "id"));
        assert_eq!(r.event_id.as_deref(), Some(original.id.as_str()));
        assert_eq!(r.meter.as_deref(), Some(TRAFFIC));
    }
}
