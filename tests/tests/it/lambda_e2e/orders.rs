//! The `order-intake` function with its sample events: an order taken to done and a charge.

use super::{LambdaUnderTest, create_services, order_intake_catalog};
use kopek_tests::TestApp;
use kopek_tests::str_at;

#[tokio::test]
async fn the_order_intake_function_takes_an_order_to_done_and_a_charge_from_the_sample_events() {
    // The catalog and the users are made in-process through the same routers, on the same
    // resources the function binary uses; everything about orders goes through the binary.
    let app = TestApp::start().await;
    let lambda = LambdaUnderTest::start_on(&app, "OrderIntakeFunction", "order-intake").await;

    create_services(&app, order_intake_catalog()).await;
    let customer = app.register("Ромашка").await;
    let engineer = app.staff_with_role("engineer").await;
    let as_customer = [("ACCESS_TOKEN", customer.token.as_str())];
    let as_engineer = [("ACCESS_TOKEN", engineer.as_str())];
    const FUNCTION: &str = "order-intake";

    // The customer places the two-line order; each line shows its expected price.
    let placed = lambda
        .invoke_with(FUNCTION, "order-intake/place-order.json", &as_customer)
        .await;
    let order = placed.expect(201).clone();
    assert_eq!(order["status"], "placed");
    assert_eq!(order["org_id"], customer.org_id.as_str());
    assert_eq!(order["reference"], "CRM-2026-0412");
    assert_eq!(order["lines"][0]["service"], "ROUTER-INSTALL");
    assert_eq!(order["lines"][0]["expected_net"], "3500.00", "flat");
    assert_eq!(order["lines"][1]["service"], "CABLING");
    assert_eq!(
        order["lines"][1]["expected_net"], "2700.00",
        "1.5 h × 1800.00"
    );
    assert_eq!(order["expected_total_net"], "6200.00");
    let order_id = str_at(&order, "/id").to_owned();
    let wo1 = str_at(&order, "/lines/0/work_order").to_owned();
    let wo2 = str_at(&order, "/lines/1/work_order").to_owned();

    // The sample's Idempotency-Key: the same request again is the same order, replayed.
    let again = lambda
        .invoke_with(FUNCTION, "order-intake/place-order.json", &as_customer)
        .await;
    assert_eq!(again.expect(201)["id"], order_id.as_str());
    assert_eq!(
        again.header("idempotent-replayed"),
        "true",
        "{}",
        again.headers
    );
    let listed = app.get("/v1/orders", Some(&customer.token)).await;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.body
    );

    // Read back.
    let with_order = [
        ("ACCESS_TOKEN", customer.token.as_str()),
        ("ORDER_ID", order_id.as_str()),
    ];
    let read = lambda
        .invoke_with(FUNCTION, "order-intake/get-order.json", &with_order)
        .await;
    assert_eq!(read.expect(200)["id"], order_id.as_str());
    assert_eq!(read.body["status"], "placed");
    assert_eq!(read.body["lines"].as_array().map(Vec::len), Some(2));

    // The engineer sees both work orders waiting in the installation queue…
    let queues = lambda
        .invoke_with(FUNCTION, "order-intake/list-queues.json", &as_engineer)
        .await;
    let installation = queues
        .expect(200)
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["work_type"] == "installation"))
        .unwrap_or_else(|| panic!("no installation queue: {}", queues.body))
        .clone();
    assert_eq!(installation["waiting"], 2, "{installation}");

    // …takes them as a batch…
    let taken = lambda
        .invoke_with(FUNCTION, "order-intake/take-batch.json", &as_engineer)
        .await;
    let batch = taken.expect(201).clone();
    assert_eq!(batch["status"], "open");
    let mut in_batch: Vec<&str> = batch["work_orders"]
        .as_array()
        .expect("work orders")
        .iter()
        .map(|w| w["work_order"].as_str().expect("id"))
        .collect();
    in_batch.sort_unstable();
    let mut ordered = vec![wo1.as_str(), wo2.as_str()];
    ordered.sort_unstable();
    assert_eq!(in_batch, ordered);
    let batch_id = str_at(&batch, "/id").to_owned();
    let read = lambda
        .invoke_with(FUNCTION, "order-intake/get-order.json", &with_order)
        .await;
    assert_eq!(read.expect(200)["status"], "accepted");

    // …and completes them: 1 visit and 2 hours (not the 1.5 ordered).
    let completed = lambda
        .invoke_with(
            FUNCTION,
            "order-intake/complete-batch.json",
            &[
                ("ACCESS_TOKEN", engineer.as_str()),
                ("BATCH_ID", batch_id.as_str()),
                ("WORK_ORDER_1", wo1.as_str()),
                ("WORK_ORDER_2", wo2.as_str()),
            ],
        )
        .await;
    assert_eq!(completed.expect(200)["status"], "closed");
    assert_eq!(completed.body["open"], 0);

    // The customer sees the order done, each line with its charge at the actual quantity.
    let read = lambda
        .invoke_with(FUNCTION, "order-intake/get-order.json", &with_order)
        .await;
    let done = read.expect(200);
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["lines"][0]["status"], "done");
    assert_eq!(done["lines"][0]["charge"]["net"], "3500.00");
    assert_eq!(done["lines"][1]["status"], "done");
    assert_eq!(done["lines"][1]["actual_quantity"], "2");
    assert_eq!(
        done["lines"][1]["charge"]["net"], "3600.00",
        "2 h × 1800.00"
    );
    let charges = lambda
        .invoke_with(FUNCTION, "order-intake/list-charges.json", &as_customer)
        .await;
    let charges = charges.expect(200);
    assert_eq!(
        charges["items"].as_array().map(Vec::len),
        Some(2),
        "{charges}"
    );
    assert_eq!(charges["totals"][0]["net"], "7100.00", "{charges}");

    // A subscription from today, with this month's prorated fee.
    let subscribed = lambda
        .invoke_with(
            FUNCTION,
            "order-intake/start-subscription.json",
            &as_customer,
        )
        .await;
    let subscription = subscribed.expect(201);
    assert_eq!(subscription["status"], "active", "{subscription}");
    assert_eq!(subscription["segments"][0]["service"], "VPS-S");
    assert_eq!(
        subscription["current_period"]["parts"][0]["full_period_net"], "990.00",
        "{subscription}"
    );

    // Half a visit: refused naming the field, and nothing is stored.
    let before = app.table_items().await;
    let refused = lambda
        .invoke_with(
            FUNCTION,
            "order-intake/place-order-fractional-quantity.json",
            &as_customer,
        )
        .await;
    refused.expect_problem(422, "lines[0].quantity");
    assert_eq!(
        app.table_items().await,
        before,
        "a refused order stored something"
    );
    let listed = app.get("/v1/orders", Some(&customer.token)).await;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.body
    );
}
