//! The portal in a real browser: the portal served on a loopback port, and
//! `tests/browser/portal.py` driving Debian's Chromium through it with Playwright — a
//! customer signing in with the keyboard alone, its dashboard, invoices and one invoice, an
//! order with its price following the quantity (htmx) placed, and an engineer taking the
//! batch those orders made and completing it in one form, in
//! both languages at desktop and phone widths, every page checked with axe-core and
//! photographed into `target/screenshots/portal/` (not committed: look at them).

use std::process::Command;

use kopek_local::tools;

use super::shop;

#[tokio::test]
async fn a_customer_uses_the_portal_in_chromium_in_both_languages_with_the_keyboard() {
    let shop = shop().await;
    let invoice = shop
        .app
        .get(
            &format!("/v1/invoices/{}", shop.invoice),
            Some(&shop.customer.token),
        )
        .await;
    let number = invoice.body["number"]
        .as_str()
        .expect("a number")
        .to_owned();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = kopek_api::local_app(shop.app.state.clone());
    let server = tokio::spawn(kopek_http::layers::serve_local(listener, router, async {
        let _ = stopped.await;
    }));

    let root = tools::project_root();
    let python = tools::ensure(&root).expect("the tools").python;
    let shots = root.join("target/screenshots/portal");
    let (email, password) = (shop.customer.email.clone(), shop.customer.password.clone());
    let (engineer, engineer_password) = shop.app.staff_login("engineer").await;
    let run = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(root.join("tests/browser/portal.py"))
            .args([&base, &email, &password, "ООО «Ромашка»", &number])
            .arg(&shots)
            .args([&engineer, &engineer_password])
            .output()
            .expect("python runs")
    })
    .await
    .expect("the browser run");
    let _ = stop.send(());
    let _ = server.await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the browser run failed: {stderr}\n{stdout}"
    );
    let pages: serde_json::Value = serde_json::from_str(stdout.trim()).expect("its report");
    // 4 pages × 2 languages × 2 widths, the order form and orders at desktop width, the
    // registration form, the engineer's queues, batch and completed batch.
    assert_eq!(pages.as_array().map(Vec::len), Some(24), "{pages}");
    // Two orders were placed, one in each language; the engineer did one and failed one.
    let orders = shop.app.get("/v1/orders", Some(&shop.customer.token)).await;
    let mut statuses: Vec<String> = orders.body["items"]
        .as_array()
        .expect("orders")
        .iter()
        .flat_map(|o| o["lines"].as_array().cloned().unwrap_or_default())
        .map(|l| l["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["done", "failed"], "{}", orders.body);
}
