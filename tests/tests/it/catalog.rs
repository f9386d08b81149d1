//! The service catalog through the HTTP API: creating services of every kind and price
//! model, browsing and paging, the price calculator (with the published worked example),
//! price versions over time, retiring, and who may change the catalog.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use kopek_domain::clock::FixedClock;
use kopek_tests::{TestApp, TestResponse, future_hour};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

/// Every item of the test's table in a canonical form, sorted: for "nothing changed".
async fn table(app: &TestApp) -> Vec<Value> {
    app.table_items().await
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Stripe's tiered-pricing example: 1–5 at 7.00, 6–10 at 6.50, 11 and up at 6.00.
fn stripe_tiers() -> Value {
    json!([
        {"up_to": "5", "unit_price": "7.00"},
        {"up_to": "10", "unit_price": "6.50"},
        {"up_to": null, "unit_price": "6.00"}
    ])
}

fn price(model: Value, minimum: Option<&str>, flat_fee: Option<&str>) -> Value {
    json!({"currency": "RUB", "model": model, "minimum": minimum, "flat_fee": flat_fee})
}

fn service(code: &str, kind: &str, unit: &str, tax_rate: &str, price: Value) -> Value {
    let work_type = if kind == "one_off" {
        json!("installation")
    } else {
        Value::Null
    };
    json!({
        "code": code,
        "name": {"ru": format!("Услуга {code}"), "en": format!("Service {code}")},
        "description": {"ru": "Описание", "en": "Description"},
        "unit": unit,
        "kind": kind,
        "work_type": work_type,
        "tax_rate": tax_rate,
        "currency": "RUB",
        "price": price
    })
}

/// One service of each kind and each price model.
fn every_model() -> Vec<Value> {
    vec![
        service(
            "INSTALL",
            "one_off",
            "visit",
            "20",
            price(
                json!({"type": "flat", "amount": "5000.00"}),
                None,
                Some("500.00"),
            ),
        ),
        service(
            "VPS-S",
            "recurring",
            "month",
            "20",
            price(
                json!({"type": "per_unit", "unit_price": "990.00"}),
                Some("1000.00"),
                None,
            ),
        ),
        service(
            "TRAFFIC-G",
            "metered",
            "gigabyte",
            "20",
            price(
                json!({"type": "graduated", "tiers": stripe_tiers()}),
                None,
                None,
            ),
        ),
        service(
            "TRAFFIC-V",
            "metered",
            "gigabyte",
            "20",
            price(
                json!({"type": "volume", "tiers": stripe_tiers()}),
                None,
                None,
            ),
        ),
        service(
            "SMS",
            "metered",
            "request",
            "20",
            price(
                json!({"type": "package", "block_size": "100", "block_price": "50.00", "free_units": "50"}),
                Some("100.00"),
                None,
            ),
        ),
        service(
            "ACQUIRING",
            "metered",
            "kilogram",
            "exempt",
            price(
                json!({"type": "percentage", "tiers": [
                    {"up_to": "10000.00", "percent": "2.9", "fixed_fee": "15.00"},
                    {"up_to": null, "percent": "2.5"}
                ]}),
                None,
                None,
            ),
        ),
    ]
}

async fn create_every_model(app: &TestApp, token: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for body in every_model() {
        let response = app.post("/v1/catalog/services", Some(token), &body).await;
        response.assert_status(201);
        codes.push(body["code"].as_str().expect("code").to_owned());
    }
    codes
}

async fn quote(app: &TestApp, code: &str, query: &str) -> TestResponse {
    app.get(&format!("/v1/catalog/services/{code}/quote?{query}"), None)
        .await
}

fn dec(value: &Value) -> Decimal {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a decimal string, not {value}"));
    Decimal::from_str(text).unwrap_or_else(|e| panic!("`{text}` is not a decimal: {e}"))
}

/// Asserts a quote's net total, tax and total with tax (compared as decimals).
#[track_caller]
fn assert_quote(response: &TestResponse, total: &str, tax: &str, with_tax: &str) {
    response.assert_status(200);
    let body = &response.body;
    assert_eq!(
        dec(&body["net"]),
        Decimal::from_str(total).expect("total"),
        "total; {body}"
    );
    assert_eq!(body["currency"], "RUB", "{body}");
    assert_eq!(
        dec(&body["tax"]),
        Decimal::from_str(tax).expect("tax"),
        "tax; {body}"
    );
    assert_eq!(
        dec(&body["gross"]),
        Decimal::from_str(with_tax).expect("with tax"),
        "total with tax; {body}"
    );
    // Every amount in the one wire form: exactly two places.
    for field in ["net", "tax", "gross"] {
        let text = body[field].as_str().unwrap_or_default();
        assert!(
            text.split_once('.')
                .is_some_and(|(_, places)| places.len() == 2),
            "{field} = {text:?} is not in minor units; {body}"
        );
    }
}

/// Every item of an anonymous browse with `limit`, following `next_cursor` to the end.
async fn browse_all(app: &TestApp, token: Option<&str>, query: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let mut path = format!("/v1/catalog/services?limit={limit}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, token).await;
        page.assert_status(200);
        let got = page.body["items"].as_array().expect("items").clone();
        assert!(
            got.len() <= limit,
            "a page of {} items with limit {limit}",
            got.len()
        );
        items.extend(got);
        match page.body.get("next_cursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
    panic!("the listing never ended");
}

fn codes_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|s| s["code"].as_str().expect("code").to_owned())
        .collect()
}

#[tokio::test]
async fn an_admin_creates_a_service_of_every_kind_and_price_model() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    for body in every_model() {
        let response = app.post("/v1/catalog/services", Some(&admin), &body).await;
        response.assert_status(201);
        let created = &response.body;
        assert_eq!(created["code"], body["code"]);
        assert_eq!(created["kind"], body["kind"]);
        assert_eq!(created["unit"], body["unit"]);
        assert_eq!(created["status"], "active");
        assert_eq!(created["tax_rate"], body["tax_rate"]);
        assert_eq!(created["name"], body["name"]);
        assert_eq!(created["current_price"]["version"], 1);
        assert_eq!(
            created["current_price"]["price"]["model"]["type"],
            body["price"]["model"]["type"]
        );
        assert!(created.get("next_price").is_none(), "{created}");

        // What was stored reads back the same, prices included.
        let read = app
            .get(
                &format!(
                    "/v1/catalog/services/{}",
                    body["code"].as_str().expect("code")
                ),
                None,
            )
            .await;
        read.assert_status(200);
        assert_eq!(
            read.body["current_price"]["price"],
            created["current_price"]["price"]
        );
        assert_eq!(
            read.body["current_price"]["effective_from"],
            created["current_price"]["effective_from"]
        );
    }
    let install = app.get("/v1/catalog/services/INSTALL", None).await;
    assert_eq!(install.body["work_type"], "installation");
    assert_eq!(install.body["unit_okei_code"], 5451);
    assert_eq!(install.body["unit_is_whole"], true);
    assert_eq!(
        dec(&install.body["current_price"]["price"]["flat_fee"]),
        Decimal::from(500)
    );
    let sms = app.get("/v1/catalog/services/sms", None).await;
    sms.assert_status(200);
    assert_eq!(sms.body["code"], "SMS", "codes are case-insensitive");
    assert_eq!(
        dec(&sms.body["current_price"]["price"]["minimum"]),
        Decimal::from(100)
    );
}

#[tokio::test]
async fn anonymous_browsing_pages_through_every_active_service_exactly_once() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let created = create_every_model(&app, &admin).await;

    let items = browse_all(&app, None, "", 2).await;
    let seen = codes_of(&items);
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a service seen twice: {seen:?}");
    assert_eq!(unique, created.iter().collect::<BTreeSet<_>>());
    for item in &items {
        assert_eq!(item["current_price"]["version"], 1, "{item}");
        assert!(
            item["current_price"]["price"]["model"]["type"].is_string(),
            "{item}"
        );
    }
    // One page with the default limit holds them all, in the same order.
    let all = app.get("/v1/catalog/services", None).await;
    all.assert_status(200);
    assert_eq!(codes_of(all.body["items"].as_array().expect("items")), seen);
    assert!(all.body.get("next_cursor").is_none(), "{}", all.body);
}

#[tokio::test]
async fn the_calculator_reproduces_the_worked_tiered_example_with_tax() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    create_every_model(&app, &admin).await;

    // 25 units: volume prices every unit at 6.00; graduated 5 × 7.00 + 5 × 6.50 + 15 × 6.00.
    assert_quote(
        &quote(&app, "TRAFFIC-V", "quantity=25").await,
        "150.00",
        "30.00",
        "180.00",
    );
    let graduated = quote(&app, "TRAFFIC-G", "quantity=25").await;
    assert_quote(&graduated, "157.50", "31.50", "189.00");
    assert_eq!(graduated.body["service"], "TRAFFIC-G");
    assert_eq!(graduated.body["price_version"], 1);
    assert_eq!(graduated.body["tax_rate"], "20");
    let lines = graduated.body["lines"].as_array().expect("lines");
    let amounts: Vec<Decimal> = lines.iter().map(|l| dec(&l["net"])).collect();
    assert_eq!(
        amounts,
        [
            Decimal::from(35),
            Decimal::from_str("32.5").expect("32.5"),
            Decimal::from(90)
        ],
        "{lines:?}"
    );

    // 1,250 units on several models.
    assert_quote(
        &quote(&app, "TRAFFIC-G", "quantity=1250").await,
        "7507.50",
        "1501.50",
        "9009.00",
    );
    assert_quote(
        &quote(&app, "TRAFFIC-V", "quantity=1250").await,
        "7500.00",
        "1500.00",
        "9000.00",
    );
    // Package: 1,250 − 50 free = 1,200 = 12 blocks of 100 at 50.00.
    assert_quote(
        &quote(&app, "SMS", "quantity=1250").await,
        "600.00",
        "120.00",
        "720.00",
    );
    // Within the free units of a package without a minimum: zero blocks, and every amount
    // still in minor units ("0.00", never "0").
    let free = service(
        "SMS-FREE",
        "metered",
        "request",
        "20",
        price(
            json!({"type": "package", "block_size": "100", "block_price": "50.00", "free_units": "50"}),
            None,
            None,
        ),
    );
    app.post("/v1/catalog/services", Some(&admin), &free)
        .await
        .assert_status(201);
    let nothing = quote(&app, "SMS-FREE", "quantity=40").await;
    assert_quote(&nothing, "0.00", "0.00", "0.00");
    assert_eq!(
        (
            &nothing.body["net"],
            &nothing.body["tax"],
            &nothing.body["gross"]
        ),
        (&json!("0.00"), &json!("0.00"), &json!("0.00")),
        "{}",
        nothing.body
    );
    // Percentage of an amount: 2.9 % of 1,250 plus the tier's fixed fee; exempt from VAT.
    let acquiring = quote(&app, "ACQUIRING", "quantity=1250").await;
    assert_quote(&acquiring, "51.25", "0", "51.25");
    assert_eq!(acquiring.body["tax_rate"], "exempt");
    // Per unit, with the minimum: one month at 990.00 is brought up to 1,000.00.
    let vps = quote(&app, "VPS-S", "quantity=1").await;
    assert_quote(&vps, "1000.00", "200.00", "1200.00");
    assert_eq!(dec(&vps.body["minimum_adjustment_net"]), Decimal::from(10));
    assert_quote(
        &quote(&app, "VPS-S", "quantity=2").await,
        "1980.00",
        "396.00",
        "2376.00",
    );
    // Flat: the amount whatever the quantity, plus the price's flat fee.
    assert_quote(
        &quote(&app, "INSTALL", "quantity=3").await,
        "5500.00",
        "1100.00",
        "6600.00",
    );
    // Fractional gigabytes are fine: 2.5 × 7.00.
    assert_quote(
        &quote(&app, "TRAFFIC-G", "quantity=2.5").await,
        "17.50",
        "3.50",
        "21.00",
    );
}

#[tokio::test]
async fn a_fractional_quantity_of_a_whole_unit_is_refused_naming_quantity() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    create_every_model(&app, &admin).await;
    for code in ["VPS-S", "SMS", "INSTALL"] {
        let response = quote(&app, code, "quantity=1.5").await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.field(), "quantity", "{code}");
    }
    // A whole number written with decimals is still whole.
    assert_quote(
        &quote(&app, "VPS-S", "quantity=2.000").await,
        "1980.00",
        "396.00",
        "2376.00",
    );
}

#[tokio::test]
async fn an_exempt_service_carries_its_legal_basis_and_a_taxed_one_cannot() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let basis = json!({
        "ru": "НДС не облагается на основании подп. 3 п. 3 ст. 149 НК РФ",
        "en": "Not subject to VAT under Tax Code art. 149(3)(3)"
    });
    let flat = || price(json!({"type": "flat", "amount": "10.00"}), None, None);
    let mut exempt = service("FEE", "recurring", "month", "exempt", flat());
    exempt["tax_exemption"] = basis.clone();
    let created = app
        .post("/v1/catalog/services", Some(&admin), &exempt)
        .await;
    created.assert_status(201);
    assert_eq!(created.body["tax_exemption"], basis);
    let read = app.get("/v1/catalog/services/FEE", None).await;
    assert_eq!(read.body["tax_exemption"], basis, "stored with the service");

    let before = table(&app).await;
    let mut taxed = service("TAXED", "recurring", "month", "20", flat());
    taxed["tax_exemption"] = basis.clone();
    let refused = app.post("/v1/catalog/services", Some(&admin), &taxed).await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.field(), "tax_exemption");
    let mut blank = service("BLANK", "recurring", "month", "exempt", flat());
    blank["tax_exemption"] = json!({"ru": " ", "en": "x"});
    let refused = app.post("/v1/catalog/services", Some(&admin), &blank).await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.field(), "tax_exemption");
    assert!(
        refused.body["detail"].as_str().unwrap().starts_with("ru:"),
        "{}",
        refused.body
    );
    assert_eq!(table(&app).await, before, "nothing stored");
}

#[tokio::test]
async fn a_future_price_version_applies_from_its_date_and_the_past_cannot_be_rewritten() {
    let t0 = future_hour();
    let clock = Arc::new(FixedClock::at(t0));
    let app = TestApp::with_clock(clock.clone()).await;
    let admin = app.admin().await;
    create_every_model(&app, &admin).await;
    let switch = t0 + Duration::days(10);

    let added = app
        .post(
            "/v1/catalog/services/TRAFFIC-G/prices",
            Some(&admin),
            &json!({"price": price(json!({"type": "per_unit", "unit_price": "5.00"}), None, None), "effective_from": rfc3339(switch)}),
        )
        .await;
    added.assert_status(201);
    assert_eq!(added.body["version"], 2);
    assert_eq!(added.body["effective_from"], rfc3339(switch));

    // Now: the first version still applies; the second is announced.
    let now = app.get("/v1/catalog/services/TRAFFIC-G", None).await;
    assert_eq!(now.body["current_price"]["version"], 1, "{}", now.body);
    assert_eq!(now.body["next_price"]["version"], 2, "{}", now.body);
    let before = quote(&app, "TRAFFIC-G", "quantity=25").await;
    assert_quote(&before, "157.50", "31.50", "189.00");
    assert_eq!(before.body["price_version"], 1);
    let just_before = quote(
        &app,
        "TRAFFIC-G",
        &format!("quantity=25&at={}", rfc3339(switch - Duration::seconds(1))),
    )
    .await;
    assert_eq!(just_before.body["price_version"], 1, "{}", just_before.body);
    let after = quote(
        &app,
        "TRAFFIC-G",
        &format!("quantity=25&at={}", rfc3339(switch + Duration::days(1))),
    )
    .await;
    assert_quote(&after, "125.00", "25.00", "150.00");
    assert_eq!(after.body["price_version"], 2);

    let versions_at = |at: DateTime<Utc>| {
        let app = &app;
        async move {
            let response = app
                .get(
                    &format!("/v1/catalog/services/TRAFFIC-G/prices?at={}", rfc3339(at)),
                    None,
                )
                .await;
            response.assert_status(200);
            response
                .body
                .as_array()
                .expect("an array")
                .iter()
                .map(|v| v["version"].as_u64().expect("version"))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(versions_at(t0 + Duration::days(1)).await, [1]);
    assert_eq!(
        versions_at(switch).await,
        [2],
        "a version is in force from its effective_from inclusive"
    );
    assert_eq!(versions_at(switch + Duration::days(100)).await, [2]);
    assert_eq!(
        versions_at(t0 - Duration::days(1)).await,
        Vec::<u64>::new(),
        "nothing was in force before the service"
    );
    let all = app.get("/v1/catalog/services/TRAFFIC-G/prices", None).await;
    let all_versions: Vec<u64> = all
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["version"].as_u64().expect("v"))
        .collect();
    assert_eq!(all_versions, [1, 2]);
    // Before the service existed no price can be quoted.
    let too_early = quote(
        &app,
        "TRAFFIC-G",
        &format!("quantity=1&at={}", rfc3339(t0 - Duration::days(1))),
    )
    .await;
    too_early.assert_problem(422, "validation_failed");
    assert_eq!(too_early.field(), "at");

    // A version in the past, or at the same instant as another, is refused and writes nothing.
    let snapshot = table(&app).await;
    let past = app
        .post(
            "/v1/catalog/services/TRAFFIC-G/prices",
            Some(&admin),
            &json!({"price": price(json!({"type": "per_unit", "unit_price": "1.00"}), None, None), "effective_from": rfc3339(t0 - Duration::hours(1))}),
        )
        .await;
    past.assert_problem(422, "validation_failed");
    assert_eq!(past.field(), "effective_from");
    let clash = app
        .post(
            "/v1/catalog/services/TRAFFIC-G/prices",
            Some(&admin),
            &json!({"price": price(json!({"type": "per_unit", "unit_price": "1.00"}), None, None), "effective_from": rfc3339(switch)}),
        )
        .await;
    clash.assert_status(409);
    assert_eq!(clash.field(), "effective_from");
    let other_currency = app
        .post(
            "/v1/catalog/services/TRAFFIC-G/prices",
            Some(&admin),
            &json!({"price": {"currency": "EUR", "model": {"type": "per_unit", "unit_price": "1.00"}}, "effective_from": rfc3339(switch + Duration::days(1))}),
        )
        .await;
    other_currency.assert_problem(422, "validation_failed");
    assert_eq!(other_currency.field(), "price.currency");
    assert_eq!(table(&app).await, snapshot);

    // Time passes: the second version is current.
    clock.advance(Duration::days(10));
    let later = app.get("/v1/catalog/services/TRAFFIC-G", None).await;
    assert_eq!(later.body["current_price"]["version"], 2, "{}", later.body);
    assert!(later.body.get("next_price").is_none(), "{}", later.body);
    assert_quote(
        &quote(&app, "TRAFFIC-G", "quantity=25").await,
        "125.00",
        "25.00",
        "150.00",
    );
}

#[tokio::test]
async fn a_retired_service_leaves_the_public_catalog_but_staff_still_see_it() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let customer = app.register("Ромашка").await;
    create_every_model(&app, &admin).await;

    let retired = app
        .post("/v1/catalog/services/SMS/retire", Some(&admin), &json!({}))
        .await;
    retired.assert_status(200);
    assert_eq!(retired.body["status"], "retired");
    assert!(retired.body["retired_at"].is_string(), "{}", retired.body);

    let public = codes_of(&browse_all(&app, None, "", 100).await);
    assert!(!public.contains(&"SMS".to_owned()), "{public:?}");
    assert_eq!(public.len(), 5, "{public:?}");
    for path in [
        "/v1/catalog/services/SMS",
        "/v1/catalog/services/SMS/prices",
        "/v1/catalog/services/SMS/quote?quantity=1",
    ] {
        app.get(path, None).await.assert_problem(404, "not_found");
        app.get(path, Some(&customer.token))
            .await
            .assert_problem(404, "not_found");
        app.get(path, Some(&admin)).await.assert_status(200);
    }
    app.get("/v1/catalog/services?status=retired", None)
        .await
        .assert_problem(400, "invalid_query");
    app.get("/v1/catalog/services?status=retired", Some(&customer.token))
        .await
        .assert_problem(400, "invalid_query");
    let staff_view = codes_of(&browse_all(&app, Some(&admin), "&status=retired", 100).await);
    assert_eq!(staff_view, ["SMS"]);

    // Retired means retired: no new prices, no second retirement.
    let snapshot = table(&app).await;
    app.post("/v1/catalog/services/SMS/retire", Some(&admin), &json!({}))
        .await
        .assert_problem(409, "service_retired");
    app.post(
        "/v1/catalog/services/SMS/prices",
        Some(&admin),
        &json!({"price": price(json!({"type": "per_unit", "unit_price": "1.00"}), None, None)}),
    )
    .await
    .assert_problem(409, "service_retired");
    assert_eq!(table(&app).await, snapshot);
}

#[tokio::test]
async fn only_catalog_writers_change_the_catalog() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;
    let accountant = app.staff_with_role("accountant").await;
    let engineer = app.staff_with_role("engineer").await;
    let manager = app.staff_with_role("manager").await;
    let admin = app.admin().await;
    app.post("/v1/catalog/services", Some(&admin), &every_model()[1])
        .await
        .assert_status(201);
    let body = every_model()[2].clone();
    let new_price =
        json!({"price": price(json!({"type": "per_unit", "unit_price": "1.00"}), None, None)});

    let snapshot = table(&app).await;
    for (who, token) in [
        ("customer", customer.token.as_str()),
        ("accountant", &accountant),
        ("engineer", &engineer),
    ] {
        let created = app.post("/v1/catalog/services", Some(token), &body).await;
        assert_eq!(
            (created.status.as_u16(), created.code()),
            (403, "forbidden"),
            "{who}: {}",
            created.body
        );
        let priced = app
            .post("/v1/catalog/services/VPS-S/prices", Some(token), &new_price)
            .await;
        assert_eq!(
            (priced.status.as_u16(), priced.code()),
            (403, "forbidden"),
            "{who}: {}",
            priced.body
        );
        let retired = app
            .post("/v1/catalog/services/VPS-S/retire", Some(token), &json!({}))
            .await;
        assert_eq!(
            (retired.status.as_u16(), retired.code()),
            (403, "forbidden"),
            "{who}: {}",
            retired.body
        );
    }
    app.post("/v1/catalog/services", None, &body)
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(table(&app).await, snapshot);

    // A customer's API key cannot hold catalog:write at all (see accounts.rs); a manager may write.
    app.post("/v1/catalog/services", Some(&manager), &body)
        .await
        .assert_status(201);
    app.post(
        "/v1/catalog/services/VPS-S/prices",
        Some(&manager),
        &new_price,
    )
    .await
    .assert_status(201);
}

#[tokio::test]
async fn a_taken_code_is_a_conflict_in_any_case_and_changes_nothing() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let first = every_model()[1].clone();
    app.post("/v1/catalog/services", Some(&admin), &first)
        .await
        .assert_status(201);
    let snapshot = table(&app).await;

    let mut again = every_model()[2].clone();
    again["code"] = first["code"].clone();
    let taken = app.post("/v1/catalog/services", Some(&admin), &again).await;
    taken.assert_problem(409, "code_taken");
    assert_eq!(taken.field(), "code");
    again["code"] = json!("vps-s");
    app.post("/v1/catalog/services", Some(&admin), &again)
        .await
        .assert_problem(409, "code_taken");

    assert_eq!(table(&app).await, snapshot);
    let kept = app.get("/v1/catalog/services/VPS-S", None).await;
    assert_eq!(
        kept.body["current_price"]["price"]["model"]["type"], "per_unit",
        "the first service is untouched"
    );
}
