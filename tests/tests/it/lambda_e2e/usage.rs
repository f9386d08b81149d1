//! The `usage-ingest` and `usage-api` functions with their sample events.

use super::{LambdaUnderTest, batch_item_failures, create_services};
use kopek_local::tools;
use kopek_tests::TestApp;
use kopek_tests::str_at;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The metered services the `usage-ingest` samples assume (see `events/README.md`).
fn usage_catalog() -> Vec<Value> {
    vec![
        json!({
            "code": "TRAFFIC", "name": {"ru": "Трафик", "en": "Traffic"},
            "unit": "gigabyte", "kind": "metered", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1.50"}}
        }),
        json!({
            "code": "SMS", "name": {"ru": "SMS-рассылка", "en": "SMS"},
            "unit": "request", "kind": "metered", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "2.10"}}
        }),
    ]
}

#[tokio::test]
async fn the_usage_ingest_function_counts_the_sample_batches_once_and_keeps_what_it_rejects() {
    use kopek_domain::catalog::ServiceCode;
    use kopek_domain::ids::OrgId;
    use rust_decimal::Decimal;

    let app = TestApp::start().await;
    let lambda = LambdaUnderTest::start_on(&app, "UsageIngestFunction", "usage-ingest").await;
    const FUNCTION: &str = "usage-ingest";

    create_services(&app, usage_catalog()).await;
    let customer = app.register("Ромашка").await;
    let org: OrgId = customer.org_id.parse().expect("an organisation id");
    let store = &app.store;
    store
        .set_external_ref(org, "crm:romashka")
        .await
        .expect("the external reference is set");

    // The samples' events happen early today (UTC: their timestamps are `{{TODAY}}T00:0…Z`),
    // so none is ahead of the clock; they count in the provider's period of that instant.
    let today = chrono::Utc::now().date_naive();
    let period = kopek_tests::emulator::calendar()
        .period_of(today.and_time(chrono::NaiveTime::MIN).and_utc());
    let (today_text, tomorrow_text) = (
        today.to_string(),
        today.succ_opt().expect("a date").to_string(),
    );
    let values = [
        ("ORG_ID", customer.org_id.as_str()),
        ("TODAY", today_text.as_str()),
        ("TOMORROW", tomorrow_text.as_str()),
    ];
    let traffic: &ServiceCode = &"TRAFFIC".parse().expect("a code");
    let sms: &ServiceCode = &"SMS".parse().expect("a code");
    let usage = || async move {
        let traffic = store.usage_of(org, traffic, period).await.expect("usage");
        let sms = store.usage_of(org, sms, period).await.expect("usage");
        (traffic.total, traffic.events, sms.total, sms.events)
    };
    let rejected = || async move {
        let received = kopek_tests::emulator::current_period();
        let mut reasons: Vec<(String, String)> = store
            .list_rejected(received, 100, None)
            .await
            .expect("rejected events")
            .items
            .into_iter()
            .map(|r| (r.reason.as_str().to_owned(), r.field))
            .collect();
        reasons.sort();
        reasons
    };
    let dec = |text: &str| -> Decimal { text.parse().expect("a decimal") };

    // Three messages: one event, an array of two (one by the external reference), an array of one.
    let response = lambda
        .invoke_filled(FUNCTION, "usage-ingest/valid.json", &values)
        .await;
    assert_eq!(batch_item_failures(&response), Vec::<String>::new());
    assert_eq!(usage().await, (dec("19.75"), 2, dec("150"), 2));
    assert_eq!(
        store.meters_used(org, period).await.expect("meters"),
        [sms.clone(), traffic.clone()]
    );

    // The same events again, split and ordered otherwise: nothing counts twice.
    let response = lambda
        .invoke_filled(FUNCTION, "usage-ingest/duplicate.json", &values)
        .await;
    assert_eq!(batch_item_failures(&response), Vec::<String>::new());
    assert_eq!(usage().await, (dec("19.75"), 2, dec("150"), 2));

    // Events that can never count are kept as rejected, not retried.
    let response = lambda
        .invoke_filled(FUNCTION, "usage-ingest/invalid.json", &values)
        .await;
    assert_eq!(batch_item_failures(&response), Vec::<String>::new());
    assert_eq!(usage().await, (dec("19.75"), 2, dec("150"), 2));
    let pair = |reason: &str, field: &str| (reason.to_owned(), field.to_owned());
    let invalid = vec![
        pair("bad_quantity", "quantity"),
        pair("bad_quantity", "quantity"),
        pair("future_timestamp", "timestamp"),
        pair("malformed", ""),
        pair("unknown_meter", "meter"),
    ];
    assert_eq!(rejected().await, invalid);

    // Mixed: two new events count; a duplicate does not; an unknown customer and an id reused
    // for other content are rejected.
    let response = lambda
        .invoke_filled(FUNCTION, "usage-ingest/mixed.json", &values)
        .await;
    assert_eq!(batch_item_failures(&response), Vec::<String>::new());
    assert_eq!(usage().await, (dec("23.25"), 3, dec("155"), 3));
    let mut expected = invalid;
    expected.extend([pair("conflict", "id"), pair("unknown_customer", "customer")]);
    expected.sort();
    assert_eq!(rejected().await, expected);
}

/// The usage events in the body of the `usage-api` sample `event` (a JSON `{"events": [...]}`
/// or, sent as `text/csv`, rows under the `id,customer,meter,quantity,timestamp` header):
/// per meter, the quantities summed and the events counted.
fn sample_usage(event: &str) -> BTreeMap<String, (rust_decimal::Decimal, u64)> {
    let path = tools::project_root().join("events").join(event);
    let sample: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| panic!("{} is not a JSON event", path.display()));
    let body = str_at(&sample, "/body");
    let events: Vec<(String, String)> = if sample["headers"]["content-type"] == "text/csv" {
        let mut rows = body.lines().map(|row| row.split(',').collect::<Vec<_>>());
        let header = rows.next().expect("a header row");
        let column = |name: &str| {
            header
                .iter()
                .position(|c| *c == name)
                .unwrap_or_else(|| panic!("{event}: no column {name}"))
        };
        let (meter, quantity) = (column("meter"), column("quantity"));
        rows.map(|row| (row[meter].to_owned(), row[quantity].to_owned()))
            .collect()
    } else {
        let body: Value = serde_json::from_str(body).expect("a JSON body");
        body["events"]
            .as_array()
            .unwrap_or_else(|| panic!("{event}: no events"))
            .iter()
            .map(|e| {
                (
                    str_at(e, "/meter").to_owned(),
                    str_at(e, "/quantity").to_owned(),
                )
            })
            .collect()
    };
    let mut usage = BTreeMap::new();
    for (meter, quantity) in events {
        let (total, count) = usage
            .entry(meter)
            .or_insert((rust_decimal::Decimal::ZERO, 0));
        *total += quantity
            .parse::<rust_decimal::Decimal>()
            .expect("a decimal quantity");
        *count += 1;
    }
    usage
}

#[tokio::test]
async fn the_usage_api_function_queues_the_sample_usage_and_shows_it_once_counted() {
    use rust_decimal::Decimal;

    let app = TestApp::start().await;
    let lambda = LambdaUnderTest::start_on(&app, "UsageApiFunction", "usage-api").await;
    const FUNCTION: &str = "usage-api";

    let catalog = usage_catalog();
    create_services(&app, catalog.clone()).await;
    let customer = app.register("Ромашка").await;
    // An engineer holds `usage:write`, as a producer's staff key would.
    let engineer = app.staff_with_role("engineer").await;
    // UTC, as the samples' timestamps are (`{{TODAY}}T00:0…Z`); they happened on the
    // provider's `day`.
    let utc_today = chrono::Utc::now().date_naive();
    let today = utc_today.to_string();
    let day = kopek_tests::emulator::calendar()
        .date_of(utc_today.and_time(chrono::NaiveTime::MIN).and_utc())
        .to_string();
    let as_engineer = [
        ("ACCESS_TOKEN", engineer.as_str()),
        ("ORG_ID", customer.org_id.as_str()),
        ("TODAY", today.as_str()),
    ];
    let as_customer = [("ACCESS_TOKEN", customer.token.as_str())];
    let depth = || async { app.usage_queue().depth().await.expect("queue depth") };
    let unit_price = |meter: &str| -> Decimal {
        let service = catalog
            .iter()
            .find(|s| s["code"] == meter)
            .unwrap_or_else(|| panic!("no service {meter}"));
        str_at(service, "/price/model/unit_price")
            .parse()
            .expect("a price")
    };
    // The customer's view, as the sample asks for it, against the usage expected per meter.
    let assert_shown = |expected: BTreeMap<String, (Decimal, u64)>| {
        let (lambda, as_customer, day, unit_price) = (&lambda, &as_customer, &day, &unit_price);
        let org_id = customer.org_id.as_str();
        async move {
            let read = lambda
                .invoke_with(FUNCTION, "usage-api/usage-view.json", as_customer)
                .await;
            let view = read.expect(200);
            assert_eq!(view["org_id"], org_id, "{view}");
            let meters = view["meters"].as_array().expect("meters");
            let shown: BTreeMap<String, (Decimal, u64)> = meters
                .iter()
                .map(|m| {
                    let total: Decimal = str_at(m, "/quantity").parse().expect("a decimal total");
                    let events = m["events"].as_u64().expect("an event count");
                    (str_at(m, "/meter").to_owned(), (total, events))
                })
                .collect();
            assert_eq!(shown, expected, "{view}");
            for m in meters {
                let total: Decimal = str_at(m, "/quantity").parse().expect("a decimal");
                // All of it happened early today.
                assert_eq!(
                    m["by_day"],
                    json!([{"day": day, "quantity": total.normalize().to_string()}]),
                    "{m}"
                );
                let subtotal: Decimal = str_at(m, "/estimate/subtotal_net")
                    .parse()
                    .expect("a decimal");
                assert_eq!(subtotal, total * unit_price(str_at(m, "/meter")), "{m}");
            }
        }
    };

    // Posts the sample `event` as the engineer: `queued` events in one message.
    let post = |event: &'static str, queued: usize| {
        let (lambda, as_engineer) = (&lambda, &as_engineer);
        async move {
            let posted = lambda.invoke_with(FUNCTION, event, as_engineer).await;
            assert_eq!(
                posted.expect(202),
                &json!({"queued": queued, "messages": 1}),
                "{event}"
            );
            posted
        }
    };
    // Drains the queue with the real poller, as `usage-ingest` does: `counted` new events.
    let count = |counted: u64| {
        let (app, depth) = (&app, &depth);
        async move {
            let report = app.drain_usage().await;
            assert_eq!(
                (report.counted, report.duplicates, report.rejected),
                (counted, 0, 0)
            );
            assert!(report.failed.is_empty(), "{:?}", report.failed);
            assert_eq!(depth().await, (0, 0), "the queue drained");
        }
    };

    // Three events, judged and queued as one message; nothing is counted before ingestion.
    let posted = post("usage-api/post-events.json", 3).await;
    assert_eq!(depth().await, (1, 0));
    // The sample's Idempotency-Key: the same post again is answered as before, queued once.
    let again = lambda
        .invoke_with(FUNCTION, "usage-api/post-events.json", &as_engineer)
        .await;
    assert_eq!(again.expect(202), &posted.body);
    assert_eq!(
        again.header("idempotent-replayed"),
        "true",
        "{}",
        again.headers
    );
    assert_eq!(depth().await, (1, 0), "the replay queued the events again");
    assert_shown(BTreeMap::new()).await;

    // Once counted, the customer sees each meter's total.
    count(3).await;
    let mut expected = sample_usage("usage-api/post-events.json");
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        ["SMS", "TRAFFIC"],
        "the sample posts both meters"
    );
    assert_shown(expected.clone()).await;

    // 1.5 SMS: the whole request is refused, naming the event and field; nothing is queued.
    let before = app.table_items().await;
    let refused = lambda
        .invoke_with(
            FUNCTION,
            "usage-api/post-events-bad-quantity.json",
            &as_engineer,
        )
        .await;
    let problem = refused.expect_problem(422, "events[0].quantity");
    assert_eq!(problem["code"], "bad_quantity", "{problem}");
    assert_eq!(depth().await, (0, 0), "a refused post queued something");
    assert_eq!(
        app.table_items().await,
        before,
        "a refused post stored something"
    );

    // Two CSV rows, queued and then counted on top of the events above.
    post("usage-api/post-csv.json", 2).await;
    count(2).await;
    for (meter, (quantity, events)) in sample_usage("usage-api/post-csv.json") {
        let (total, count) = expected.entry(meter).or_insert((Decimal::ZERO, 0));
        *total += quantity;
        *count += events;
    }
    assert_shown(expected).await;
}
