//! Reports as PDF: a customer asks for its reconciliation statement or statement of account
//! through the API, the documents function makes it (the queue drained as `documents` does),
//! it is downloaded through its presigned link and read by `pdftotext`; a manager signs it,
//! and `openssl cms -verify` checks the signature as anyone would.

use axum::http::Method;
use chrono::NaiveDate;
use kopek_domain::catalog::Lang;
use kopek_domain::ids::ReportId;
use kopek_domain::money::{Currency, Money, in_words};
use kopek_tests::{TestApp, pdf_text};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::signing::openssl_verifies;
use super::{closed_month, object_versions, sha256_hex};
use crate::close::world::{Party, World};

/// The words of `text` in order, however the layout broke its lines (a word broken after
/// its hyphen joined again).
fn words(text: &str) -> String {
    text.replace("-\n", "-")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of a PDF in the order it was laid out (`pdftotext -raw`): a paragraph's lines
/// together, whatever stands beside them — the reconciliation statement prints the
/// customer's conclusion beside the provider's, which `-layout` ([`pdf_text`]) interleaves.
fn raw_text(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("kopek-report-text-{}", kopek_tests::unique()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let path = dir.join("report.pdf");
    std::fs::write(&path, pdf).expect("the PDF is written");
    let out = std::process::Command::new("pdftotext")
        .arg("-raw")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs (poppler-utils)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

/// The provider's day now.
fn today(w: &World) -> NaiveDate {
    w.app.state.services.today()
}

/// `party` pays `amount` roubles today, recorded by an accountant.
async fn pays(w: &World, party: &Party, amount: &str, reference: &str) {
    let accountant = w.app.staff_with_role("accountant").await;
    w.app
        .post(
            "/v1/billing/payments",
            Some(&accountant),
            &json!({"org_id": party.org.to_string(), "amount": amount, "currency": "RUB",
                    "received_on": today(w).to_string(), "reference": reference}),
        )
        .await
        .assert_status(201);
}

/// Asks for a report as `token` (202, `making`); its id.
async fn ask(app: &TestApp, token: &str, body: Value) -> String {
    let asked = app.post("/v1/billing/reports", Some(token), &body).await;
    asked.assert_status(202);
    assert_eq!(asked.body["status"], "making", "{}", asked.body);
    assert!(asked.body.get("download").is_none());
    asked.body["id"].as_str().expect("an id").to_owned()
}

/// The report `id` as `token` reads it.
async fn report(app: &TestApp, token: &str, id: &str) -> Value {
    let read = app
        .get(&format!("/v1/billing/reports/{id}"), Some(token))
        .await;
    read.assert_status(200);
    read.body
}

/// Downloads a report's PDF through its link: the bytes, checked against the record.
async fn pdf_of(view: &Value) -> Vec<u8> {
    let url = view["download"]["url"].as_str().expect("a link to the PDF");
    assert!(url.contains("X-Amz-Expires=300"), "five minutes: {url}");
    let (status, pdf) = kopek_tests::fetch(url).await;
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(view["sha256"], sha256_hex(&pdf));
    assert_eq!(view["size"], pdf.len() as u64);
    pdf
}

#[tokio::test]
async fn a_customer_gets_its_reconciliation_for_the_month_and_a_manager_signs_it() {
    let (w, a, b) = closed_month(true).await;
    pays(&w, &a, "1000.00", "148").await;
    let invoice = w.invoice(a.org, w.period).await.expect("A's invoice");
    let (from, to) = (w.period.first_day(), today(&w));
    let token = w.token(&a).await;

    // The customer asks for its own, naming neither itself nor a language.
    let id = ask(
        &w.app,
        &token,
        json!({"kind": "reconciliation", "from": from.to_string(), "to": to.to_string()}),
    )
    .await;
    let making = report(&w.app, &token, &id).await;
    assert_eq!(
        (&making["status"], &making["language"], &making["org_id"]),
        (&json!("making"), &json!("ru"), &json!(a.org.to_string()))
    );
    let drained = w.app.drain_documents(Some(3)).await;
    assert_eq!((drained.handled, drained.failed), (1, 0), "{drained:?}");

    let ready = report(&w.app, &token, &id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(
        ready["file_name"],
        format!("reconciliation-{from}-{to}.pdf")
    );
    assert!(ready.get("signature_download").is_none());
    let pdf = pdf_of(&ready).await;
    let text = words(&pdf_text(&pdf));
    for wanted in [
        "Акт сверки взаимных расчётов".to_owned(),
        format!(
            "за период с {} по {}",
            from.format("%d.%m.%Y"),
            to.format("%d.%m.%Y")
        ),
        "ООО «Копек»".to_owned(),
        "ООО «Ромашка»".to_owned(),
        "Сальдо начальное".to_owned(),
        "Сальдо конечное".to_owned(),
        "Оплата (п/п 148)".to_owned(),
        invoice.number.to_string(),
    ] {
        assert!(text.contains(&wanted), "no «{wanted}» in:\n{text}");
    }
    assert!(!text.contains("ООО «Лютик»"), "only A's report: {text}");
    // The closing sentence: what A owes after paying 1,000.00 of its invoice, in words.
    let closing = invoice
        .draft
        .gross
        .checked_sub(Money::new(Decimal::new(100_000, 2), Currency::RUB))
        .expect("roubles");
    let in_words = in_words(closing, Lang::Ru);
    let mut chars = in_words.chars();
    let in_words: String = chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default();
    let raw = words(&raw_text(&pdf));
    let sentence = format!(
        "По данным ООО «Копек» на {} задолженность в пользу ООО «Копек» составляет",
        to.format("%d.%m.%Y")
    );
    assert!(raw.contains(&sentence), "no «{sentence}» in:\n{raw}");
    let in_words = format!("руб. ({in_words}).");
    assert!(raw.contains(&in_words), "no «{in_words}» in:\n{raw}");

    // A job delivered again finds the report ready and files nothing.
    let versions = object_versions(&w.app).await;
    let documents = w.app.state.services.documents();
    let rep: ReportId = id.parse().unwrap();
    documents.make_report(a.org, rep).await.expect("again");
    assert_eq!(object_versions(&w.app).await, versions);
    assert_eq!(report(&w.app, &token, &id).await["sha256"], ready["sha256"]);

    // The customer's list, newest first.
    let listed = w.app.get("/v1/billing/reports", Some(&token)).await;
    listed.assert_status(200);
    assert_eq!(
        listed.body["items"][0]["id"],
        id.as_str(),
        "{}",
        listed.body
    );

    // Another customer cannot tell it from a report that never was.
    let other = w.token(&b).await;
    let theirs = w
        .app
        .get(&format!("/v1/billing/reports/{id}"), Some(&other))
        .await;
    theirs.assert_problem(404, "not_found");
    let never = w
        .app
        .get(
            &format!("/v1/billing/reports/{}", ReportId::new()),
            Some(&other),
        )
        .await;
    assert_eq!(theirs.raw, never.raw);
    w.app
        .get(
            &format!("/v1/billing/reports?org_id={}", a.org),
            Some(&other),
        )
        .await
        .assert_problem(404, "not_found");

    // Only managers and admins sign: not an accountant, not the customer.
    let sign = format!("/v1/billing/reports/{id}/sign");
    let accountant = w.app.staff_with_role("accountant").await;
    for refused in [&accountant, &token] {
        w.app
            .post(&sign, Some(refused), &json!({}))
            .await
            .assert_problem(403, "forbidden");
    }
    let manager = w.app.staff_with_role("manager").await;
    let asked = w.app.post(&sign, Some(&manager), &json!({})).await;
    asked.assert_status(202);
    assert!(
        asked.body.get("signature").is_none(),
        "signed in the background"
    );
    assert_eq!(w.app.drain_documents(Some(3)).await.failed, 0);

    let signed = report(&w.app, &token, &id).await;
    let signature = &signed["signature"];
    let me = w.app.get("/v1/me", Some(&manager)).await;
    assert_eq!(signature["signed_by"], me.body["user"]["id"], "{signed}");
    assert_eq!(signed["sha256"], ready["sha256"], "the PDF is unchanged");
    let pdf = pdf_of(&signed).await;
    let (status, p7s) = kopek_tests::fetch(
        signed["signature_download"]["url"]
            .as_str()
            .expect("a link to the signature"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(signature["sha256"], sha256_hex(&p7s));
    let certificate = w
        .app
        .get("/v1/billing/signing-certificate", Some(&token))
        .await;
    certificate.assert_status(200);
    assert_eq!(certificate.body["sha256"], signature["certificate_sha256"]);
    let dir = std::env::temp_dir().join(format!("kopek-report-{}", kopek_tests::unique()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let pem = certificate.body["pem"].as_str().expect("PEM");
    let (ok, why) = openssl_verifies(&dir, &pdf, &p7s, pem);
    assert!(ok, "openssl refuses the report's signature: {why}");
    let mut tampered = pdf.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    let (ok, _) = openssl_verifies(&dir, &tampered, &p7s, pem);
    assert!(!ok, "openssl accepts a tampered report");
    let _ = std::fs::remove_dir_all(&dir);

    // Once is enough: asked again, refused; the signature's job delivered again, nothing.
    w.app
        .post(&sign, Some(&manager), &json!({}))
        .await
        .assert_problem(409, "already_signed");
    let versions = object_versions(&w.app).await;
    let manager_id = me.body["user"]["id"].as_str().unwrap().parse().unwrap();
    documents
        .sign_report_job(a.org, rep, manager_id)
        .await
        .expect("again");
    assert_eq!(object_versions(&w.app).await, versions);
    assert_eq!(
        report(&w.app, &token, &id).await["signature"],
        signed["signature"]
    );
    // The detached signature lies beside the PDF.
    assert!(
        versions
            .iter()
            .any(|v| v.starts_with(&format!("reports/{}/{id}.pdf.p7s@", a.org))),
        "{versions:?}"
    );
}

#[tokio::test]
async fn staff_get_the_statement_of_account_as_a_pdf_in_english() {
    let (w, a, _) = closed_month(true).await;
    pays(&w, &a, "500.00", "77").await;
    let accountant = w.app.staff_with_role("accountant").await;
    let (from, to) = (w.period.first_day(), today(&w));
    let id = ask(
        &w.app,
        &accountant,
        json!({"kind": "account_statement", "org_id": a.org.to_string(), "language": "en",
               "from": from.to_string(), "to": to.to_string()}),
    )
    .await;
    assert_eq!(w.app.drain_documents(Some(3)).await.failed, 0);
    let ready = report(&w.app, &accountant, &id).await;
    assert_eq!(
        (&ready["status"], &ready["kind"], &ready["language"]),
        (&json!("ready"), &json!("account_statement"), &json!("en")),
        "{ready}"
    );
    let pdf = pdf_of(&ready).await;
    let text = words(&pdf_text(&pdf));
    let raw = words(&raw_text(&pdf));
    assert!(
        raw.contains("Payment (payment order 77)"),
        "the payment's row: {raw}"
    );
    for wanted in [
        "Statement of account",
        "Kopek LLC",
        "Tax ID 7708123450, KPP 770801001",
        "ООО «Ромашка»",
        "Opening balance",
        "Closing balance",
        "Totals by service",
    ] {
        assert!(text.contains(wanted), "no «{wanted}» in:\n{text}");
    }
    assert!(!text.contains("Выписка"), "English throughout: {text}");
    // The customer finds it among its own.
    let token = w.token(&a).await;
    let listed = w.app.get("/v1/billing/reports", Some(&token)).await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    assert!(listed.body["items"][0]["download"]["url"].is_string());
}

#[tokio::test]
async fn without_the_providers_requisites_a_report_fails_with_the_reason() {
    let (w, a, _) = closed_month(false).await;
    let token = w.token(&a).await;
    let (from, to) = (w.period.first_day(), today(&w));
    let id = ask(
        &w.app,
        &token,
        json!({"kind": "reconciliation", "from": from.to_string(), "to": to.to_string()}),
    )
    .await;
    // Not made yet: nothing to sign.
    let manager = w.app.staff_with_role("manager").await;
    let sign = format!("/v1/billing/reports/{id}/sign");
    w.app
        .post(&sign, Some(&manager), &json!({}))
        .await
        .assert_problem(409, "not_ready");
    let drained = w.app.drain_documents(Some(3)).await;
    assert_eq!(
        drained.failed, 0,
        "a report that cannot be made is no retry"
    );
    let failed = report(&w.app, &token, &id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["reason"]
            .as_str()
            .is_some_and(|r| r.contains("requisites")),
        "{failed}"
    );
    assert!(failed.get("download").is_none());
    w.app
        .post(&sign, Some(&manager), &json!({}))
        .await
        .assert_problem(409, "not_ready");
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_field_and_change_nothing() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;
    let accountant = app.staff_with_role("accountant").await;
    let before = app.table_items().await;
    let good = json!({"kind": "reconciliation", "from": "2026-11-01", "to": "2026-11-30"});
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    for (body, field) in [
        (with("from", json!("2026-12-01")), "from"),
        (with("to", json!("2036-11-01")), "to"),
        (with("to", json!("2026-11-31")), "to"),
        (with("kind", json!("invoice")), "kind"),
        (with("language", json!("de")), "language"),
        (with("org_id", json!("org_nonsense")), "org_id"),
    ] {
        let refused = app
            .post("/v1/billing/reports", Some(&customer.token), &body)
            .await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.field(), field, "{body}: {}", refused.body);
    }
    // Staff name the customer.
    let unnamed = app
        .post("/v1/billing/reports", Some(&accountant), &good)
        .await;
    unnamed.assert_status(400);
    assert_eq!(unnamed.field(), "org_id");
    // Unknown reports are not found, whoever asks.
    for token in [&customer.token, &accountant] {
        app.send(TestApp::request(
            Method::GET,
            &format!("/v1/billing/reports/{}", ReportId::new()),
            Some(token),
            None,
        ))
        .await
        .assert_problem(404, "not_found");
    }
    assert_eq!(app.table_items().await, before, "nothing is filed");
    let drained = app.drain_documents(Some(1)).await;
    assert_eq!(drained.handled, 0, "nothing is queued");
}
