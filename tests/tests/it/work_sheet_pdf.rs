//! The batch work sheet as PDF through the HTTP API against the emulator: what it shows (in
//! Cyrillic), how many pages, and that exactly those who may read the CSV sheet may read it.

use kopek_domain::ids::BatchId;
use kopek_tests::{Customer, TestApp, TestResponse, unique};
use serde_json::{Value, json};

/// A catalog with one install service, a customer and two engineers.
struct World {
    app: TestApp,
    customer: Customer,
    engineer: String,
    other_engineer: String,
}

async fn world() -> World {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({
            "code": "ROUTER-SETUP", "name": {"ru": "Настройка роутера", "en": "Router setup"},
            "unit": "piece", "kind": "one_off", "work_type": "install", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "700.00"}}
        }),
    )
    .await
    .assert_status(201);
    let customer = app.register(&format!("Ромашка {}", unique())).await;
    let engineer = app.staff_with_role("engineer").await;
    let other_engineer = app.staff_with_role("engineer").await;
    World {
        app,
        customer,
        engineer,
        other_engineer,
    }
}

/// Places one order of `count` jobs, the n-th with its own note and flat number.
async fn place(w: &World, count: usize) {
    let today = kopek_tests::emulator::today().to_string();
    let lines: Vec<Value> = (1..=count)
        .map(|n| {
            // The first job names who lets the engineer in.
            let contact = (n == 1).then_some("Пётр Иванов, +7 916 000-00-01");
            json!({
                "service": "ROUTER-SETUP", "quantity": "2", "requested_date": today,
                "note": format!("Домофон {n}, звонить заранее"),
                "site": {"address": format!("Москва, ул. Тверская, 7, кв. {n}"),
                         "area": "moscow-centre", "contact": contact}
            })
        })
        .collect();
    w.app
        .post(
            "/v1/orders",
            Some(&w.customer.token),
            &json!({"lines": lines}),
        )
        .await
        .assert_status(201);
}

async fn take(w: &World, engineer: &str, size: usize) -> String {
    let batch = w
        .app
        .post(
            "/v1/work/batches",
            Some(engineer),
            &json!({"work_type": "install", "size": size}),
        )
        .await;
    batch.assert_status(201);
    batch.body["id"].as_str().expect("a batch id").to_owned()
}

async fn sheet(app: &TestApp, batch: &str, format: &str, token: Option<&str>) -> TestResponse {
    app.get(&format!("/v1/work/batches/{batch}/sheet.{format}"), token)
        .await
}

/// The PDF of a 200 answer, parsed, with each page's text.
fn pdf_pages(response: &TestResponse) -> Vec<String> {
    response.assert_status(200);
    assert_eq!(response.content_type(), "application/pdf");
    assert!(response.raw.starts_with(b"%PDF-"));
    let doc = lopdf::Document::load_mem(&response.raw).expect("the sheet parses as PDF");
    doc.get_pages()
        .keys()
        .map(|&n| doc.extract_text(&[n]).expect("the page's text"))
        .collect()
}

#[tokio::test]
async fn the_pdf_sheet_shows_every_job_in_cyrillic_and_flows_onto_pages() {
    let w = world().await;
    let app = &w.app;
    place(&w, 22).await;
    let big = take(&w, &w.engineer, 20).await;
    let small = take(&w, &w.other_engineer, 2).await;

    let response = sheet(app, &big, "pdf", Some(&w.engineer)).await;
    assert_eq!(
        response.headers["content-disposition"],
        format!("attachment; filename=\"work-sheet-{big}.pdf\"").as_str()
    );
    let pages = pdf_pages(&response);
    // Each job takes two lines (address and area; service code and name): 16 fit on the
    // first page under the title, the other 4 go on the second.
    assert_eq!(pages.len(), 2, "{pages:#?}");
    for (i, text) in pages.iter().enumerate() {
        assert!(text.contains("Примечание"), "the header row repeats");
        assert!(text.contains(&format!("Страница {} из 2", i + 1)), "{text}");
    }
    let first = &pages[0];
    for expected in [
        "Рабочий лист",
        big.as_str(),
        // The work type by its name in the sheet's language, not its code (`install`).
        "Вид работ: Монтаж и подключение",
        "Работ: 20",
        "Ромашка",
        "Москва, ул. Тверская, 7, кв. 1",
        "(moscow-centre)",
        "Контакт: Пётр Иванов, +7 916 000-00-01",
        "ROUTER-SETUP",
        "Настройка роутера",
        "2 шт",
        "Домофон 1, звонить заранее",
    ] {
        // Cells wrap where the layout does: compare the words in order.
        let flat = first.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(expected), "{expected:?} not in {first}");
    }
    // When it was taken, on the provider's clock and named so (not UTC).
    let batch = app
        .get(&format!("/v1/work/batches/{big}"), Some(&w.engineer))
        .await;
    let taken: chrono::DateTime<chrono::Utc> = batch.body["taken_at"]
        .as_str()
        .expect("taken_at")
        .parse()
        .expect("an instant");
    let zone = kopek_tests::emulator::calendar().zone();
    let local = taken
        .with_timezone(&zone)
        .format("%d.%m.%Y %H:%M")
        .to_string();
    assert!(
        first.contains(&format!("Взята: {local}")),
        "{local} not in {first}"
    );
    assert!(first.contains(&format!("({})", zone.name())), "{first}");
    let all = pages
        .concat()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let csv = sheet(app, &big, "csv", Some(&w.engineer)).await;
    let csv = String::from_utf8(csv.raw[3..].to_vec()).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().expect("a header row").clone();
    let column = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (note_at, contact_at) = (column("note"), column("contact"));
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
    let notes: Vec<String> = rows.iter().map(|r| r[note_at].to_owned()).collect();
    assert_eq!(notes.len(), 20);
    let contacts: Vec<&str> = rows
        .iter()
        .map(|r| &r[contact_at])
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(contacts, ["Пётр Иванов, +7 916 000-00-01"]);
    for note in notes {
        assert!(all.contains(&note), "the PDF has the CSV's job {note:?}");
    }
    assert!(
        pages[1].contains("Работы выполнил:"),
        "the signature line ends the sheet"
    );

    let small_pages = pdf_pages(&sheet(app, &small, "pdf", Some(&w.other_engineer)).await);
    assert_eq!(small_pages.len(), 1);
    assert!(small_pages[0].contains("Страница 1 из 1") && small_pages[0].contains("Работ: 2"));
}

/// Status and problem code of an answer.
fn outcome(response: &TestResponse) -> (u16, String) {
    (response.status.as_u16(), response.code().to_owned())
}

#[tokio::test]
async fn the_pdf_sheet_is_refused_exactly_where_the_csv_sheet_is() {
    let w = world().await;
    let app = &w.app;
    place(&w, 1).await;
    let batch = take(&w, &w.engineer, 5).await;
    let unknown = BatchId::new().to_string();
    let cases: [(&str, Option<&str>, (u16, &str)); 5] = [
        // Staff see every batch, so every batch's sheet.
        (batch.as_str(), Some(w.other_engineer.as_str()), (200, "")),
        (
            batch.as_str(),
            Some(w.customer.token.as_str()),
            (403, "forbidden"),
        ),
        (batch.as_str(), None, (401, "unauthenticated")),
        (
            unknown.as_str(),
            Some(w.engineer.as_str()),
            (404, "not_found"),
        ),
        ("not-a-batch", Some(w.engineer.as_str()), (404, "not_found")),
    ];
    for (id, token, (status, code)) in cases {
        let csv = sheet(app, id, "csv", token).await;
        let pdf = sheet(app, id, "pdf", token).await;
        assert_eq!(
            outcome(&pdf),
            (status, code.to_owned()),
            "{id} {}",
            pdf.body
        );
        assert_eq!(outcome(&pdf), outcome(&csv), "{id}");
        if status != 200 {
            assert_eq!(pdf.body, csv.body, "the same problem document");
        }
    }
    assert_eq!(
        pdf_pages(&sheet(app, &batch, "pdf", Some(&w.other_engineer)).await).len(),
        1
    );
}
