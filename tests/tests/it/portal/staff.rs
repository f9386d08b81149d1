//! Staff in the portal: a manager reads a closed period's documents by status, signs all of
//! them in one action and follows its progress, sends the packages, sees a customer's
//! dispute and builds the period's archive; the customer downloads, and disputes, in its
//! own pages. An accountant uploads a bank statement and works through its review list; a
//! manager holds a customer's dunning.

use axum::body::Body;
use axum::http::{Method, Request, header};
use kopek_tests::{TestResponse, fetch};

use super::customer::send;
use super::{Browser, csrf, html, location, shop};
use crate::billing_api::statements::{Doc, OWN, statement};
use crate::documents::closed_month;

/// The first link of a page that starts with `prefix` and ends with `suffix`.
fn link_to(response: &TestResponse, prefix: &str, suffix: &str) -> String {
    let text = html(response);
    text.match_indices(&format!("href=\"{prefix}"))
        .map(|(at, _)| {
            let at = at + 6;
            text[at..at + text[at..].find('"').unwrap()]
                .replace("&amp;", "&")
                .replace("&#38;", "&")
        })
        .find(|link| link.ends_with(suffix))
        .unwrap_or_else(|| panic!("no link to {prefix}…{suffix}: {text}"))
}

/// The first link of a page that starts with `prefix`.
fn link_from(response: &TestResponse, prefix: &str) -> String {
    link_to(response, prefix, "")
}

#[tokio::test]
async fn a_manager_signs_a_period_in_one_action_and_the_customer_accepts_or_disputes_it() {
    let (w, a, b) = closed_month(true).await;
    let app = &w.app;
    app.make_documents().await;
    let (email, password) = app.staff_login("manager").await;
    let mut manager = Browser::new(app);
    manager.sign_in(&email, &password).await;

    let periods = manager.get("/portal/periods").await;
    periods.assert_status(200);
    let period = w.period.to_string();
    assert!(html(&periods).contains(&format!("/portal/periods/{period}")));
    let page_path = format!("/portal/periods/{period}");
    let page = manager.get(&page_path).await;
    page.assert_status(200);
    let text = html(&page);
    assert!(
        text.contains("не подписаны") && text.contains("Подписать все документы (8)"),
        "{text}"
    );

    // One action signs all; the progress page follows it until it is done.
    let signed = send(
        &mut manager,
        &format!("{page_path}/sign"),
        &[("_csrf", &csrf(&page))],
    )
    .await;
    assert_eq!(signed.status, 303);
    let progress = location(&signed).to_owned();
    assert!(progress.starts_with("/portal/signings/sgn_"), "{progress}");
    let running = manager.get(&progress).await;
    running.assert_status(200);
    assert!(html(&running).contains("http-equiv=\"refresh\""));
    app.drain_documents(Some(3)).await;
    let done = manager.get(&progress).await;
    let text = html(&done);
    assert!(
        !text.contains("http-equiv=\"refresh\"") && text.contains("Подписано 8 из 8"),
        "{text}"
    );
    let page = manager.get(&page_path).await;
    assert!(!html(&page).contains("Подписать все документы"));

    // The packages go out; the customer downloads, another disputes.
    let sent = send(
        &mut manager,
        &format!("{page_path}/send"),
        &[("_csrf", &csrf(&page))],
    )
    .await;
    assert_eq!(sent.status, 303);
    app.drain_documents(Some(3)).await;
    let mut customer = Browser::new(app);
    customer
        .sign_in(&a.customer.email, &a.customer.password)
        .await;
    let docs = customer
        .get(&format!("/portal/documents?period={period}"))
        .await;
    docs.assert_status(200);
    let text = html(&docs);
    assert!(
        text.contains("Счёт на оплату") && text.contains("Акт оказанных услуг"),
        "{text}"
    );
    let file = customer
        .get(&link_to(&docs, "/portal/documents/doc_", "/file"))
        .await;
    assert_eq!(file.status, 303);
    let (status, pdf) = fetch(location(&file)).await;
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF"));
    let zip = customer.get(&link_from(&docs, "/portal/packages/")).await;
    assert_eq!(zip.status, 303);
    let (status, bytes) = fetch(location(&zip)).await;
    assert_eq!(status, 200);
    assert!(bytes.starts_with(b"PK"));
    let accept = link_from(&docs, "/portal/packages/").replace("/download", "/accept");
    assert_eq!(
        send(&mut customer, &accept, &[("_csrf", &csrf(&docs))])
            .await
            .status,
        303
    );
    let mut other = Browser::new(app);
    other.sign_in(&b.customer.email, &b.customer.password).await;
    let theirs = other
        .get(&format!("/portal/documents?period={period}"))
        .await;
    let dispute = link_from(&theirs, "/portal/packages/").replace("/download", "/dispute");
    // Not A's package to answer, nor its documents to download.
    assert_eq!(
        send(
            &mut customer,
            &dispute,
            &[("_csrf", &csrf(&docs)), ("reason", "x")]
        )
        .await
        .status,
        404
    );
    let their_file = link_from(&theirs, "/portal/documents/doc_");
    assert_eq!(customer.get(&their_file).await.status, 404);
    let disputed = send(
        &mut other,
        &dispute,
        &[("_csrf", &csrf(&theirs)), ("reason", "Неверное количество")],
    )
    .await;
    assert_eq!(disputed.status, 303);
    let page = manager.get(&page_path).await;
    assert!(
        html(&page).contains("Неверное количество"),
        "{}",
        html(&page)
    );
    // Customers do not reach staff pages.
    assert_eq!(customer.get(&page_path).await.status, 403);

    // The archive of the period: built in the background, then its link.
    let asked = send(
        &mut manager,
        &format!("{page_path}/archive"),
        &[("_csrf", &csrf(&page))],
    )
    .await;
    assert_eq!(asked.status, 303);
    let archive = location(&asked).to_owned();
    app.drain_documents(Some(3)).await;
    let ready = manager.get(&archive).await;
    let text = html(&ready);
    assert!(text.contains("Скачать архив (ZIP)"), "{text}");
}

/// A multipart form with a CSRF token and a file, as a browser sends it.
pub(crate) async fn upload(
    browser: &Browser<'_>,
    path: &str,
    csrf: &str,
    name: &str,
    bytes: &[u8],
) -> TestResponse {
    let boundary = "----kopek-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: text/plain\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::COOKIE, browser.cookie_header())
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    browser.send(request).await
}

#[tokio::test]
async fn an_accountant_uploads_a_statement_and_resolves_its_review_list() {
    let shop = shop().await;
    let app = &shop.app;
    let admin = app.admin().await;
    app.save_requisites(&admin).await;
    let (email, password) = app.staff_login("accountant").await;
    let mut accountant = Browser::new(app);
    accountant.sign_in(&email, &password).await;
    let page = accountant.get("/portal/bank").await;
    page.assert_status(200);
    let today = kopek_tests::emulator::calendar().date_of(app.state.services.now());
    let day = today.format("%d.%m.%Y").to_string();
    let me = app.get("/v1/me", Some(&shop.customer.token)).await;
    let inn = me.body["organisation"]["tax_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // From the customer's INN: recorded as its payment; from an unknown payer: to review.
    let file = statement(
        &day,
        &[
            Doc {
                number: "64",
                amount: "50.00",
                payer_inn: &inn,
                payer_account: "40702810500000000064",
                payee_account: OWN,
                purpose: "За услуги",
            },
            Doc {
                number: "9",
                amount: "15.00",
                payer_inn: "7707083893",
                payer_account: "40702810500000000009",
                payee_account: OWN,
                purpose: "Возврат подотчётных",
            },
        ],
        "0.00",
        "65.00",
        "0.00",
        "65.00",
    );
    // Without the form's token: refused, nothing imported.
    let forged = upload(
        &accountant,
        "/portal/bank/statements",
        "x",
        "kl_to_1c.txt",
        &file,
    )
    .await;
    assert_eq!(forged.status, 403);
    let uploaded = upload(
        &accountant,
        "/portal/bank/statements",
        &csrf(&page),
        "kl_to_1c.txt",
        &file,
    )
    .await;
    assert_eq!(uploaded.status, 303, "{}", html(&uploaded));
    let report = location(&uploaded).to_owned();
    assert!(report.starts_with("/portal/bank/imports/imp_"), "{report}");
    let pending = accountant.get(&report).await;
    assert!(html(&pending).contains("http-equiv=\"refresh\""));
    app.drain_bank().await;
    let done = accountant.get(&report).await;
    let text = html(&done);
    assert!(
        !text.contains("http-equiv=\"refresh\"")
            && text.contains("зачтён")
            && text.contains("на разборе"),
        "{text}"
    );
    let payments = app
        .get(
            &format!("/v1/billing/payments?org_id={}", shop.customer.org_id),
            Some(&admin),
        )
        .await;
    assert_eq!(payments.body["items"][0]["amount"], "50.00");

    // The review list: the unknown payer's line dismissed with why.
    let page = accountant.get("/portal/bank").await;
    let resolve = link_from_form(&page, "/portal/bank/imports/");
    let unexplained = send(
        &mut accountant,
        &resolve,
        &[("_csrf", &csrf(&page)), ("do", "dismiss"), ("reason", "")],
    )
    .await;
    assert_eq!(unexplained.status, 422, "{}", html(&unexplained));
    assert!(html(&unexplained).contains("reason"));
    let dismissed = send(
        &mut accountant,
        &resolve,
        &[
            ("_csrf", &csrf(&page)),
            ("do", "dismiss"),
            ("reason", "Возврат подотчётных сумм"),
        ],
    )
    .await;
    assert_eq!(dismissed.status, 303, "{}", html(&dismissed));
    let page = accountant.get("/portal/bank").await;
    assert!(html(&page).contains("Разбирать нечего"));

    // A manager reads the bank pages but does not upload; a customer does not reach them.
    let (email, password) = app.staff_login("manager").await;
    let mut manager = Browser::new(app);
    manager.sign_in(&email, &password).await;
    let theirs = manager.get("/portal/bank").await;
    assert!(!html(&theirs).contains("multipart/form-data"));
    let mut customer = Browser::new(app);
    customer
        .sign_in(&shop.customer.email, &shop.customer.password)
        .await;
    assert_eq!(customer.get("/portal/bank").await.status, 403);

    // The manager holds the customer's dunning until a day, with why.
    let path = format!("/portal/customers/{}", shop.customer.org_id);
    let page = manager.get(&path).await;
    page.assert_status(200);
    let rev = super::customer::field_of(&page, &format!("{path}/dunning"), "rev");
    let until = (today + chrono::Days::new(10)).to_string();
    let held = send(
        &mut manager,
        &format!("{path}/dunning"),
        &[
            ("_csrf", &csrf(&page)),
            ("rev", &rev),
            ("mode", "hold"),
            ("until", &until),
            ("reason", "Договорились об отсрочке"),
        ],
    )
    .await;
    assert_eq!(held.status, 303, "{}", html(&held));
    let dunning = app
        .get(
            &format!("/v1/billing/dunning?org_id={}", shop.customer.org_id),
            Some(&admin),
        )
        .await;
    assert_eq!(
        dunning.body["settings"]["mode"]["kind"], "hold",
        "{}",
        dunning.body
    );
    assert_eq!(dunning.body["settings"]["mode"]["until"], until.as_str());
}

/// The `action` of the first form posting under `prefix`.
fn link_from_form(response: &TestResponse, prefix: &str) -> String {
    let text = html(response);
    let at = text
        .find(&format!("action=\"{prefix}"))
        .unwrap_or_else(|| panic!("no form posting to {prefix}…: {text}"))
        + 8;
    text[at..at + text[at..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn an_engineer_taking_a_batch_with_a_bad_date_is_told_which_field() {
    let shop = shop().await;
    let app = &shop.app;
    let (email, password) = app.staff_login("engineer").await;
    let mut engineer = Browser::new(app);
    engineer.sign_in(&email, &password).await;
    let page = engineer.get("/portal/work").await;
    page.assert_status(200);

    let refused = send(
        &mut engineer,
        "/portal/work/batches",
        &[
            ("_csrf", &csrf(&page)),
            ("work_type", "installation"),
            ("size", "5"),
            ("requested_by", "завтра"),
        ],
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(
        html(&refused).contains("requested_by"),
        "{}",
        html(&refused)
    );
}
