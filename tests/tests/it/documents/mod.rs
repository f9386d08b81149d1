//! Closing documents, driven as AWS drives them: a month closed, the outbox relayed (what
//! `outbox-relay` does every minute), `DocumentsQueue` drained through the documents service
//! with the Typst renderer (what `documents` does); then read through the HTTP API and
//! downloaded through the presigned links from the emulator's S3.

use axum::http::Method;
use kopek_domain::documents::{DocumentType, InvoiceSheet, SheetKind, Source};
use kopek_domain::ids::DocumentId;
use kopek_domain::invoicing::Invoice;
use kopek_tests::{TestApp, fetch, pdf_text, provider_requisites};
use serde_json::{Value, json};

use crate::close::world::{Party, World};

mod faults;
mod packages;
mod reports;
mod signing;
mod templates;

async fn put_requisites(w: &World) {
    let admin = w.app.admin().await;
    w.app
        .send(TestApp::request(
            Method::PUT,
            "/v1/billing/requisites",
            Some(&admin),
            Some(&json!({"requisites": provider_requisites()})),
        ))
        .await
        .assert_status(200);
}

/// A month of two customers' subscriptions, closed.
pub(crate) async fn closed_month(requisites: bool) -> (World, Party, Party) {
    let w = World::new().await;
    let a = w.party("Ромашка").await;
    let b = w.party("Лютик").await;
    w.subscribe(&a, 2).await;
    w.subscribe(&b, 1).await;
    if requisites {
        put_requisites(&w).await;
    }
    w.month_ended();
    w.close(w.period).await;
    (w, a, b)
}

/// Every version of every object in the documents bucket.
pub(super) async fn object_versions(app: &TestApp) -> Vec<String> {
    let bucket = &app.env["KOPEK_DOCUMENTS_BUCKET"];
    let listed = kopek_local::s3_client(&app.sdk)
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .expect("the bucket lists");
    let mut versions: Vec<String> = listed
        .versions()
        .iter()
        .map(|v| {
            format!(
                "{}@{}",
                v.key().unwrap_or_default(),
                v.version_id().unwrap_or_default()
            )
        })
        .collect();
    versions.sort();
    versions
}

fn sha256_hex(bytes: &[u8]) -> String {
    kopek_aws::objects::sha256_hex(bytes)
}

/// The UPD's XML as downloaded: windows-1251, named as its `ИдФайл`, the invoice's number,
/// date, parties and totals, every line adding up.
fn upd_says_what_the_invoice_says(bytes: &[u8], file_name: &str, invoice: &Invoice) {
    let (text, _, bad) = encoding_rs::WINDOWS_1251.decode(bytes);
    assert!(!bad, "windows-1251");
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"windows-1251\"?>"));
    let xml = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = xml.root_element();
    assert_eq!(
        root.attribute("ИдФайл")
            .map(|id| format!("{id}.xml"))
            .as_deref(),
        Some(file_name)
    );
    assert!(file_name.starts_with("ON_NSCHFDOPPR_"), "{file_name}");
    let find = |name: &str| {
        xml.descendants()
            .find(|n| n.has_tag_name(name))
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(find("Документ").attribute("Функция"), Some("СЧФДОП"));
    let head = find("СвСчФакт");
    assert_eq!(
        head.attribute("НомерДок"),
        Some(invoice.number.to_string().as_str())
    );
    assert_eq!(
        head.attribute("ДатаДок"),
        Some(invoice.issued_on.format("%d.%m.%Y").to_string().as_str())
    );
    let buyer = invoice
        .parties
        .as_ref()
        .expect("parties")
        .buyer
        .tax_id
        .to_string();
    assert!(
        xml.descendants()
            .any(|n| n.has_tag_name("СвЮЛУч") && n.attribute("ИННЮЛ") == Some(buyer.as_str())),
        "the buyer: {text}"
    );
    let amount = |node: roxmltree::Node<'_, '_>, name: &str| -> rust_decimal::Decimal {
        node.attribute(name)
            .expect(name)
            .parse()
            .expect("a decimal")
    };
    let lines: Vec<_> = xml
        .descendants()
        .filter(|n| n.has_tag_name("СведТов"))
        .collect();
    assert_eq!(lines.len(), invoice.draft.lines.len());
    let total = find("ВсегоОпл");
    assert_eq!(
        amount(total, "СтТовУчНалВсего"),
        invoice.draft.gross.amount()
    );
    assert_eq!(
        lines
            .iter()
            .map(|l| amount(*l, "СтТовУчНал"))
            .sum::<rust_decimal::Decimal>(),
        invoice.draft.gross.amount()
    );
}

#[tokio::test]
async fn every_issued_invoice_becomes_an_invoice_an_act_and_a_upd_filed_once() {
    let (w, a, b) = closed_month(true).await;
    let made = w.app.make_documents().await;
    // The provider pays VAT and both customers are Russian: each invoice also has its UPD,
    // the tax service's XML and its printable form.
    assert_eq!((made.filed, made.failed), (8, 0), "{made:?}");

    let token = w.token(&a).await;
    let listed = w
        .app
        .get(&format!("/v1/documents?period={}", w.period), Some(&token))
        .await;
    listed.assert_status(200);
    let docs = listed.body.as_array().expect("a list").clone();
    let invoice = w.invoice(a.org, w.period).await.expect("A's invoice");
    let types: Vec<&str> = docs
        .iter()
        .map(|d| d["doc_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["act", "invoice", "upd", "upd_print"], "{docs:?}");
    for doc in &docs {
        let doc_type: DocumentType = doc["doc_type"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            doc["id"],
            DocumentId::of(Source::Invoice(invoice.id), doc_type).to_string()
        );
        assert_eq!(doc["number"], invoice.number.to_string());
        assert_eq!(doc["org_id"], a.org.to_string());
        assert_eq!(doc["status"], "generated");
        assert_eq!(doc["gross"], invoice.draft.gross.amount_text());
        assert_eq!(doc["dated"], invoice.issued_on.to_string());

        // The link downloads exactly the bytes whose SHA-256 and size are recorded.
        let link = w
            .app
            .get(
                &format!("/v1/documents/{}/download", doc["id"].as_str().unwrap()),
                Some(&token),
            )
            .await;
        link.assert_status(200);
        let url = link.body["url"].as_str().expect("a URL");
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        assert!(url.contains("X-Amz-Expires=300"), "five minutes: {url}");
        let (status, pdf) = fetch(url).await;
        assert_eq!(status, 200);
        assert_eq!(doc["sha256"], sha256_hex(&pdf));
        assert_eq!(doc["size"], pdf.len() as u64);
        let file_name = doc["file_name"].as_str().unwrap();
        if doc_type == DocumentType::Upd {
            upd_says_what_the_invoice_says(&pdf, file_name, &invoice);
            continue;
        }
        assert!(
            file_name.ends_with(&format!("{}.pdf", invoice.number)),
            "{file_name}"
        );

        // It says what it is, whose it is and what it costs.
        let text = pdf_text(&pdf);
        let title = match doc_type {
            DocumentType::Act => "Акт",
            DocumentType::UpdPrint => "Универсальный передаточный документ",
            _ => "Счёт на оплату",
        };
        assert!(text.contains(title), "{text}");
        assert!(text.contains(&invoice.number.to_string()), "{text}");
        assert!(text.contains("7708123450"), "the seller's tax id: {text}");

        // Reproducible: the same invoice typesets to the same bytes.
        let kind = match doc_type {
            DocumentType::Act => SheetKind::Act,
            DocumentType::UpdPrint => SheetKind::Upd,
            _ => SheetKind::Invoice,
        };
        let again = kopek_tests::typesetter()
            .sheet(&InvoiceSheet::of(&invoice, kind).expect("printable"))
            .expect("typeset");
        assert_eq!(sha256_hex(&again), sha256_hex(&pdf));
    }

    // The key names period, customer, type and number.
    let versions = object_versions(&w.app).await;
    assert_eq!(versions.len(), 8, "{versions:?}");
    let key = format!("periods/{}/{}/act/{}.pdf@", w.period, a.org, invoice.number);
    assert!(versions.iter().any(|v| v.starts_with(&key)), "{versions:?}");

    // Asked again (a redelivered job, a manager's request): nothing is made or written twice.
    let accountant = w.app.staff_with_role("accountant").await;
    let requested = w
        .app
        .post(
            &format!("/v1/periods/{}/documents", w.period),
            Some(&accountant),
            &json!({}),
        )
        .await;
    requested.assert_status(202);
    assert_eq!(requested.body["invoices"], 2);
    let again = w.app.make_documents().await;
    assert_eq!(
        (again.filed, again.handled, again.failed),
        (0, 1, 0),
        "{again:?}"
    );
    assert_eq!(object_versions(&w.app).await, versions);

    // The manager's view: counts and totals by status, every customer's documents.
    let period = w
        .app
        .get(
            &format!("/v1/periods/{}/documents", w.period),
            Some(&accountant),
        )
        .await;
    period.assert_status(200);
    let b_invoice = w.invoice(b.org, w.period).await.expect("B's invoice");
    let total = invoice
        .draft
        .gross
        .checked_add(b_invoice.draft.gross)
        .expect("one currency");
    assert_eq!(period.body["invoices"], 2);
    assert_eq!(
        period.body["by_status"],
        json!([{"status": "generated", "count": 8, "gross": [total.amount_text()]}])
    );
    let items = period.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 8);
    assert!(items.iter().all(|d| d["customer"].is_string()), "{items:?}");

    // B sees only its own.
    let b_token = w.token(&b).await;
    let theirs = w
        .app
        .get(
            &format!("/v1/documents?period={}", w.period),
            Some(&b_token),
        )
        .await;
    let theirs: Vec<&Value> = theirs.body.as_array().unwrap().iter().collect();
    assert_eq!(theirs.len(), 4);
    assert!(theirs.iter().all(|d| d["org_id"] == b.org.to_string()));
}

#[tokio::test]
async fn without_requisites_nothing_is_filed_until_they_are_set_and_asked_for_again() {
    let (w, a, _) = closed_month(false).await;
    let made = w.app.make_documents().await;
    assert_eq!(made.filed, 0, "{made:?}");
    assert!(made.failed >= 1, "the jobs fail and are retried: {made:?}");
    assert!(object_versions(&w.app).await.is_empty());

    // The period's documents are counted as none; the jobs wait for the requisites.
    let accountant = w.app.staff_with_role("accountant").await;
    let path = format!("/v1/periods/{}/documents", w.period);
    let period = w.app.get(&path, Some(&accountant)).await;
    period.assert_status(200);
    assert_eq!(period.body["by_status"], json!([]));

    put_requisites(&w).await;
    w.app
        .post(&path, Some(&accountant), &json!({}))
        .await
        .assert_status(202);
    let made = w.app.drain_documents(Some(10)).await;
    assert_eq!(made.filed, 8, "{made:?}");
    let token = w.token(&a).await;
    let listed = w
        .app
        .get(&format!("/v1/documents?period={}", w.period), Some(&token))
        .await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn documents_refuse_what_they_cannot_do_and_change_nothing() {
    let w = World::new().await;
    let a = w.party("Ромашка").await;
    let accountant = w.app.staff_with_role("accountant").await;
    let before = w.app.table_items().await;
    let path = format!("/v1/periods/{}/documents", w.period);

    // The period is not closed: its documents are not made yet.
    let open = w.app.get(&path, Some(&accountant)).await;
    open.assert_problem(409, "period_not_closed");
    assert_eq!(open.field(), "period");
    w.app
        .post(&path, Some(&accountant), &json!({}))
        .await
        .assert_problem(409, "period_not_closed");

    // Customers do not see the back office; a bad period is named; the current one has
    // no documents yet.
    let token = w.token(&a).await;
    w.app.get(&path, Some(&token)).await.assert_status(403);
    let current = w.app.get("/v1/documents", Some(&token)).await;
    current.assert_status(200);
    assert_eq!(current.body, json!([]));
    let bad_period = w
        .app
        .get("/v1/documents?period=2026-13", Some(&token))
        .await;
    bad_period.assert_status(400);
    assert_eq!(bad_period.field(), "period");

    // Unknown and malformed ids are not found.
    let unknown = DocumentId::new();
    for uri in [
        format!("/v1/documents/{unknown}"),
        format!("/v1/documents/{unknown}/download"),
        format!("/v1/documents/{unknown}/signature"),
        "/v1/documents/doc_nonsense".to_owned(),
    ] {
        w.app
            .get(&uri, Some(&token))
            .await
            .assert_problem(404, "not_found");
    }
    assert_eq!(w.app.table_items().await, before);
}

#[tokio::test]
async fn a_credit_note_becomes_its_correction_document_referring_to_the_invoice() {
    let (w, a, _) = closed_month(true).await;
    let invoice = w.invoice(a.org, w.period).await.expect("A's invoice");
    let admin = w.app.admin().await;
    let note = w
        .app
        .post(
            &format!("/v1/invoices/{}/credit-notes", invoice.id),
            Some(&admin),
            &json!({"reason": "Простой сервиса 2 дня", "lines": [{"line_no": 1, "gross": "100.00"}]}),
        )
        .await;
    note.assert_status(201);
    let made = w.app.make_documents().await;
    assert_eq!(
        made.filed, 9,
        "two invoices' four and the credit note's: {made:?}"
    );

    let token = w.token(&a).await;
    let docs = w
        .app
        .get(&format!("/v1/documents?period={}", w.period), Some(&token))
        .await;
    let credit = docs
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["doc_type"] == "credit_note")
        .expect("the credit note's document")
        .clone();
    assert_eq!(credit["number"], note.body["number"]);
    assert_eq!(credit["gross"], "-100.00");
    assert_eq!(credit["source_id"], note.body["id"]);
    let link = w
        .app
        .get(
            &format!("/v1/documents/{}/download", credit["id"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    let (_, pdf) = fetch(link.body["url"].as_str().unwrap()).await;
    let text = pdf_text(&pdf);
    for want in [
        "Корректировочный документ",
        note.body["number"].as_str().unwrap(),
        &invoice.number.to_string(),
        "Простой сервиса 2 дня",
        "Сумма уменьшения: Сто рублей 00 копеек",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
}
