//! The portal in a real browser: the portal served on a loopback port, and
//! `tests/browser/portal.py` driving Debian's Chromium through it with Playwright — a
//! customer signing in with the keyboard alone, its dashboard, invoices and one invoice, an
//! order with its price following the quantity (htmx) placed, a subscription previewed and
//! confirmed, its usage, documents, payments, statement and account; the public catalog;
//! an engineer taking a work order those orders made and completing it; a manager holding
//! the customer's dunning; an accountant recording its payment; an admin's catalog, staff
//! and settings — in both languages (the
//! customer's pages also at phone width), every page checked with axe-core and photographed
//! into `target/screenshots/portal/` (not committed: look at them).

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

    // Usage of a metered service on two days, for the usage page's chart.
    let admin = shop.app.admin().await;
    shop.app
        .post(
            "/v1/catalog/services",
            Some(&admin),
            &serde_json::json!({
                "code": "TRAFFIC", "name": {"ru": "Трафик", "en": "Traffic"},
                "unit": "gigabyte", "kind": "metered", "tax_rate": "20", "currency": "RUB",
                "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1.50"}}
            }),
        )
        .await
        .assert_status(201);
    let engineer_token = shop.app.staff_with_role("engineer").await;
    let now = shop.app.state.services.now();
    let events: Vec<_> = (0..2)
        .map(|i| {
            let at = now - chrono::TimeDelta::hours(i * 30);
            serde_json::json!({"id": format!("b-{i}"), "customer": shop.customer.org_id,
                "meter": "TRAFFIC", "quantity": format!("{}.5", 3 + i * 4),
                "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
        })
        .collect();
    shop.app
        .post(
            "/v1/usage",
            Some(&engineer_token),
            &serde_json::json!({"events": events}),
        )
        .await
        .assert_status(202);
    shop.app.drain_usage().await;

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
    let (manager, manager_password) = shop.app.staff_login("manager").await;
    let (accountant, accountant_password) = shop.app.staff_login("accountant").await;
    let (admin_email, admin_password) = shop.app.staff_login("admin").await;
    let org = shop.customer.org_id.clone();
    let org_arg = org.clone();
    let run = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(root.join("tests/browser/portal.py"))
            .args([&base, &email, &password, "ООО «Ромашка»", &number])
            .arg(&shots)
            .args([&engineer, &engineer_password])
            .args([
                &manager,
                &manager_password,
                &accountant,
                &accountant_password,
            ])
            .arg(&org_arg)
            .args([&admin_email, &admin_password])
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
    // 5 pages × 2 languages × 2 widths; 11 more of the customer's (its audit log among them)
    // and anyone's at desktop width in each language; the registration form; the engineer's
    // 3, the manager's 4 and the accountant's 2 and the admin's 7 (the catalog, staff,
    // settings, the webhooks, a new endpoint's secret, its delivery log, the audit log) in
    // each language.
    assert_eq!(pages.as_array().map(Vec::len), Some(75), "{pages}");
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
    // The admin registered an endpoint in each language.
    let hooks = shop
        .app
        .get("/v1/webhook-endpoints", Some(&shop.app.admin().await))
        .await;
    assert_eq!(
        hooks.body.as_array().map(Vec::len),
        Some(2),
        "{}",
        hooks.body
    );
    // The manager's hold and the accountant's payment happened.
    let admin = shop.app.admin().await;
    let dunning = shop
        .app
        .get(&format!("/v1/billing/dunning?org_id={org}"), Some(&admin))
        .await;
    assert_eq!(
        dunning.body["settings"]["mode"]["kind"], "hold",
        "{}",
        dunning.body
    );
    let paid = shop
        .app
        .get(&format!("/v1/billing/payments?org_id={org}"), Some(&admin))
        .await;
    assert_eq!(paid.body["items"][0]["amount"], "1000.00", "{}", paid.body);
    // A subscription was started in each language.
    let subs = shop
        .app
        .get("/v1/subscriptions", Some(&shop.customer.token))
        .await;
    assert_eq!(
        subs.body["items"].as_array().map(Vec::len),
        Some(3),
        "{}",
        subs.body
    );
}
