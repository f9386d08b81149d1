//! How a close runs: repeated triggers and messages, refusals, the template's schedule, and a
//! customer that cannot be invoiced.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use kopek_aws::dynamo::keys;
use kopek_domain::close::JobStatus;
use kopek_domain::ids::OrgId;
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::Quantity;
use kopek_domain::usage::{EventKey, MeteredEvent, RejectReason};
use kopek_local::provision::Provisioned;
use kopek_local::template::Template;
use kopek_local::tools;
use kopek_services::close::{CloseError, CloseMessage, Trigger};
use rust_decimal::Decimal;
use serde_json::json;

use super::month::*;
use super::world::*;

// --- 5. repeated triggers and messages -------------------------------------------------------

#[tokio::test]
async fn a_duplicated_trigger_or_message_creates_nothing_twice() {
    let s = standard().await;
    let w = &s.world;
    let period = w.period;
    let customer_messages: Vec<String> = s
        .orgs()
        .iter()
        .map(|org| {
            serde_json::to_string(&CloseMessage::Customer { period, org: *org }).expect("json")
        })
        .collect();

    // The trigger twice: the second resumes (a second plan message) and starts nothing.
    let first = w
        .close
        .start(period, Trigger::Schedule)
        .await
        .expect("started");
    let second = w
        .close
        .start(period, Trigger::Schedule)
        .await
        .expect("resumed");
    assert!(first.started);
    assert!(!second.started);
    assert_eq!(second.period.started_at, first.period.started_at);
    // Planned; then every customer's message twice more, handled by two workers at once.
    w.plan(period).await;
    for _ in 0..2 {
        w.close
            .queue()
            .send_messages(&customer_messages, 0)
            .await
            .expect("sent");
    }
    let (one, two) = tokio::join!(w.drain(), w.drain());
    let handled = one.handled() + two.handled() + w.drain().await.handled();
    // At least once each: the plan message of each trigger (each finds the page planned and
    // queues the customers again), and each customer's from the plan, the test (twice) and
    // the two plan messages.
    assert!(handled >= 2 + 3 * 5, "{handled} messages handled");

    let closed = outcome(w, &s.orgs(), period).await;
    assert_eq!(
        assert_gapless(&closed.numbers, 2),
        BTreeMap::from([(SERIES.to_owned(), 2)])
    );
    assert_eq!(
        closed.counters,
        json!({"status": "closed", "planned": 3, "remaining": 0, "done": 2, "skipped": 1,
               "failed": 0, "plan_complete": true})
    );
    let invoice_a = w.invoice(s.a.org, period).await.expect("a is invoiced");
    assert_invoice(&invoice_a, &s.lines_a(), "a");
    for org in s.orgs() {
        let entries = w.entries(org).await.len();
        assert_eq!(entries, usize::from(org != s.c.org), "{org}");
    }

    // After the close: the trigger again, every message again — nothing is written.
    let table = w.app.table_items().await;
    let again = w
        .close
        .start(period, Trigger::Schedule)
        .await
        .expect("resumed");
    assert!(!again.started);
    let plan = serde_json::to_string(&CloseMessage::Plan {
        period,
        cursor: None,
        segment: 0,
    })
    .expect("json");
    let mut bodies = customer_messages.clone();
    bodies.extend(customer_messages);
    bodies.push(plan);
    let bodies_sent = bodies.len();
    w.close
        .queue()
        .send_messages(&bodies, 0)
        .await
        .expect("sent");
    let drained = w.drain().await;
    assert_eq!(drained.failed, 0);
    // Segment 0's plan message finds its pages planned and queues their customers again.
    let requeued = s
        .orgs()
        .iter()
        .filter(|org| kopek_domain::close::job_shard(**org) == 0)
        .count();
    assert!(
        drained.handled() >= (bodies_sent + requeued) as u64,
        "{drained:?}"
    );
    assert_eq!(w.app.table_items().await, table, "nothing changed");
    assert_eq!(outcome(w, &s.orgs(), period).await, closed);
    assert_eq!(w.sequence_last().await, 2);
}

// --- 6. refusals ---------------------------------------------------------------------------

#[tokio::test]
async fn bad_requests_change_nothing() {
    let w = World::new().await;
    let period = w.period;
    let a = w.party("Ромашка").await;
    w.subscribe(&a, 1).await;

    // The month has not ended: on its last evening it cannot close.
    w.set_clock(at(period.last_day(), 23));
    let table = w.app.table_items().await;
    match w.close.start(period, Trigger::Schedule).await {
        Err(CloseError::Invalid { field, .. }) => assert_eq!(field, "period"),
        other => panic!("a month that has not ended was closed: {other:?}"),
    }
    assert_eq!(w.status(period).await, None);
    assert_eq!(w.queue_depth().await, (0, 0));
    assert_eq!(w.app.table_items().await, table);

    // Closed once it ended.
    w.month_ended();
    w.close(period).await;
    assert_counters(&w.status(period).await.expect("closed"), "closed", 1, 1, 0);

    // On 1 December: November before October, or August after September, are out of order.
    let (october, november) = (period.next(), period.next().next());
    w.set_clock(at(november.end_exclusive(), 6));
    let table = w.app.table_items().await;
    for refused in [november, period.previous()] {
        match w.close.start(refused, Trigger::Admin("test".into())).await {
            Err(CloseError::Conflict(reason)) => assert!(!reason.is_empty()),
            other => panic!("{refused} closed out of order: {other:?}"),
        }
        assert_eq!(w.status(refused).await, None, "{refused}");
    }
    // Closing September again starts nothing.
    let again = w
        .close
        .start(period, Trigger::Admin("test".into()))
        .await
        .expect("answered");
    assert!(!again.started);
    assert_eq!(w.queue_depth().await, (0, 0));
    assert_eq!(w.app.table_items().await, table);

    // October twice at once: one close starts, the other finds it started.
    let (one, two) = tokio::join!(
        w.close.start(october, Trigger::Admin("one".into())),
        w.close.start(october, Trigger::Admin("two".into()))
    );
    let (one, two) = (one.expect("answered"), two.expect("answered"));
    assert!(one.started != two.started, "{one:?} / {two:?}");
    let winner = if one.started {
        "admin:one"
    } else {
        "admin:two"
    };
    let status = w.status(october).await.expect("started");
    assert_eq!(status.trigger, winner);
    assert_eq!(
        w.queue_depth().await,
        (u64::from(kopek_tests::TEST_PLAN_SEGMENTS), 0),
        "one plan message per planning segment"
    );
    // November waits for October's planning: its seals would make the rest of October's
    // planning conflict and leave October's customers unbilled.
    let table = w.app.table_items().await;
    match w.close.start(november, Trigger::Schedule).await {
        Err(CloseError::Conflict(reason)) => {
            assert!(reason.contains("still being planned"), "{reason}");
        }
        other => panic!("November started before October was planned: {other:?}"),
    }
    assert_eq!(w.status(november).await, None);
    assert_eq!(
        w.queue_depth().await,
        (u64::from(kopek_tests::TEST_PLAN_SEGMENTS), 0),
        "still the one planning of October"
    );
    assert_eq!(w.app.table_items().await, table);
    let periods = w.store().list_periods(10, None).await.expect("periods");
    assert_eq!(
        periods.items.iter().map(|p| p.period).collect::<Vec<_>>(),
        [october, period]
    );
    w.drain().await;
    assert_counters(&w.status(october).await.expect("closed"), "closed", 1, 1, 0);
    // October is a whole month of the one server, and the second number (numbers restart
    // each year: with longer periods it may be the first of the next year).
    let invoice = w.invoice(a.org, october).await.expect("invoiced");
    assert_invoice(
        &invoice,
        &[Line::new("subscription", FEE, Decimal::ONE, dec(FEE_PRICE))],
        "october",
    );
    let first = w.invoice(a.org, period).await.expect("invoiced");
    let second_seq = if invoice.number.year == first.number.year {
        first.number.seq + 1
    } else {
        1
    };
    assert_eq!(invoice.number.seq, second_seq);
    // October planned (and closed): November may start, and is the third number.
    assert!(
        w.close
            .start(november, Trigger::Schedule)
            .await
            .expect("started")
            .started
    );
    w.drain().await;
    assert_counters(
        &w.status(november).await.expect("closed"),
        "closed",
        1,
        1,
        0,
    );
    let invoice = w.invoice(a.org, november).await.expect("invoiced");
    assert_eq!(invoice.number.seq, second_seq + 1);
}

/// `CloseSchedule` of the template, fired as EventBridge Scheduler fires it: its cron's minute
/// and hour on the 1st of the month after `period` (the cron's month field `1/N` names every
/// N-th month from January, so the 1st after each period of N months), in its zone; its input with the
/// scheduled time filled in. The template's parameters are resolved as deployed
/// (`provisioned`).
fn scheduled_event(
    provisioned: &Provisioned,
    period: BillingPeriod,
) -> (DateTime<Utc>, kopek_events::close::ScheduledClose) {
    let template = Template::load_project(&tools::project_root()).expect("the template loads");
    let schedule = template
        .resource("PeriodCloseFunction")
        .expect("the function")
        .property("Events")
        .and_then(|e| e.get("CloseSchedule"))
        .and_then(|e| e.get("Properties"))
        .expect("CloseSchedule's properties");
    let text = |key: &str| {
        let value = schedule
            .get(key)
            .unwrap_or_else(|| panic!("CloseSchedule has no {key}"));
        provisioned
            .resolve_string(value)
            .unwrap_or_else(|e| panic!("CloseSchedule's {key}: {e:#}"))
    };
    let cron = text("ScheduleExpression");
    let fields: Vec<&str> = cron
        .strip_prefix("cron(")
        .and_then(|c| c.strip_suffix(')'))
        .expect("a cron expression")
        .split(' ')
        .collect();
    let months = kopek_tests::emulator::calendar().period_length().months();
    let every = format!("1/{months}");
    assert_eq!(
        fields[2..],
        ["1", every.as_str(), "?", "*"],
        "on the 1st of every {months}-th month from January: {cron}"
    );
    assert_eq!(
        (period.end_exclusive().month() - 1) % months,
        0,
        "{cron} does not fire in the month after {period}"
    );
    let (minute, hour): (u32, u32) = (fields[0].parse().unwrap(), fields[1].parse().unwrap());
    let zone: chrono_tz::Tz = text("ScheduleExpressionTimezone").parse().expect("a zone");
    let fired = period
        .end_exclusive()
        .and_hms_opt(hour, minute, 0)
        .expect("a time")
        .and_local_timezone(zone)
        .single()
        .expect("one instant")
        .with_timezone(&Utc);
    let input = text("Input").replace(
        "<aws.scheduler.scheduled-time>",
        &fired.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    (
        fired,
        serde_json::from_str(&input).expect("the input is a ScheduledClose"),
    )
}

#[tokio::test]
async fn the_templates_schedule_closes_the_month_that_just_ended() {
    let w = World::new().await;
    let a = w.party("Ромашка").await;
    w.subscribe(&a, 1).await;
    // Every period of twelve fires after it ended and closes exactly that period.
    for months in 0..12 {
        let mut period = w.period;
        for _ in 0..months {
            period = period.next();
        }
        let (fired, event) = scheduled_event(&w.app.provisioned, period);
        assert!(
            kopek_tests::emulator::calendar().date_of(fired) >= period.end_exclusive(),
            "the schedule for {period} fires at {fired}, before the month ended in UTC"
        );
        let named = match (event.period, event.scheduled_time) {
            (None, Some(at)) => {
                kopek_services::close::scheduled_period(at, &event.time_zone, w.close.calendar())
                    .expect("a period")
            }
            other => panic!("the schedule's input names {other:?}"),
        };
        assert_eq!(named, period, "fired at {fired}");
    }
    // And the function's handler, at that instant, starts the close and issues the invoice.
    let (fired, event) = scheduled_event(&w.app.provisioned, w.period);
    w.set_clock(fired);
    let answer = kopek_events::close::handle_schedule(&w.close, event)
        .await
        .expect("the scheduled close starts");
    assert_eq!((answer.period, answer.started), (w.period, true));
    w.drain().await;
    assert_counters(
        &w.status(w.period).await.expect("closed"),
        "closed",
        1,
        1,
        0,
    );
    assert!(w.invoice(a.org, w.period).await.is_some());
}

// --- 7. one customer fails ------------------------------------------------------------------

#[tokio::test]
async fn a_customer_that_cannot_be_invoiced_fails_alone_and_is_listed() {
    let w = World::new().await;
    let period = w.period;
    let a = w.party("Ромашка").await;
    let b = w.party("Василёк").await;
    let c = w.party("Лютик").await;
    w.subscribe(&a, 1).await;
    w.subscribe(&b, 1).await;
    // `b` also uses a meter priced in dollars, which an invoice in roubles cannot bill.
    // Ingestion refuses such events (and keeps them as rejected) ...
    w.set_clock(at(day(period, 20), 12));
    let foreign: Vec<Usage> = (0..3)
        .map(|k| Usage {
            id: format!("roaming-{k}"),
            meter: FOREIGN_METER,
            quantity: Decimal::from(10 + k),
            at: at(day(period, 12 + k as u32), 9),
        })
        .collect();
    let refused = w.send_usage(&b, &foreign).await;
    assert_eq!((refused.counted, refused.rejected), (0, 3), "{refused:?}");
    let rejected = w
        .store()
        .list_rejected(period, 10, None)
        .await
        .expect("rejected events")
        .items;
    let reasons: Vec<(RejectReason, &str)> = rejected
        .iter()
        .map(|r| (r.reason, r.field.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [(RejectReason::CurrencyMismatch, "meter"); 3],
        "{rejected:?}"
    );
    // ... so here they are counted as another writer of the table would (or as ingestion did
    // before that rule): the close must still isolate the customer it cannot invoice.
    let foreign_code: kopek_domain::catalog::ServiceCode = FOREIGN_METER.parse().expect("a code");
    for event in &foreign {
        let metered = MeteredEvent {
            id: EventKey::try_from(event.id.clone()).expect("an id"),
            org: b.org,
            meter: foreign_code.clone(),
            quantity: Quantity::new(event.quantity).expect("a quantity"),
            timestamp: event.at,
            day: w.app.state.calendar().date_of(event.at),
            period,
            billed_in: period,
            properties: BTreeMap::new(),
        };
        w.store()
            .put_usage_event(&metered, w.now())
            .await
            .expect("counted");
    }
    w.store()
        .mark_meter_used(b.org, &foreign_code, period)
        .await
        .expect("marked");
    let used = usage_events("c", period, 3, 60, 90);
    assert_eq!(w.send_usage(&c, &used).await.counted, used.len() as u64);
    w.month_ended();

    // A dry run shows it beforehand: the others' drafts, and `b` with the reason its close
    // will fail with.
    let preview = w.close.preview(period, 10, None).await.expect("a preview");
    let drafted: BTreeSet<OrgId> = preview.drafts.iter().map(|d| d.org).collect();
    assert_eq!(drafted, BTreeSet::from([a.org, c.org]));
    let [(failing, foreseen)] = preview.failures.as_slice() else {
        panic!("one customer cannot be invoiced: {:?}", preview.failures);
    };
    assert_eq!(*failing, b.org);

    w.close(period).await;
    let status = w.status(period).await.expect("started");
    assert_eq!(
        (
            status.status.as_str(),
            status.planned,
            status.done,
            status.failed,
            status.remaining
        ),
        ("closing", 3, 2, 1, 1),
        "{status:?}"
    );
    let failed = w
        .store()
        .list_jobs(period, Some(JobStatus::Failed), 100, None)
        .await
        .expect("failed jobs")
        .items;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].org, b.org);
    assert_eq!(failed[0].attempts, 1);
    let reason = failed[0].error.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("currency:") && reason.contains(FOREIGN_METER),
        "{reason}"
    );
    assert_eq!(reason, foreseen, "the dry run foresaw it");
    assert_eq!(w.invoice(b.org, period).await, None);
    assert!(w.entries(b.org).await.is_empty());
    // The others are invoiced, numbered 1 and 2.
    let fee = Line::new(
        "subscription",
        FEE,
        Decimal::ONE,
        prorated(dec(FEE_PRICE), period, day(period, 10)),
    );
    let invoice_a = w.invoice(a.org, period).await.expect("a is invoiced");
    assert_invoice(&invoice_a, std::slice::from_ref(&fee), "a");
    let used_total = total(&used);
    let invoice_c = w.invoice(c.org, period).await.expect("c is invoiced");
    assert_invoice(
        &invoice_c,
        &[Line::new("usage", METER, used_total, graduated(used_total))],
        "c",
    );
    let numbers = BTreeSet::from([invoice_a.number.seq, invoice_c.number.seq]);
    assert_eq!(numbers, BTreeSet::from([1, 2]));

    // The fix: the dollar usage is taken out of `b`'s month (its events and its meter mark).
    let client = aws_sdk_dynamodb::Client::new(&w.app.sdk);
    let partitions: BTreeSet<String> = (0..kopek_aws::dynamo::usage::SHARDS)
        .map(|shard| keys::usage_partition(&b.org, &foreign_code, period, shard))
        .collect();
    let mut keys: Vec<(String, String)> = w
        .app
        .scan_all()
        .await
        .iter()
        .filter_map(|item| {
            let pk = item.get("PK")?.as_s().ok()?;
            let sk = item.get("SK")?.as_s().ok()?;
            partitions.contains(pk).then(|| (pk.clone(), sk.clone()))
        })
        .collect();
    assert_eq!(keys.len(), foreign.len(), "the dollar events");
    keys.push((
        format!("ORG#{}", b.org),
        keys::meter_used(period, &foreign_code),
    ));
    for (pk, sk) in keys {
        client
            .delete_item()
            .table_name(w.store().table())
            .key("PK", AttributeValue::S(pk))
            .key("SK", AttributeValue::S(sk))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await
            .expect("deleted");
    }

    // Resumed: `b` alone is queued again, invoiced with the next number, and the close ends.
    assert_eq!(w.close.resume(period).await.expect("resumed"), 1);
    w.drain().await;
    assert_counters(&w.status(period).await.expect("closed"), "closed", 3, 3, 0);
    let invoice_b = w.invoice(b.org, period).await.expect("b is invoiced");
    assert_invoice(&invoice_b, &[fee], "b");
    assert_eq!(invoice_b.number.seq, 3);
    let job = w
        .store()
        .job(period, b.org)
        .await
        .expect("read")
        .expect("a job");
    assert_eq!((job.status, job.error.as_deref()), (JobStatus::Done, None));
    assert_eq!(w.entries(b.org).await.len(), 1);
    assert_eq!(w.sequence_last().await, 3);
}
