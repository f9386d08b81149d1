//! Closes through the API: who may start, read and resume them; periods refused (not ended,
//! malformed, out of order, twice) with nothing changed; a preview, checked against the close.

use super::{app, assert_field, current, decimal, service, subscribed};
use kopek_domain::period::{BillingPeriod, PeriodLength};
use kopek_tests::flip_char;
use kopek_tests::str_at;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use kopek_domain::clock::FixedClock;
use kopek_events::close::poller;

#[tokio::test]
async fn only_admins_start_and_resume_closes_and_only_billing_staff_read_them() {
    let app = app().await;
    let customer = app.register("Ромашка").await;
    let engineer = app.staff_with_role("engineer").await;
    let manager = app.staff_with_role("manager").await;
    let accountant = app.staff_with_role("accountant").await;
    let previous = current().previous();
    let before = app.table_items().await;

    for token in [customer.token.as_str(), &engineer, &manager, &accountant] {
        for action in ["close", "resume"] {
            app.post(
                &format!("/v1/periods/{previous}/{action}"),
                Some(token),
                &json!({}),
            )
            .await
            .assert_problem(403, "forbidden");
        }
    }
    for token in [customer.token.as_str(), &engineer] {
        for path in [
            "/v1/periods".to_owned(),
            format!("/v1/periods/{previous}"),
            format!("/v1/periods/{previous}/jobs"),
            format!("/v1/periods/{previous}/preview"),
            "/v1/billing/settings".to_owned(),
        ] {
            app.get(&path, Some(token))
                .await
                .assert_problem(403, "forbidden");
        }
    }
    // Engineers hold no `invoices:read`: no invoice or balance either.
    app.get("/v1/invoices?period=2026-01", Some(&engineer))
        .await
        .assert_problem(403, "forbidden");
    app.get(
        &format!("/v1/billing/balance?org_id={}", customer.org_id),
        Some(&engineer),
    )
    .await
    .assert_problem(403, "forbidden");
    for token in [manager.as_str(), &accountant] {
        let period = app
            .get(&format!("/v1/periods/{previous}"), Some(token))
            .await;
        period.assert_status(200);
        assert_eq!(period.body["status"], "open");
        assert_eq!(period.body["planned"], 0);
    }
    assert_eq!(
        app.table_items().await,
        before,
        "a refused request writes nothing"
    );
}

#[tokio::test]
async fn a_period_not_ended_or_malformed_is_refused_naming_it_and_nothing_changes() {
    let app = app().await;
    let admin = app.admin().await;
    let before = app.table_items().await;
    for period in [current(), current().next()] {
        let response = app
            .post(
                &format!("/v1/periods/{period}/close"),
                Some(&admin),
                &json!({}),
            )
            .await;
        assert_field(&response, 422, "validation_failed", "period");
    }
    // A well-formed period of another length than the provider's, long ended: a monthly
    // provider has no quarter to close, a quarterly one no month.
    let length = kopek_tests::emulator::calendar().period_length();
    let other = if length == PeriodLength::Month {
        PeriodLength::Quarter
    } else {
        PeriodLength::Month
    };
    let other = BillingPeriod::of(current().first_day() - chrono::Days::new(400), other);
    for period in [
        "2026-13",
        "2026-1",
        "November",
        "2026-00",
        "2026-Q5",
        &other.to_string(),
    ] {
        let response = app
            .post(
                &format!("/v1/periods/{period}/close"),
                Some(&admin),
                &json!({}),
            )
            .await;
        assert_field(&response, 400, "invalid_path", "period");
        let detail = response.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(length.text_form()), "{detail}");
        let response = app
            .get(&format!("/v1/periods/{period}"), Some(&admin))
            .await;
        assert_field(&response, 400, "invalid_path", "period");
    }
    // Nothing to resume in a period never started.
    let response = app
        .post(
            &format!("/v1/periods/{}/resume", current().previous()),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_field(&response, 422, "validation_failed", "period");
    assert_eq!(app.table_items().await, before);
}

#[tokio::test]
async fn closing_a_period_twice_or_out_of_order_is_a_409_that_changes_nothing() {
    let app = app().await;
    let admin = app.admin().await;
    let previous = current().previous();

    let started = app
        .post(
            &format!("/v1/periods/{previous}/close"),
            Some(&admin),
            &json!({}),
        )
        .await;
    started.assert_status(202);
    assert_eq!(started.body["period"], previous.to_string());
    assert_eq!(started.body["status"], "closing");
    assert!(
        started.body["trigger"]
            .as_str()
            .unwrap()
            .starts_with("admin:usr_"),
        "{}",
        started.body
    );
    // The planning is queued: one message per planning segment (the tests' four; 32 deployed).
    let queue = app
        .state
        .services
        .close_queue()
        .cloned()
        .expect("the close queue");
    let mut segments = Vec::new();
    loop {
        let messages = queue.receive(10, 0, None).await.expect("received");
        if messages.is_empty() {
            break;
        }
        for received in &messages {
            let mut message: Value = serde_json::from_str(&received.body).expect("json");
            segments.push(message["segment"].take());
            assert_eq!(
                message,
                json!({"type": "plan", "period": previous.to_string(), "cursor": null,
                       "segment": null})
            );
        }
        let receipts: Vec<&str> = messages.iter().map(|m| m.receipt_handle.as_str()).collect();
        queue.delete(&receipts).await.expect("deleted");
    }
    segments.sort_by_key(|s| s.as_u64());
    assert_eq!(
        segments,
        (0..kopek_tests::TEST_PLAN_SEGMENTS)
            .map(Value::from)
            .collect::<Vec<_>>()
    );

    let status = app
        .get(&format!("/v1/periods/{previous}"), Some(&admin))
        .await;
    status.assert_status(200);
    assert_eq!(status.body["status"], "closing");
    let list = app.get("/v1/periods", Some(&admin)).await;
    list.assert_status(200);
    assert_eq!(list.body["items"][0]["period"], previous.to_string());
    let jobs = app
        .get(
            &format!("/v1/periods/{previous}/jobs?status=failed"),
            Some(&admin),
        )
        .await;
    jobs.assert_status(200);
    assert_eq!(jobs.body["items"], json!([]));
    let bad_status = app
        .get(
            &format!("/v1/periods/{previous}/jobs?status=lost"),
            Some(&admin),
        )
        .await;
    assert_field(&bad_status, 400, "invalid_query", "status");

    let before = app.table_items().await;
    let again = app
        .post(
            &format!("/v1/periods/{previous}/close"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_field(&again, 409, "close_already_started", "period");
    let earlier = previous.previous();
    let out_of_order = app
        .post(
            &format!("/v1/periods/{earlier}/close"),
            Some(&admin),
            &json!({}),
        )
        .await;
    out_of_order.assert_problem(409, "invalid_state");
    assert_eq!(app.table_items().await, before);
    assert_eq!(
        queue.depth().await.expect("depth"),
        (0, 0),
        "nothing more was queued"
    );

    // Resuming re-sends the planning that has not run.
    let resumed = app
        .post(
            &format!("/v1/periods/{previous}/resume"),
            Some(&admin),
            &json!({}),
        )
        .await;
    resumed.assert_status(200);
    assert_eq!(resumed.body["queued"], 0);
    assert_eq!(resumed.body["close"]["status"], "closing");
    assert_eq!(
        queue.depth().await.expect("depth").0,
        u64::from(kopek_tests::TEST_PLAN_SEGMENTS),
        "the planning again: every segment, none of which has run"
    );
}

#[tokio::test]
async fn a_preview_shows_what_the_close_would_issue_and_writes_nothing() {
    let app = app().await;
    let admin = app.admin().await;
    service(&app, &admin).await;
    app.register("Пустая").await;
    let subscribed = subscribed(&app, "Ромашка").await;
    let accountant = app.staff_with_role("accountant").await;
    let before = app.table_items().await;

    // Nobody had anything in the month before.
    let empty = app
        .get(
            &format!("/v1/periods/{}/preview", current().previous()),
            Some(&admin),
        )
        .await;
    empty.assert_status(200);
    assert_eq!(empty.body["items"], json!([]), "{}", empty.body);

    // This month so far: the subscriber's fee, a page of one customer at a time.
    let mut drafts = Vec::new();
    let mut failures = BTreeSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let uri = match &cursor {
            Some(c) => format!("/v1/periods/{}/preview?limit=1&cursor={c}", current()),
            None => format!("/v1/periods/{}/preview?limit=1", current()),
        };
        let page = app.get(&uri, Some(&accountant)).await;
        page.assert_status(200);
        drafts.extend(page.body["items"].as_array().unwrap().iter().cloned());
        assert_eq!(
            page.body["failures"],
            json!([]),
            "every customer can be invoiced"
        );
        failures.extend(
            page.body["failures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["org_id"].as_str().expect("an org id").to_owned()),
        );
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "the preview pages end");
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    let draft = &drafts[0];
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["org_id"], subscribed.org_id.as_str());
    assert_eq!(draft["lines"][0]["source"]["type"], "subscription");
    assert_eq!(draft["lines"][0]["tax_rate"], "20");
    assert!(decimal(&draft["gross"]) > Decimal::ZERO);
    assert_eq!(
        decimal(&draft["net"]) + decimal(&draft["tax"]),
        decimal(&draft["gross"])
    );

    let limit = app
        .get(
            &format!("/v1/periods/{}/preview?limit=0", current()),
            Some(&admin),
        )
        .await;
    assert_field(&limit, 400, "invalid_query", "limit");
    let first = app
        .get(
            &format!("/v1/periods/{}/preview?limit=1", current()),
            Some(&admin),
        )
        .await;
    let next = first.body["next_cursor"].as_str().expect("a next page");
    let tampered = app
        .get(
            &format!(
                "/v1/periods/{}/preview?limit=1&cursor={}",
                current(),
                flip_char(next, 3)
            ),
            Some(&admin),
        )
        .await;
    assert_field(&tampered, 400, "invalid_cursor", "cursor");
    assert_eq!(app.table_items().await, before, "a preview writes nothing");

    // The month closed once it has ended (the services' clock an hour into the next period,
    // and a new admin's token of that time), its queue drained as the close worker does: it
    // issues exactly the drafts previewed, and fails exactly the customers the preview could
    // not invoice.
    let calendar = kopek_tests::emulator::calendar();
    let ended = FixedClock::at(calendar.start_of(current().end_exclusive()) + TimeDelta::hours(1));
    let app = app.with_state(|s| {
        s.services = s
            .services
            .clone()
            .with_clock(Arc::new(ended))
            .with_settings(|settings| settings.close_seal_wait = Duration::ZERO);
    });
    let admin = app.admin().await;
    app.post(
        &format!("/v1/periods/{}/close", current()),
        Some(&admin),
        &json!({}),
    )
    .await
    .assert_status(202);
    poller::drain(&app.state.services.closer(), 1)
        .await
        .expect("the close queue drains");
    let status = app
        .get(&format!("/v1/periods/{}", current()), Some(&admin))
        .await;
    assert_eq!(status.body["status"], "closed", "{}", status.body);

    let issued = app
        .get(&format!("/v1/invoices?period={}", current()), Some(&admin))
        .await;
    issued.assert_status(200);
    let issued = issued.body["items"].as_array().expect("invoices");
    assert_eq!(issued.len(), drafts.len(), "{issued:?}");
    const DRAFTED: [&str; 9] = [
        "org_id", "period", "currency", "tax_mode", "lines", "taxes", "net", "tax", "gross",
    ];
    for summary in issued {
        let invoice = app
            .get(
                &format!("/v1/invoices/{}", str_at(summary, "/id")),
                Some(&admin),
            )
            .await;
        invoice.assert_status(200);
        let draft = drafts
            .iter()
            .find(|d| d["org_id"] == invoice.body["org_id"])
            .unwrap_or_else(|| panic!("an invoice nobody previewed: {}", invoice.body));
        for field in DRAFTED {
            assert_eq!(invoice.body[field], draft[field], "{field}");
        }
    }
    let failed = app
        .get(
            &format!("/v1/periods/{}/jobs?status=failed", current()),
            Some(&admin),
        )
        .await;
    failed.assert_status(200);
    let failed: BTreeSet<String> = failed.body["items"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|job| str_at(job, "/org_id").to_owned())
        .collect();
    assert_eq!(failed, failures, "the close fails whom the preview foresaw");
}
