//! The audit log in the portal: an admin searches every record and downloads them as CSV; a
//! customer's user sees the records about its organisation only — never another's, even by
//! naming it; engineers and managers have no such page.

use super::{Browser, html, shop};

#[tokio::test]
async fn an_admin_searches_the_log_and_a_customer_sees_only_its_own() {
    let shop = shop().await;
    let app = &shop.app;
    let (email, password) = app.staff_login("admin").await;
    let mut admin = Browser::new(app);
    admin.sign_in(&email, &password).await;

    let all = admin.get("/portal/audit").await;
    all.assert_status(200);
    let text = html(&all);
    assert!(text.contains("POST /v1/catalog/services"), "{text}");
    assert!(text.contains("service:VPS-S"), "the object of a change");
    assert!(text.contains(&shop.customer.org_id) && text.contains(&shop.other.org_id));

    // Narrowed to one object; then the same search as CSV.
    let one = admin.get("/portal/audit?object=service:VPS-S").await;
    one.assert_status(200);
    let text = html(&one);
    assert!(text.contains("service:VPS-S"));
    assert!(!text.contains("service:ROUTER-SETUP"), "only that object");
    let csv = admin
        .get("/portal/audit?object=service:VPS-S&format=csv")
        .await;
    csv.assert_status(200);
    assert!(csv.content_type().starts_with("text/csv"));
    let body = String::from_utf8(csv.raw.clone()).unwrap();
    assert_eq!(
        body.lines().count(),
        2,
        "the header and the creation: {body}"
    );
    assert!(body.contains("service:VPS-S"));
    // A bad object is refused naming the field.
    let bad = admin.get("/portal/audit?object=nonsense").await;
    assert_eq!(bad.status, 422, "{}", html(&bad));
    assert!(html(&bad).contains("object"));

    // The customer: its own organisation's records, by its users and by staff.
    let mut customer = Browser::new(app);
    customer
        .sign_in(&shop.customer.email, &shop.customer.password)
        .await;
    let own = customer.get("/portal/audit").await;
    own.assert_status(200);
    let text = html(&own);
    assert!(text.contains("POST /v1/auth/register"), "{text}");
    assert!(text.contains("POST /v1/subscriptions"));
    assert!(!text.contains(&shop.other.org_id), "never another's");
    assert!(
        !text.contains("service:VPS-S"),
        "the catalog is no customer's"
    );
    let other = customer
        .get(&format!("/portal/audit?org={}", shop.other.org_id))
        .await;
    assert_eq!(other.status, 404, "{}", html(&other));

    // Managers have no audit log.
    let (email, password) = app.staff_login("manager").await;
    let mut manager = Browser::new(app);
    manager.sign_in(&email, &password).await;
    let refused = manager.get("/portal/audit").await;
    assert_eq!(refused.status, 403);
    let menu = manager.get("/portal").await;
    assert!(!html(&menu).contains("/portal/audit"));
}
