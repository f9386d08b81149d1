//! Ordering in the portal without JavaScript: the form with the expected price, the price
//! shown on request and as an htmx fragment, a bad line refused naming its field with
//! nothing placed, the order placed once however often the form is sent, and the orders list.

use kopek_tests::{TestApp, TestResponse};

use super::{Browser, csrf, html, shop};

async fn send(browser: &mut Browser<'_>, path: &str, fields: &[(&str, String)]) -> TestResponse {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.post(path, &pairs).await
}

async fn orders(app: &TestApp, token: &str) -> usize {
    app.get("/v1/orders", Some(token)).await.body["items"]
        .as_array()
        .map_or(0, Vec::len)
}

#[tokio::test]
async fn a_customer_orders_with_the_price_shown_first_and_places_it_once() {
    let shop = shop().await;
    let app = &shop.app;
    let mut browser = Browser::new(app);
    browser
        .sign_in(&shop.customer.email, &shop.customer.password)
        .await;

    let form = browser.get("/portal/orders/new").await;
    form.assert_status(200);
    let page = html(&form);
    assert!(page.contains("Настройка роутера"), "{page}");
    assert!(
        !page.contains("Виртуальный сервер"),
        "only one-off services are ordered"
    );
    // 3,500.00 net, 4,200.00 with VAT.
    assert!(
        page.contains("3\u{a0}500,00\u{a0}₽") && page.contains("4\u{a0}200,00\u{a0}₽"),
        "{page}"
    );
    let token = csrf(&form);
    let key_at = page.find("name=\"_key\" value=\"").expect("a form key") + 18;
    let key = page[key_at..key_at + page[key_at..].find('"').unwrap()].to_owned();
    let today = kopek_tests::emulator::calendar()
        .date_of(app.state.services.now())
        .to_string();
    let fields = |quantity: &'static str, address: &'static str, action: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("_key", key.clone()),
            ("service", "ROUTER-SETUP".to_owned()),
            ("quantity", quantity.to_owned()),
            ("requested_date", today.clone()),
            ("address", address.to_owned()),
            ("area", "moscow-centre".to_owned()),
            ("note", "Домофон 12".to_owned()),
            ("action", action.to_owned()),
        ]
    };
    // The price of two visits, as the htmx fragment and as the page without JavaScript.
    let fragment = send(&mut browser, "/portal/orders/quote", &fields("2", "", "")).await;
    fragment.assert_status(200);
    assert!(
        html(&fragment).contains("7\u{a0}000,00\u{a0}₽"),
        "{}",
        html(&fragment)
    );
    assert!(!html(&fragment).contains("<html"), "a fragment");
    let preview = send(&mut browser, "/portal/orders", &fields("2", "", "preview")).await;
    preview.assert_status(200);
    assert!(html(&preview).contains("7\u{a0}000,00\u{a0}₽"));

    // Without the token, or without an address: refused, nothing placed.
    let mut forged = fields("1", "Москва, ул. Тверская, 7", "place");
    forged.remove(0);
    send(&mut browser, "/portal/orders", &forged)
        .await
        .assert_status(403);
    let bad = send(&mut browser, "/portal/orders", &fields("1", " ", "place")).await;
    assert_eq!(bad.status, 422, "{}", html(&bad));
    assert!(html(&bad).contains("role=\"alert\""));
    assert_eq!(orders(app, &shop.customer.token).await, 0);

    // Placed once, however often the same form is sent.
    for _ in 0..3 {
        let placed = send(
            &mut browser,
            "/portal/orders",
            &fields("1", "Москва, ул. Тверская, 7", "place"),
        )
        .await;
        assert_eq!(placed.status, 303, "{}", html(&placed));
    }
    assert_eq!(orders(app, &shop.customer.token).await, 1);
    let list = browser.get("/portal/orders?placed=1").await;
    let page = html(&list);
    assert!(
        page.contains("Заказ принят")
            && page.contains("Настройка роутера")
            && page.contains("Принят"),
        "{page}"
    );
}
