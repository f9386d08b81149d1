//! The provider's own templates: uploaded by an admin, checked by the documents function
//! against sample data, refused with the compiler's message and line or used for the kind's
//! documents from then on; removed, the built-in template serves again.

use axum::http::Method;
use kopek_tests::{TestApp, TestResponse, fetch, pdf_text};
use serde_json::{Value, json};

use super::closed_month;

/// A template that prints its own heading over the built-in data.
const OWN_ACT: &str = "#let d = json(bytes(sys.inputs.sheet))\n\
                       #set text(font: \"DejaVu Sans\")\n\
                       = Акт нашей формы: #d.title\n\
                       #for l in d.lines [ #l.service — #l.net \\ ]\n\
                       #for s in d.summary [ #s \\ ]\n";

/// Fails on line 3: the sheet has no such field.
const BROKEN: &str = "#let d = json(bytes(sys.inputs.sheet))\n= Title\n#d.no_such_field\n";

async fn put(app: &TestApp, kind: &str, token: &str, body: &Value) -> TestResponse {
    app.send(TestApp::request(
        Method::PUT,
        &format!("/v1/billing/templates/{kind}"),
        Some(token),
        Some(body),
    ))
    .await
}

#[tokio::test]
async fn a_template_is_checked_then_used_for_its_kind_or_refused_with_its_line() {
    let (w, a, _) = closed_month(true).await;
    let app = &w.app;
    let admin = app.admin().await;

    // Broken: refused after the check, naming the line; nothing else changes.
    let broken = put(app, "act", &admin, &json!({"source": BROKEN})).await;
    broken.assert_status(202);
    assert_eq!(broken.body["status"], "checking");
    app.drain_documents(Some(3)).await;
    let sha = broken.body["sha256"].as_str().unwrap();
    let checked = app
        .get(&format!("/v1/billing/templates/act/{sha}"), Some(&admin))
        .await;
    checked.assert_status(200);
    assert_eq!(checked.body["status"], "refused", "{}", checked.body);
    assert_eq!(checked.body["error"]["line"], 3, "{}", checked.body);
    assert!(
        checked.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no_such_field"),
        "{}",
        checked.body
    );
    let active = app.get("/v1/billing/templates/act", Some(&admin)).await;
    assert_eq!(active.body["template"], "builtin");

    // A good one: accepted, in force for acts.
    let good = put(app, "act", &admin, &json!({"source": OWN_ACT})).await;
    good.assert_status(202);
    app.drain_documents(Some(3)).await;
    let sha = good.body["sha256"].as_str().unwrap().to_owned();
    let checked = app
        .get(&format!("/v1/billing/templates/act/{sha}"), Some(&admin))
        .await;
    assert_eq!(checked.body["status"], "accepted", "{}", checked.body);
    let active = app.get("/v1/billing/templates/act", Some(&admin)).await;
    assert_eq!(
        (&active.body["template"], &active.body["sha256"]),
        (&json!("custom"), &json!(sha))
    );
    // The same source again is the same upload: nothing to check twice.
    let again = put(app, "act", &admin, &json!({"source": OWN_ACT})).await;
    again.assert_status(202);
    assert_eq!(again.body["status"], "accepted");

    // The period's acts are made with it; its invoices with the built-in template.
    let made = app.make_documents().await;
    assert_eq!(made.failed, 0, "{made:?}");
    let token = w.token(&a).await;
    let docs = app
        .get(&format!("/v1/documents?period={}", w.period), Some(&token))
        .await;
    let text_of = |kind: &str| {
        docs.body
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["doc_type"] == kind)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (kind, want, not) in [
        ("act", "Акт нашей формы", "Вышеперечисленные услуги"),
        ("invoice", "Счёт на оплату", "Акт нашей формы"),
    ] {
        let link = app
            .get(
                &format!("/v1/documents/{}/download", text_of(kind)),
                Some(&token),
            )
            .await;
        let (_, pdf) = fetch(link.body["url"].as_str().unwrap()).await;
        let text = pdf_text(&pdf);
        assert!(text.contains(want), "{kind}: {text}");
        assert!(!text.contains(not), "{kind}: {text}");
    }

    // Removed: the built-in template serves again; removing it twice finds nothing.
    app.delete("/v1/billing/templates/act", Some(&admin))
        .await
        .assert_status(204);
    let active = app.get("/v1/billing/templates/act", Some(&admin)).await;
    assert_eq!(active.body["template"], "builtin");
    app.delete("/v1/billing/templates/act", Some(&admin))
        .await
        .assert_status(404);
}

#[tokio::test]
async fn bad_uploads_are_refused_naming_the_field_and_only_admins_upload() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let manager = app.staff_with_role("manager").await;
    let customer = app.register("Ромашка").await;
    let before = app.table_items().await;
    for (body, field) in [
        (json!({"source": ""}), "source"),
        (json!({"source": "x".repeat(48 * 1024 + 1)}), "source"),
        (json!({"source": "= A", "extra": 1}), "extra"),
        (json!({}), "source"),
    ] {
        let refused = put(&app, "act", &admin, &body).await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.field(), field, "{}", refused.body);
    }
    put(&app, "receipt", &admin, &json!({"source": "= A"}))
        .await
        .assert_status(404);
    put(&app, "act", &manager, &json!({"source": "= A"}))
        .await
        .assert_status(403);
    app.get("/v1/billing/templates/act", Some(&customer.token))
        .await
        .assert_status(403);
    app.get(
        &format!("/v1/billing/templates/act/{}", "0".repeat(64)),
        Some(&admin),
    )
    .await
    .assert_status(404);
    assert_eq!(app.table_items().await, before, "nothing stored");
}
