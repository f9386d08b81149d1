//! People's own things in the portal: a forgotten password reset through a link by mail
//! (used once, the old password and every session ended), the account page's API keys (the
//! secret shown once) and colleagues (invited by mail, accepting in the portal), and signing
//! out everywhere.

use super::customer::send;
use super::{Browser, csrf, html, location, shop};

/// The link of the last mail to `to` that holds `path`.
async fn link_in_mail(app: &kopek_tests::TestApp, to: &str, path: &str) -> String {
    let mails = app.mails_to(to).await;
    let body = mails
        .iter()
        .rev()
        .map(|(_, body)| body)
        .find(|b| b.contains(path))
        .unwrap_or_else(|| panic!("no mail to {to} with {path}: {mails:?}"));
    let at = body.find(path).unwrap();
    let end = body[at..]
        .find(char::is_whitespace)
        .map_or(body.len(), |e| at + e);
    body[at..end].to_owned()
}

#[tokio::test]
async fn a_forgotten_password_is_reset_once_through_a_link_by_mail() {
    let shop = shop().await;
    let app = &shop.app;
    let email = shop.customer.email.clone();
    let mut browser = Browser::new(app);
    let mut elsewhere = Browser::new(app);
    elsewhere.sign_in(&email, &shop.customer.password).await;

    let form = browser.get("/portal/forgot").await;
    form.assert_status(200);
    let asked = send(
        &mut browser,
        "/portal/forgot",
        &[("_csrf", &csrf(&form)), ("email", &email)],
    )
    .await;
    asked.assert_status(200);
    let said = html(&asked);
    // An unknown address gets the same answer, and no mail.
    let unknown = format!("nobody-{}@example.ru", kopek_tests::unique());
    let other = send(
        &mut browser,
        "/portal/forgot",
        &[("_csrf", &csrf(&form)), ("email", &unknown)],
    )
    .await;
    assert_eq!(html(&other), said);
    assert!(app.mails_to(&unknown).await.is_empty());
    // Without the form's token: refused, nothing sent.
    let forged = send(&mut browser, "/portal/forgot", &[("email", &email)]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.mails_to(&email).await.len(), 1);

    // The link: its token moves into a cookie and out of the address at once.
    let link = link_in_mail(app, &email, "/portal/reset?token=").await;
    let opened = browser.get(&link).await;
    assert_eq!(opened.status, 303);
    assert_eq!(location(&opened), "/portal/reset");
    let page = browser.get("/portal/reset").await;
    page.assert_status(200);
    let token = link.split("token=").nth(1).unwrap();
    assert!(!html(&page).contains(token), "no token in the page");
    let mismatch = send(
        &mut browser,
        "/portal/reset",
        &[
            ("_csrf", &csrf(&page)),
            ("password", "a-new-password-1"),
            ("password_again", "another-one-22"),
        ],
    )
    .await;
    assert_eq!(mismatch.status, 422);
    let fields = [
        ("_csrf", csrf(&page)),
        ("password", "a-new-password-1".to_owned()),
        ("password_again", "a-new-password-1".to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reset = send(&mut browser, "/portal/reset", &pairs).await;
    assert_eq!(reset.status, 303);
    assert_eq!(location(&reset), "/portal");
    browser.get("/portal").await.assert_status(200);

    // The old password and every other session are over; the link works once.
    assert_eq!(elsewhere.get("/portal").await.status, 303);
    let old = Browser::new(app)
        .sign_in(&email, &shop.customer.password)
        .await;
    assert_eq!(old.status, 401);
    let new = Browser::new(app).sign_in(&email, "a-new-password-1").await;
    assert_eq!(new.status, 303);
    let mut again = Browser::new(app);
    again.get(&link).await;
    let page = again.get("/portal/reset").await;
    let fields = [
        ("_csrf", csrf(&page)),
        ("password", "a-third-password".to_owned()),
        ("password_again", "a-third-password".to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(send(&mut again, "/portal/reset", &pairs).await.status, 401);
}

#[tokio::test]
async fn a_customer_makes_an_api_key_invites_a_colleague_and_signs_out_everywhere() {
    let shop = shop().await;
    let app = &shop.app;
    let mut browser = Browser::new(app);
    browser
        .sign_in(&shop.customer.email, &shop.customer.password)
        .await;
    let page = browser.get("/portal/account").await;
    page.assert_status(200);
    assert!(html(&page).contains(&shop.customer.email));

    // An API key: its secret shown once, working, then revoked.
    let made = send(
        &mut browser,
        "/portal/account/keys",
        &[
            ("_csrf", &csrf(&page)),
            ("name", "CRM"),
            ("scope", "orders:read"),
            ("scope", "invoices:read"),
        ],
    )
    .await;
    made.assert_status(200);
    let text = html(&made);
    let at = text
        .find("id=\"new-key\" readonly value=\"")
        .expect("the key")
        + 29;
    let secret = text[at..at + text[at..].find('"').unwrap()].to_owned();
    assert!(secret.starts_with("kpk_"), "{secret}");
    app.get("/v1/orders", Some(&secret))
        .await
        .assert_status(200);
    let later = browser.get("/portal/account").await;
    assert!(!html(&later).contains(&secret), "shown once");
    let key_id = app
        .get("/v1/api-keys", Some(&shop.customer.token))
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = send(
        &mut browser,
        &format!("/portal/account/keys/{key_id}/revoke"),
        &[("_csrf", &csrf(&later))],
    )
    .await;
    assert_eq!(revoked.status, 303);
    assert_eq!(app.get("/v1/orders", Some(&secret)).await.status, 401);

    // A colleague: invited by mail, accepting in the portal, signed in to the organisation.
    let colleague = format!("colleague-{}@example.ru", kopek_tests::unique());
    let invited = send(
        &mut browser,
        "/portal/account/users",
        &[
            ("_csrf", &csrf(&later)),
            ("name", "Пётр Коллегин"),
            ("email", &colleague),
        ],
    )
    .await;
    assert_eq!(invited.status, 303);
    let link = link_in_mail(app, &colleague, "/portal/invitation?token=").await;
    let mut theirs = Browser::new(app);
    theirs.get(&link).await;
    let page = theirs.get("/portal/invitation").await;
    let fields = [
        ("_csrf", csrf(&page)),
        ("password", "colleague-pass-1".to_owned()),
        ("password_again", "colleague-pass-1".to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        send(&mut theirs, "/portal/invitation", &pairs).await.status,
        303
    );
    let home = theirs.get("/portal").await;
    home.assert_status(200);
    assert!(html(&home).contains("Ромашка"), "{}", html(&home));

    // Signing out everywhere ends both of the customer's browsers.
    let mut second = Browser::new(app);
    second
        .sign_in(&shop.customer.email, &shop.customer.password)
        .await;
    let page = browser.get("/portal/account").await;
    let out = send(
        &mut browser,
        "/portal/account/sign-out-everywhere",
        &[("_csrf", &csrf(&page))],
    )
    .await;
    assert_eq!(out.status, 303);
    assert_eq!(browser.get("/portal").await.status, 303);
    assert_eq!(second.get("/portal").await.status, 303);
    // The colleague's session is its own.
    theirs.get("/portal").await.assert_status(200);
}
