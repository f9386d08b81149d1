//! The `period-close`, `period-close-worker`, `outbox-relay`, `documents` and `billing-api`
//! functions with their sample events: last month closed, its documents made, its invoice
//! shown and paid; `files-api` and `bank-import`: a bank statement uploaded and matched.

use super::{LambdaUnderTest, batch_item_failures, create_services, order_intake_catalog};
use kopek_local::template::Template;
use kopek_local::tools;
use kopek_tests::TestApp;
use serde_json::json;
use std::time::Duration;

/// Last month's history, made in-process on a clock set to its 10th: a customer subscribes
/// to two `VPS-S` (990.00 a month each) that day. The app (on the wall clock from then on, as
/// the function binaries are), the customer, the month, and the gross amount its invoice must
/// have: 1,980.00 prorated by day from the 10th, 20% VAT on top.
async fn last_month_subscriber() -> (
    TestApp,
    kopek_tests::Customer,
    kopek_domain::period::BillingPeriod,
    kopek_domain::money::Money,
) {
    use kopek_domain::clock::{FixedClock, SystemClock};
    use kopek_domain::money::{Currency, Money};
    use kopek_tests::expected::{prorated, tax};
    use rust_decimal::Decimal;
    use std::sync::Arc;

    let period = kopek_tests::emulator::current_period().previous();
    let tenth = period.first_day() + chrono::TimeDelta::days(9);
    let clock = Arc::new(FixedClock::at(
        kopek_tests::emulator::calendar().start_of(tenth) + chrono::TimeDelta::hours(9),
    ));
    let app = TestApp::with_clock(clock).await;
    create_services(&app, order_intake_catalog()).await;
    let customer = app.register("Ромашка").await;
    app.post(
        "/v1/subscriptions",
        Some(&customer.token),
        &json!({"service": "VPS-S", "quantity": "2"}),
    )
    .await
    .assert_status(201);
    // Worked out by the rules, not by the code: the days' shares of 1,980.00, then 20% on
    // them rounded once to kopecks.
    let net = prorated(
        Decimal::new(198_000, 2),
        period,
        tenth,
        period.end_exclusive(),
    );
    let mut gross = net + tax(net, Decimal::from(20));
    gross.rescale(2);
    let gross = Money::new(gross, Currency::RUB);
    let app = app.with_state(|s| {
        s.services = s.services.clone().with_clock(Arc::new(SystemClock));
    });
    (app, customer, period, gross)
}

#[tokio::test]
async fn the_period_close_functions_close_last_month_from_the_sample_events() {
    let now = chrono::Utc::now();
    let (app, customer, period, expected_gross) = last_month_subscriber().await;
    let org: kopek_domain::ids::OrgId = customer.org_id.parse().expect("an organisation id");
    let period_text = period.to_string();

    // The scheduler's function starts the close of that month; the worker plans it and then
    // closes the customer (its message delivered twice).
    let starter = LambdaUnderTest::start_on(&app, "PeriodCloseFunction", "period-close").await;
    let started = starter
        .invoke_filled(
            "period-close",
            "period-close/explicit-period.json",
            &[
                ("PERIOD", &period_text),
                ("TIME_ZONE", &kopek_tests::emulator::calendar().to_string()),
            ],
        )
        .await;
    assert_eq!(
        started,
        json!({"period": period_text, "status": "closing", "started": true})
    );
    let worker =
        LambdaUnderTest::start_on(&app, "PeriodCloseWorkerFunction", "period-close-worker").await;
    let planned = worker
        .invoke_filled(
            "period-close-worker",
            "period-close-worker/plan.json",
            &[
                ("PERIOD", &period_text),
                // The planning segment of the customer's shard (32 segments: the shard).
                ("SEGMENT", &kopek_domain::close::job_shard(org).to_string()),
            ],
        )
        .await;
    assert_eq!(batch_item_failures(&planned), Vec::<String>::new());
    // The other planning segments have no customer here: planned in process (each marks
    // itself planned), so the period can close once the invoice is issued.
    let closer = app.state.services.closer();
    for segment in
        (0..kopek_domain::close::JOB_SHARDS).filter(|s| *s != kopek_domain::close::job_shard(org))
    {
        closer
            .handle(&kopek_services::close::CloseMessage::Plan {
                period,
                cursor: None,
                segment,
            })
            .await
            .expect("planned");
    }
    let store = &app.store;
    let job = store
        .job(period, org)
        .await
        .expect("a job")
        .expect("planned");
    assert_eq!(job.status.as_str(), "pending");

    let closed = worker
        .invoke_filled(
            "period-close-worker",
            "period-close-worker/customer-twice.json",
            &[("PERIOD", &period_text), ("ORG_ID", &customer.org_id)],
        )
        .await;
    assert_eq!(batch_item_failures(&closed), Vec::<String>::new());
    assert!(
        store.invoice_of(org, period).await.expect("read").is_none(),
        "composed, not yet numbered"
    );
    // The composed invoice waits on NumberQueue (once: the repeated message had the same
    // deduplication id); the worker numbers it, delivered twice.
    let template = Template::load_project(&tools::project_root()).expect("the template loads");
    let env = app
        .provisioned
        .function_env(&template, "PeriodCloseWorkerFunction")
        .expect("env");
    let numbering = kopek_aws::queue::Queue::new(
        aws_sdk_sqs::Client::new(&app.sdk),
        env["KOPEK_NUMBER_QUEUE_URL"].clone(),
    );
    let ready = numbering.receive(10, 0, Some(0)).await.expect("received");
    assert_eq!(ready.len(), 1, "queued once: {ready:?}");
    let body = serde_json::to_string(&ready[0].body).expect("json");
    let numbered = worker
        .invoke_filled(
            "period-close-worker",
            "period-close-worker/number.json",
            &[
                ("PERIOD", &period_text),
                ("ORG_ID", &customer.org_id),
                ("BODY", &body[1..body.len() - 1]),
            ],
        )
        .await;
    assert_eq!(batch_item_failures(&numbered), Vec::<String>::new());
    let invoice = store
        .invoice_of(org, period)
        .await
        .expect("an invoice")
        .expect("issued")
        .invoice;
    let year = chrono::Datelike::year(&kopek_tests::emulator::calendar().date_of(now));
    assert_eq!(invoice.number.to_string(), format!("KPK-{year}-000001"));
    assert_eq!(invoice.draft.gross, expected_gross);
    let status = store
        .period(period)
        .await
        .expect("status")
        .expect("started");
    assert_eq!(
        (status.status.as_str(), status.done, status.remaining),
        ("closed", 1, 0)
    );

    // A message that is no close message is reported for retry (and, after five receives,
    // the dead-letter queue), never taken for done.
    let malformed = worker
        .invoke_json(
            "period-close-worker",
            &tools::project_root().join("events/period-close-worker/malformed.json"),
        )
        .await;
    assert_eq!(
        batch_item_failures(&malformed),
        ["c10e0000-0000-4000-8000-000000000004"]
    );

    // The schedule firing again for the same month (00:05 on the 1st in the provider's zone)
    // starts nothing new and issues nothing twice.
    let calendar = kopek_tests::emulator::calendar();
    let fired = (calendar.start_of(period.end_exclusive()) + chrono::TimeDelta::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let again = starter
        .invoke_filled(
            "period-close",
            "period-close/scheduled.json",
            &[
                ("SCHEDULED_TIME", &fired),
                ("TIME_ZONE", &calendar.to_string()),
            ],
        )
        .await;
    assert_eq!(
        again,
        json!({"period": period_text, "status": "closed", "started": false})
    );
    let invoices = store
        .list_invoices_of_org(org, 10, None)
        .await
        .expect("invoices")
        .items;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].invoice, invoice);

    // The relay, on its schedule, turns the `invoice_issued` event into a document job; the
    // documents function makes the invoice for payment and the act — once, though the job
    // is delivered twice — and files them in the bucket.
    let admin = app.admin().await;
    app.send(TestApp::request(
        axum::http::Method::PUT,
        "/v1/billing/requisites",
        Some(&admin),
        Some(&json!({"requisites": kopek_tests::provider_requisites()})),
    ))
    .await
    .assert_status(200);
    let relay = LambdaUnderTest::start_on(&app, "OutboxRelayFunction", "outbox-relay").await;
    let relayed = relay
        .invoke_json(
            "outbox-relay",
            &tools::project_root().join("events/outbox-relay/scheduled.json"),
        )
        .await;
    assert_eq!(relayed["document_jobs"], 1, "{relayed}");
    assert!(store.outbox(10).await.expect("the outbox").is_empty());
    let documents = LambdaUnderTest::start_on(&app, "DocumentsFunction", "documents").await;
    let made = documents
        .invoke_filled(
            "documents",
            "documents/invoice-twice.json",
            &[
                ("ORG_ID", &customer.org_id),
                ("INVOICE_ID", &invoice.id.to_string()),
            ],
        )
        .await;
    assert_eq!(batch_item_failures(&made), Vec::<String>::new());
    let filed = store.documents_of(org, period).await.expect("documents");
    let types: Vec<&str> = filed.iter().map(|d| d.document.doc_type.slug()).collect();
    assert_eq!(types, ["act", "invoice", "upd", "upd_print"]);
    let objects = kopek_local::s3_client(&app.sdk)
        .list_object_versions()
        .bucket(&app.env["KOPEK_DOCUMENTS_BUCKET"])
        .send()
        .await
        .expect("the bucket lists");
    assert_eq!(objects.versions().len(), 4, "each file written once");
    let malformed = documents
        .invoke_json(
            "documents",
            &tools::project_root().join("events/documents/malformed.json"),
        )
        .await;
    assert_eq!(
        batch_item_failures(&malformed),
        ["d0c00000-0000-4000-8000-000000000003"]
    );
}

#[tokio::test]
async fn the_billing_api_function_closes_a_period_and_shows_the_invoice_from_the_sample_events() {
    use kopek_events::close::poller;
    use std::sync::Arc;

    let (app, customer, period, expected_gross) = last_month_subscriber().await;
    let lambda = LambdaUnderTest::start_on(&app, "BillingApiFunction", "billing-api").await;
    const FUNCTION: &str = "billing-api";
    let admin = app.admin().await;
    let token = app.sign_in(&customer.email, &customer.password).await;
    let period_text = period.to_string();
    let as_admin = [("ACCESS_TOKEN", admin.as_str()), ("PERIOD", &period_text)];
    let as_customer = [("ACCESS_TOKEN", token.as_str()), ("PERIOD", &period_text)];

    // The admin starts the close; the same request again (same Idempotency-Key) is replayed,
    // not started twice.
    let started = lambda
        .invoke_with(FUNCTION, "billing-api/close-period.json", &as_admin)
        .await;
    assert_eq!(started.expect(202)["status"], "closing");
    let replayed = lambda
        .invoke_with(FUNCTION, "billing-api/close-period.json", &as_admin)
        .await;
    assert_eq!(replayed.expect(202), &started.body);

    // What the worker function does in AWS, here in-process on the same queue and table.
    let template = Template::load_project(&tools::project_root()).expect("the template loads");
    let env = app
        .provisioned
        .function_env(&template, "PeriodCloseWorkerFunction")
        .expect("env");
    let closer = app
        .state
        .services
        .clone()
        .with_close_queue(kopek_aws::queue::Queue::new(
            aws_sdk_sqs::Client::new(&app.sdk),
            env["KOPEK_CLOSE_QUEUE_URL"].clone(),
        ))
        .with_clock(Arc::new(kopek_domain::clock::SystemClock))
        .with_settings(|s| s.close_seal_wait = Duration::ZERO)
        .closer();
    poller::drain(&closer, 1)
        .await
        .expect("the close queue drains");

    let status = lambda
        .invoke_with(FUNCTION, "billing-api/period-status.json", &as_admin)
        .await;
    let status = status.expect(200);
    assert_eq!(
        (&status["status"], &status["done"], &status["remaining"]),
        (&json!("closed"), &json!(1), &json!(0)),
        "{status}"
    );
    let invoice = lambda
        .invoke_with(
            FUNCTION,
            "billing-api/invoice-for-period.json",
            &as_customer,
        )
        .await;
    let invoice = invoice.expect(200);
    let year = chrono::Datelike::year(&kopek_tests::emulator::today());
    assert_eq!(invoice["number"], format!("KPK-{year}-000001"));
    assert_eq!(
        invoice["gross"],
        expected_gross.amount().to_string(),
        "{invoice}"
    );
    let list = lambda
        .invoke_with(FUNCTION, "billing-api/list-invoices.json", &as_customer)
        .await;
    let list = list.expect(200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["id"], invoice["id"]);

    // The customer pays 100.00 more than the invoice: it is settled, the rest is credit; the
    // same event again answers the same payment and records nothing twice.
    let mut paid = expected_gross.amount() + rust_decimal::Decimal::new(10_000, 2);
    paid.rescale(2);
    let (org_id, amount) = (customer.org_id.clone(), paid.to_string());
    let today = kopek_tests::emulator::today().to_string();
    let payment = [
        ("ACCESS_TOKEN", admin.as_str()),
        ("ORG_ID", org_id.as_str()),
        ("AMOUNT", amount.as_str()),
        ("TODAY", today.as_str()),
    ];
    let recorded = lambda
        .invoke_with(FUNCTION, "billing-api/record-payment.json", &payment)
        .await;
    let recorded = recorded.expect(201).clone();
    assert_eq!(
        recorded["settled"][0]["invoice_id"], invoice["id"],
        "{recorded}"
    );
    assert_eq!(recorded["settled"][0]["amount"], invoice["gross"]);
    assert_eq!(recorded["to_credit"], "100.00");
    let again = lambda
        .invoke_with(FUNCTION, "billing-api/record-payment.json", &payment)
        .await;
    assert_eq!(again.expect(200)["id"], recorded["id"]);
    let payments = lambda
        .invoke_with(FUNCTION, "billing-api/list-payments.json", &as_customer)
        .await;
    let payments = payments.expect(200);
    assert_eq!(
        payments["items"].as_array().map(Vec::len),
        Some(1),
        "{payments}"
    );
    assert_eq!(payments["credit"], "100.00");
    let list = lambda
        .invoke_with(FUNCTION, "billing-api/list-invoices.json", &as_customer)
        .await;
    assert_eq!(list.expect(200)["items"][0]["status"], "paid");
}

#[tokio::test]
async fn the_bank_import_function_records_a_statements_payments_from_the_sample_events() {
    use crate::billing_api::statements::{Doc, OWN, statement};

    let app = TestApp::start().await;
    let admin = app.admin().await;
    app.save_requisites(&admin).await;
    let customer = app.register("Ромашка").await;
    let me = app.get("/v1/me", Some(&customer.token)).await;
    let inn = me.body["organisation"]["tax_id"]
        .as_str()
        .expect("an INN")
        .to_owned();
    let file = statement(
        "20.11.2026",
        &[Doc {
            number: "12",
            amount: "300.00",
            payer_inn: &inn,
            payer_account: "40702810500000000012",
            payee_account: OWN,
            purpose: "Аванс",
        }],
        "0.00",
        "300.00",
        "0.00",
        "300.00",
    );
    // Uploaded through the files-api function, as API Gateway sends a binary body: base64.
    let files = LambdaUnderTest::start_on(&app, "FilesApiFunction", "files-api").await;
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&file);
    let uploaded = files
        .invoke_with(
            "files-api",
            "files-api/upload-statement.json",
            &[("ACCESS_TOKEN", &admin), ("STATEMENT_BASE64", &encoded)],
        )
        .await;
    let import = uploaded.expect(202)["id"]
        .as_str()
        .expect("an import")
        .to_owned();

    let lambda = LambdaUnderTest::start_on(&app, "BankImportFunction", "bank-import").await;
    let handled = lambda
        .invoke_filled(
            "bank-import",
            "bank-import/chunk.json",
            &[("IMPORT_ID", &import)],
        )
        .await;
    assert_eq!(
        batch_item_failures(&handled),
        Vec::<String>::new(),
        "{handled}"
    );
    let report = files
        .invoke_with(
            "files-api",
            "files-api/statement-report.json",
            &[("ACCESS_TOKEN", &admin), ("IMPORT_ID", &import)],
        )
        .await;
    let report = report.expect(200);
    assert_eq!(report["lines"][0]["status"], "recorded", "{report}");
    assert_eq!(report["lines"][0]["org_id"], customer.org_id.as_str());
    // The same chunk again finds its line done and records nothing more.
    let again = lambda
        .invoke_filled(
            "bank-import",
            "bank-import/chunk.json",
            &[("IMPORT_ID", &import)],
        )
        .await;
    assert_eq!(batch_item_failures(&again), Vec::<String>::new());
    let paid = app
        .get(
            &format!("/v1/billing/payments?org_id={}", customer.org_id),
            Some(&admin),
        )
        .await;
    assert_eq!(paid.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(paid.body["credit"], "300.00");
    let malformed = lambda
        .invoke_json(
            "bank-import",
            &tools::project_root().join("events/bank-import/malformed.json"),
        )
        .await;
    assert_eq!(
        batch_item_failures(&malformed),
        ["ba000000-0000-4000-8000-000000000002"]
    );
}

#[tokio::test]
async fn the_dunning_function_runs_the_day_from_the_sample_event() {
    let app = TestApp::start().await;
    app.register("Ромашка").await;
    let lambda = LambdaUnderTest::start_on(&app, "DunningFunction", "dunning").await;
    let ran = lambda
        .invoke_json(
            "dunning",
            &tools::project_root().join("events/dunning/scheduled.json"),
        )
        .await;
    assert!(ran["customers"].as_u64().is_some_and(|n| n >= 1), "{ran}");
    assert_eq!(ran["failed"], 0, "{ran}");
    assert_eq!(ran["changed"], 0, "nothing is due: {ran}");
}
