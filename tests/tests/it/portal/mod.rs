//! The web portal through its router, as a browser without JavaScript uses it: sign-in with
//! its CSRF token and cookie flags, the dashboard and invoices in either language, another
//! organisation's invoice a 404 page, forms without their token refused, sign-out ending the
//! session, the security headers and the static files. `browser.rs` drives a real Chromium.

mod admin;
mod audit;
mod browser;
mod customer;
mod orders;
mod people;
mod staff;
mod webhooks;

use std::net::{IpAddr, Ipv4Addr};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, header};
use kopek_tests::{TestApp, TestResponse};
use serde_json::json;

use crate::support::invoices;

/// A cookie jar and the requests a browser sends.
pub(crate) struct Browser<'a> {
    app: &'a TestApp,
    cookies: Vec<(String, String)>,
    pub language: &'static str,
    from: IpAddr,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: Vec::new(),
            language: "ru-RU,ru;q=0.9",
            from: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    fn keep(&mut self, headers: &HeaderMap) {
        for set in headers.get_all(header::SET_COOKIE) {
            let text = set.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !attributes.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sends `request` from this browser's address, keeping nothing it sets.
    pub(crate) async fn send(&self, request: Request<Body>) -> TestResponse {
        self.app.send_from(request, self.from).await
    }

    pub(crate) async fn get(&mut self, path: &str) -> TestResponse {
        let request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::ACCEPT_LANGUAGE, self.language)
            .body(Body::empty())
            .unwrap();
        let response = self.app.send_from(request, self.from).await;
        self.keep(&response.headers);
        response
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> TestResponse {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::ACCEPT_LANGUAGE, self.language)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let response = self.app.send_from(request, self.from).await;
        self.keep(&response.headers);
        response
    }

    /// Signs in through the form; the response to the form's post.
    pub(crate) async fn sign_in(&mut self, email: &str, password: &str) -> TestResponse {
        let form = self.get("/portal/sign-in").await;
        let token = csrf(&form);
        self.post(
            "/portal/sign-in",
            &[("_csrf", &token), ("email", email), ("password", password)],
        )
        .await
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn html(response: &TestResponse) -> String {
    String::from_utf8(response.raw.clone()).expect("UTF-8")
}

/// The `_csrf` value of the first form of a page.
pub(crate) fn csrf(response: &TestResponse) -> String {
    let page = html(response);
    let at = page
        .find("name=\"_csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &page[at + "name=\"_csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

pub(crate) fn location(response: &TestResponse) -> &str {
    response
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn set_cookie(response: &TestResponse, name: &str) -> String {
    response
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set"))
}

/// A customer with an invoice, and another customer with one.
pub(crate) struct Shop {
    pub app: TestApp,
    pub customer: kopek_tests::Customer,
    pub invoice: String,
    pub other_invoice: String,
    /// The other customer.
    pub other: kopek_tests::Customer,
}

impl Shop {
    /// The other customer's organisation.
    pub(crate) async fn other_org(&self) -> String {
        self.other.org_id.clone()
    }

    /// The other customer's e-mail and password.
    pub(crate) fn other_login(&self) -> (String, String) {
        (self.other.email.clone(), self.other.password.clone())
    }

    /// The other customer's subscription.
    pub(crate) async fn other_subscription(&self) -> String {
        let listed = self
            .app
            .get("/v1/subscriptions", Some(&self.other.token))
            .await;
        listed.body["items"][0]["id"]
            .as_str()
            .expect("a subscription")
            .to_owned()
    }
}

pub(crate) async fn shop() -> Shop {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({"code": "VPS-S", "name": {"ru": "Виртуальный сервер", "en": "Virtual server"},
                "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
                "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}}),
    )
    .await
    .assert_status(201);
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({"code": "ROUTER-SETUP", "name": {"ru": "Настройка роутера", "en": "Router setup"},
                "unit": "visit", "kind": "one_off", "work_type": "installation", "tax_rate": "20", "currency": "RUB",
                "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "3500.00"}}}),
    )
    .await
    .assert_status(201);
    let mut orgs = Vec::new();
    for name in ["Ромашка", "Лютик"] {
        let c = app.register(name).await;
        app.post(
            "/v1/subscriptions",
            Some(&c.token),
            &json!({"service": "VPS-S", "quantity": "1"}),
        )
        .await
        .assert_status(201);
        orgs.push(c);
    }
    let ids = invoices::issue_invoices(
        &app,
        kopek_tests::emulator::current_period(),
        &[orgs[0].org_id.as_str(), orgs[1].org_id.as_str()],
    )
    .await;
    let customer = orgs.remove(0);
    let other = orgs.remove(0);
    Shop {
        app,
        customer,
        invoice: ids[0].clone(),
        other_invoice: ids[1].clone(),
        other,
    }
}

#[tokio::test]
async fn a_customer_signs_in_reads_its_invoices_in_either_language_and_signs_out() {
    let shop = shop().await;
    let app = &shop.app;
    let mut browser = Browser::new(app);

    // Not signed in: to the sign-in page.
    let first = browser.get("/portal").await;
    assert_eq!(first.status, 303);
    assert_eq!(location(&first), "/portal/sign-in");
    let form = browser.get("/portal/sign-in").await;
    form.assert_status(200);
    let csp = form.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(form.headers["x-frame-options"], "DENY");
    let nonce = set_cookie(&form, "kopek_csrf");
    assert!(
        nonce.contains("HttpOnly") && nonce.contains("SameSite=Lax"),
        "{nonce}"
    );
    assert!(!nonce.contains("Secure"), "over loopback: {nonce}");
    let page = html(&form);
    assert!(
        page.contains("<html lang=\"ru\">") && page.contains("Вход"),
        "{page}"
    );
    assert!(page.contains("<label for=\"email\">") && page.contains("<label for=\"password\">"));
    assert!(
        !page.contains("<script>") && !page.contains("style=\""),
        "nothing inline"
    );

    // Without the form's token: refused, nothing set.
    let forged = browser
        .post(
            "/portal/sign-in",
            &[
                ("email", &shop.customer.email),
                ("password", &shop.customer.password),
            ],
        )
        .await;
    forged.assert_status(403);
    assert!(browser.cookie("kopek_session").is_none());
    // A wrong password: the form again, with why.
    let wrong = browser
        .sign_in(&shop.customer.email, "not-the-password")
        .await;
    assert_eq!(wrong.status, 401);
    assert!(html(&wrong).contains("role=\"alert\""));

    let signed_in = browser
        .sign_in(&shop.customer.email, &shop.customer.password)
        .await;
    assert_eq!(signed_in.status, 303, "{}", html(&signed_in));
    assert_eq!(location(&signed_in), "/portal");
    let session = set_cookie(&signed_in, "kopek_session");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/portal"] {
        assert!(session.contains(flag), "{session}");
    }
    let cookie_value = browser.cookie("kopek_session").unwrap().to_owned();

    // The dashboard: the customer's name, what it owes, its open invoice.
    let invoice = app
        .get(
            &format!("/v1/invoices/{}", shop.invoice),
            Some(&shop.customer.token),
        )
        .await;
    let number = invoice.body["number"].as_str().unwrap();
    let dashboard = browser.get("/portal").await;
    dashboard.assert_status(200);
    let page = html(&dashboard);
    assert!(page.contains("Ромашка"), "{page}");
    assert!(page.contains(number), "{page}");
    assert!(page.contains("Неоплаченные счета"));
    assert!(
        !page.contains(&cookie_value),
        "the session never shows in a page"
    );
    // In English, by the browser's wish.
    browser.language = "en-GB,en;q=0.9";
    let english = html(&browser.get("/portal/invoices").await);
    assert!(
        english.contains("<html lang=\"en\">") && english.contains("Invoices"),
        "{english}"
    );
    assert!(english.contains(" RUB"), "{english}");
    // …or by choice, over the browser's.
    browser.language = "en";
    let switched = browser
        .get("/portal/language?to=ru&back=/portal/invoices")
        .await;
    assert_eq!(location(&switched), "/portal/invoices");
    assert!(html(&browser.get("/portal/invoices").await).contains("Счета"));
    // Never an open redirect.
    let away = browser
        .get("/portal/language?to=en&back=//evil.example")
        .await;
    assert_eq!(location(&away), "/portal");

    // Staff pages are not a customer's.
    browser.get("/portal/work").await.assert_status(403);

    // One invoice; another organisation's, or a made-up id, is a page not found.
    let own = browser
        .get(&format!("/portal/invoices/{}", shop.invoice))
        .await;
    own.assert_status(200);
    assert!(html(&own).contains(number));
    let theirs = browser
        .get(&format!("/portal/invoices/{}", shop.other_invoice))
        .await;
    theirs.assert_status(404);
    let made_up = browser.get("/portal/invoices/inv_nonsense").await;
    made_up.assert_status(404);
    assert_eq!(
        html(&theirs).replace(&shop.other_invoice, ""),
        html(&made_up).replace("inv_nonsense", "")
    );

    // Sign-out needs the form's token; then the old cookie opens nothing.
    let token = csrf(&dashboard);
    browser
        .post("/portal/sign-out", &[])
        .await
        .assert_status(403);
    let out = browser.post("/portal/sign-out", &[("_csrf", &token)]).await;
    assert_eq!(out.status, 303);
    assert!(browser.cookie("kopek_session").is_none());
    browser.cookies.push(("kopek_session".into(), cookie_value));
    let after = browser.get("/portal").await;
    assert_eq!(location(&after), "/portal/sign-in");
}

#[tokio::test]
async fn cookies_are_secure_off_loopback_and_static_files_are_served_and_cached() {
    let app = TestApp::start().await;
    let mut browser = Browser::new(&app);
    browser.from = "203.0.113.7".parse().unwrap();
    let form = browser.get("/portal/sign-in").await;
    assert!(set_cookie(&form, "kopek_csrf").contains("; Secure"));

    let css = browser.get("/portal/static/style-2.css").await;
    css.assert_status(200);
    assert_eq!(css.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(
        css.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let htmx = browser.get("/portal/static/htmx-2.0.11.min.js").await;
    htmx.assert_status(200);
    assert!(html(&htmx).contains("htmx"));
    browser
        .get("/portal/static/nothing.js")
        .await
        .assert_status(404);
    let missing = browser.get("/portal/no-such-page").await;
    missing.assert_status(404);
    assert!(html(&missing).contains("Страница не найдена"));
}

#[tokio::test]
async fn anyone_registers_an_organisation_and_is_signed_in() {
    let app = TestApp::start().await;
    let mut browser = Browser::new(&app);
    let sign_in = browser.get("/portal/sign-in").await;
    assert!(html(&sign_in).contains("href=\"/portal/register\""));
    let form = browser.get("/portal/register").await;
    form.assert_status(200);
    let token = csrf(&form);
    let (body, email, password) = kopek_tests::registration("Василёк");
    let org = &body["organisation"];
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    let fields = |tax_id: String, token: String| {
        vec![
            ("_csrf", token),
            ("legal_name", text(&org["legal_name"])),
            ("tax_id", tax_id),
            ("billing_address", text(&org["billing_address"])),
            ("billing_email", text(&org["billing_email"])),
            ("currency", "RUB".to_owned()),
            ("name", "Мария Иванова".to_owned()),
            ("email", email.clone()),
            ("password", password.clone()),
        ]
    };
    let send = |pairs: &Vec<(&'static str, String)>| {
        pairs
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect::<Vec<_>>()
    };
    let post = async |browser: &mut Browser<'_>, pairs: Vec<(&'static str, String)>| {
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        browser.post("/portal/register", &borrowed).await
    };

    // Without the form's token, or with a tax id whose check digit is wrong: refused,
    // nothing registered.
    let forged = post(
        &mut browser,
        send(&fields(text(&org["tax_id"]), String::new())),
    )
    .await;
    forged.assert_status(403);
    let bad = post(
        &mut browser,
        send(&fields("7707083890".into(), token.clone())),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", html(&bad));
    let page = html(&bad);
    assert!(
        page.contains("role=\"alert\"") && page.contains("tax_id"),
        "{page}"
    );
    assert!(!page.contains(&password), "a password is never sent back");
    let signed = app
        .post(
            "/v1/auth/sign-in",
            None,
            &json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(signed.status, 401, "nothing was registered");

    let registered = post(&mut browser, send(&fields(text(&org["tax_id"]), token))).await;
    assert_eq!(registered.status, 303, "{}", html(&registered));
    assert_eq!(location(&registered), "/portal");
    let dashboard = browser.get("/portal").await;
    dashboard.assert_status(200);
    assert!(html(&dashboard).contains("Василёк"));
}

#[tokio::test]
async fn under_a_stage_or_a_mapped_path_every_link_redirect_and_cookie_keeps_its_prefix() {
    let app = TestApp::start().await;
    let send = |path: &str, cookie: &str| {
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(kopek_http::layers::BasePath("/billing/prod".into()));
        app.send_from(request, IpAddr::V4(Ipv4Addr::LOCALHOST))
    };
    let first = send("/portal", "").await;
    assert_eq!(first.status, 303);
    assert_eq!(location(&first), "/billing/prod/portal/sign-in");
    let form = send("/portal/sign-in", "").await;
    form.assert_status(200);
    let page = html(&form);
    for link in ["href=\"", "src=\"", "action=\""] {
        for (at, _) in page.match_indices(link) {
            let target = &page[at + link.len()..];
            if target.starts_with('/') {
                assert!(
                    target.starts_with("/billing/prod/portal"),
                    "{}",
                    &target[..40]
                );
            }
        }
    }
    assert!(set_cookie(&form, "kopek_csrf").contains("Path=/billing/prod/portal"));
    // The static files are where the page says.
    send("/portal/static/style-2.css", "")
        .await
        .assert_status(200);
}

#[tokio::test]
async fn pages_and_static_files_are_gzipped_for_a_browser_that_asks() {
    use std::io::Read;
    let app = TestApp::start().await;
    for path in ["/portal/sign-in", "/portal/static/htmx-2.0.11.min.js"] {
        let plain = app.get(path, None).await;
        plain.assert_status(200);
        assert!(plain.headers.get(header::CONTENT_ENCODING).is_none());
        let request = Request::builder()
            .uri(path)
            .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
            .body(Body::empty())
            .unwrap();
        let zipped = app.send(request).await;
        zipped.assert_status(200);
        assert_eq!(zipped.headers[header::CONTENT_ENCODING], "gzip", "{path}");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&zipped.raw[..])
            .read_to_end(&mut unzipped)
            .expect("gzip");
        assert!(
            zipped.raw.len() < unzipped.len() * 2 / 3,
            "{path}: {} of {}",
            zipped.raw.len(),
            unzipped.len()
        );
        if path.ends_with(".js") {
            assert_eq!(unzipped, plain.raw, "the same file");
        } else {
            assert!(String::from_utf8_lossy(&unzipped).contains("<form"));
        }
    }
}

#[tokio::test]
async fn a_session_ends_after_twelve_hours_and_the_page_asks_to_sign_in_again() {
    use kopek_domain::clock::FixedClock;
    let clock = std::sync::Arc::new(FixedClock::at(chrono::Utc::now()));
    let app = TestApp::with_clock(clock.clone()).await;
    let customer = app.register("Ромашка").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&customer.email, &customer.password).await;
    browser.get("/portal").await.assert_status(200);
    clock.advance(chrono::TimeDelta::hours(11));
    browser.get("/portal").await.assert_status(200);
    clock.advance(chrono::TimeDelta::hours(2));
    let expired = browser.get("/portal").await;
    assert_eq!(expired.status, 303);
    assert_eq!(location(&expired), "/portal/sign-in");
    assert!(
        browser.cookie("kopek_session").is_none(),
        "the cookie is dropped"
    );
}
