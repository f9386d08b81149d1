//! Engineers racing for the same queue.

use super::{line, place, work_orders, world};
use axum::http::Method;
use kopek_tests::{TestApp, send_to};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::Barrier;

/// Many engineers take batches of the same queue at the same moment: every work order ends
/// in exactly one batch, and the line agrees with the batch that holds it. The race is real:
/// the engineers start together, several of them get batches, and takes lose work orders to
/// each other and take again (the services count every work order lost so).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_engineers_never_receive_the_same_work_order() {
    let w = world().await;
    let app = &w.app;
    let total = 60;
    for _ in 0..(total / 20) {
        place(
            app,
            &w.customer.token,
            (0..20).map(|_| line("ROUTER-SETUP", "1")).collect(),
        )
        .await
        .assert_status(201);
    }
    let mut engineers = vec![w.engineer.clone()];
    for _ in 0..5 {
        engineers.push(app.staff_with_role("engineer").await);
    }
    let lost_before = app.state.services.contention().batch_lines_lost;
    let start = Arc::new(Barrier::new(engineers.len()));
    let mut tasks = Vec::new();
    for token in engineers {
        let router = app.router.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine: Vec<(String, Vec<String>)> = Vec::new();
            start.wait().await;
            loop {
                let request = TestApp::request(
                    Method::POST,
                    "/v1/work/batches",
                    Some(&token),
                    Some(&json!({"work_type": "install", "size": 4})),
                );
                let response = send_to(&router, request).await;
                match response.status.as_u16() {
                    201 => mine.push((
                        response.body["id"].as_str().unwrap().to_owned(),
                        work_orders(&response.body),
                    )),
                    409 => return mine,
                    503 => continue,
                    other => panic!("unexpected {other}: {}", response.body),
                }
            }
        }));
    }
    let mut owner: HashMap<String, String> = HashMap::new();
    let mut batches = 0;
    let mut served = 0;
    for task in tasks {
        let mine = task.await.unwrap();
        served += usize::from(!mine.is_empty());
        for (batch, wos) in mine {
            batches += 1;
            for wo in wos {
                if let Some(previous) = owner.insert(wo.clone(), batch.clone()) {
                    panic!("{wo} is in both {previous} and {batch}");
                }
            }
        }
    }
    assert_eq!(
        owner.len(),
        total,
        "every work order was taken exactly once"
    );
    assert!(batches >= total / 4);
    let lost = app.state.services.contention().batch_lines_lost - lost_before;
    assert!(
        lost > 0,
        "no take lost a work order to another: there was no race"
    );
    assert!(served >= 3, "only {served} engineers got batches");
    // Every line says it is in the batch that claims it.
    let lines: Vec<Value> = app
        .table_items()
        .await
        .into_iter()
        .filter(|i| {
            i["type"] == "\"order_line\""
                || i["type"].as_str().is_some_and(|t| t.contains("order_line"))
        })
        .collect();
    assert_eq!(lines.len(), total);
    let in_batches: BTreeSet<String> = lines
        .iter()
        .map(|l| l["GSI1PK"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        in_batches.iter().all(|k| k.contains("BATCH#")),
        "{in_batches:?}"
    );
    for (wo, batch) in &owner {
        let line = lines
            .iter()
            .find(|l| l.to_string().contains(wo.as_str()))
            .unwrap();
        assert!(
            line["GSI1PK"].as_str().unwrap().contains(batch.as_str()),
            "{wo} not in {batch}"
        );
    }
}
