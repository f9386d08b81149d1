//! Packages: a signed period goes out as one package per customer (its documents, their
//! signatures, a manifest and the manifest's signature, as a ZIP), each customer's billing
//! e-mail notified through SES (the emulator records the message); the customer views it,
//! accepts it or disputes it with a reason, and disputes reach the manager's list.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use kopek_tests::fetch;
use serde_json::{Value, json};

use super::closed_month;
use super::signing::{openssl_verifies, sign};
use crate::close::world::{Party, World};

/// Every entry of a ZIP, by name.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a ZIP");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).expect("an entry");
            let mut content = Vec::new();
            file.read_to_end(&mut content).expect("read");
            (file.name().expect("a name").to_string(), content)
        })
        .collect()
}

async fn billing_email(w: &World, party: &Party) -> String {
    let token = w.token(party).await;
    let me = w.app.get("/v1/me", Some(&token)).await;
    me.body["organisation"]["billing_email"]
        .as_str()
        .expect("a billing e-mail")
        .to_owned()
}

#[tokio::test]
async fn a_signed_period_goes_out_as_one_package_per_customer_which_it_accepts_or_disputes() {
    let (w, a, b) = closed_month(true).await;
    w.app.make_documents().await;
    let manager = w.app.staff_with_role("manager").await;
    let path = format!("/v1/periods/{}/packages", w.period);

    // Not signed yet: no package can go out.
    let early = w.app.post(&path, Some(&manager), &json!({})).await;
    early.assert_problem(409, "not_signed");
    assert_eq!(early.field(), "period");

    sign(&w, &manager, json!({})).await;
    let sent = w.app.post(&path, Some(&manager), &json!({})).await;
    sent.assert_status(202);
    assert_eq!(sent.body["documents"], 8);
    w.app.drain_documents(Some(3)).await;

    // A's package: sent to its billing e-mail, which SES recorded.
    let token = w.token(&a).await;
    let listed = w
        .app
        .get(&format!("/v1/packages?period={}", w.period), Some(&token))
        .await;
    listed.assert_status(200);
    let package = listed.body[0].clone();
    assert_eq!(package["status"], "sent", "{package}");
    let email = billing_email(&w, &a).await;
    assert_eq!(package["sent_to"], email.as_str());
    let mails = w.app.mails_to(&email).await;
    assert_eq!(mails.len(), 1, "one e-mail per package: {mails:?}");
    assert_eq!(mails[0].0, format!("Закрывающие документы за {}", w.period));
    assert!(
        mails[0].1.contains(package["id"].as_str().unwrap()),
        "{}",
        mails[0].1
    );

    // The ZIP: every document with its signature, the manifest and its signature; the
    // manifest's hashes are the files', and openssl verifies the manifest's signature.
    let id = package["id"].as_str().unwrap();
    let link = w
        .app
        .get(&format!("/v1/packages/{id}/download"), Some(&token))
        .await;
    link.assert_status(200);
    let (status, zip) = fetch(link.body["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(package["sha256"], kopek_aws::objects::sha256_hex(&zip));
    let files = unzip(&zip);
    let number = w
        .invoice(a.org, w.period)
        .await
        .expect("A's invoice")
        .number
        .to_string();
    // The UPD's XML goes by the name its format gives it.
    let (upd, names): (Vec<&str>, Vec<&str>) = files
        .keys()
        .map(String::as_str)
        .partition(|n| n.starts_with("ON_NSCHFDOPPR_"));
    assert_eq!(upd.len(), 2, "the UPD and its signature: {upd:?}");
    assert!(upd[0].ends_with(".xml") && upd[1] == format!("{}.p7s", upd[0]));
    assert_eq!(
        names,
        [
            format!("act-{number}.pdf"),
            format!("act-{number}.pdf.p7s"),
            format!("invoice-{number}.pdf"),
            format!("invoice-{number}.pdf.p7s"),
            "manifest.json".to_owned(),
            "manifest.json.p7s".to_owned(),
            format!("upd_print-{number}.pdf"),
            format!("upd_print-{number}.pdf.p7s"),
        ]
    );
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).expect("JSON");
    assert_eq!(manifest["customer"], a.org.to_string());
    for entry in manifest["documents"].as_array().unwrap() {
        let file = &files[entry["file"].as_str().unwrap()];
        assert_eq!(entry["sha256"], kopek_aws::objects::sha256_hex(file));
        let signature = &files[entry["signature"].as_str().unwrap()];
        assert_eq!(
            entry["signature_sha256"],
            kopek_aws::objects::sha256_hex(signature)
        );
    }
    let pem = w
        .app
        .get("/v1/billing/signing-certificate", Some(&token))
        .await;
    let dir = std::env::temp_dir().join(format!("kopek-package-{}", kopek_tests::unique()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let (ok, why) = openssl_verifies(
        &dir,
        &files["manifest.json"],
        &files["manifest.json.p7s"],
        pem.body["pem"].as_str().unwrap(),
    );
    assert!(ok, "the manifest's signature: {why}");
    let _ = std::fs::remove_dir_all(&dir);

    // Downloaded: viewed. Accepted: final.
    let viewed = w.app.get(&format!("/v1/packages/{id}"), Some(&token)).await;
    assert_eq!(viewed.body["status"], "viewed");
    let accepted = w
        .app
        .post(
            &format!("/v1/packages/{id}/accept"),
            Some(&token),
            &json!({}),
        )
        .await;
    accepted.assert_status(200);
    assert_eq!(accepted.body["status"], "accepted");
    w.app
        .post(
            &format!("/v1/packages/{id}/dispute"),
            Some(&token),
            &json!({"reason": "late"}),
        )
        .await
        .assert_problem(409, "invalid_state");

    // B disputes, with a reason; without one it is refused naming the field.
    let b_token = w.token(&b).await;
    let b_package = w
        .app
        .get(&format!("/v1/packages?period={}", w.period), Some(&b_token))
        .await;
    let b_id = b_package.body[0]["id"].as_str().unwrap().to_owned();
    let dispute = format!("/v1/packages/{b_id}/dispute");
    let blank = w
        .app
        .post(&dispute, Some(&b_token), &json!({"reason": "  "}))
        .await;
    blank.assert_status(422);
    assert_eq!(blank.field(), "reason");
    let disputed = w
        .app
        .post(
            &dispute,
            Some(&b_token),
            &json!({"reason": "Сервер не работал 3 дня"}),
        )
        .await;
    disputed.assert_status(200);
    assert_eq!(disputed.body["status"], "disputed");

    // The manager's list: counts by status, the dispute with its reason.
    let listed = w
        .app
        .get(&format!("{path}?status=disputed"), Some(&manager))
        .await;
    listed.assert_status(200);
    assert_eq!(
        listed.body["by_status"],
        json!({"accepted": 1, "disputed": 1})
    );
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["dispute_reason"], "Сервер не работал 3 дня");
    assert_eq!(items[0]["org_id"], b.org.to_string());

    // A CRM heard each package sent, A's viewed and accepted, B's disputed with its reason.
    w.app.relay().await;
    let admin = w.app.admin().await;
    let told = w
        .app
        .get(
            "/v1/events?types=document.signed,document.sent,document.viewed,document.accepted,document.disputed&limit=500",
            Some(&admin),
        )
        .await;
    told.assert_status(200);
    let events = told.body["items"].as_array().expect("events");
    let of = |package: &str| -> Vec<&str> {
        events
            .iter()
            .filter(|e| e["data"]["package_id"] == package)
            .map(|e| e["type"].as_str().unwrap())
            .collect()
    };
    assert_eq!(
        of(id),
        ["document.sent", "document.viewed", "document.accepted"]
    );
    assert_eq!(of(&b_id), ["document.sent", "document.disputed"]);
    let reason = events
        .iter()
        .find(|e| e["type"] == "document.disputed")
        .unwrap();
    assert_eq!(reason["data"]["reason"], "Сервер не работал 3 дня");
    // Every document in a package was signed first, each told once.
    let signed: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "document.signed")
        .collect();
    assert!(!signed.is_empty());
    let mut signed_ids: Vec<&str> = signed
        .iter()
        .map(|e| e["data"]["document_id"].as_str().unwrap())
        .collect();
    signed_ids.sort_unstable();
    let before = signed_ids.len();
    signed_ids.dedup();
    assert_eq!(signed_ids.len(), before, "each signature told once");

    // Sending again builds and e-mails nothing twice.
    w.app
        .post(&path, Some(&manager), &json!({}))
        .await
        .assert_status(202);
    w.app.drain_documents(Some(3)).await;
    assert_eq!(w.app.mails_to(&email).await.len(), 1);
    let again = w.app.get(&format!("/v1/packages/{id}"), Some(&token)).await;
    assert_eq!(again.body["status"], "accepted");
}

#[tokio::test]
async fn accountants_download_the_period_archive_with_every_package_and_the_register() {
    let (w, a, b) = closed_month(true).await;
    w.app.make_documents().await;
    let manager = w.app.staff_with_role("manager").await;
    let accountant = w.app.staff_with_role("accountant").await;
    let archives = format!("/v1/periods/{}/archives", w.period);

    // Nothing sent yet: no archive.
    w.app
        .post(&archives, Some(&accountant), &json!({}))
        .await
        .assert_problem(409, "no_packages");

    sign(&w, &manager, json!({})).await;
    w.app
        .post(
            &format!("/v1/periods/{}/packages", w.period),
            Some(&manager),
            &json!({}),
        )
        .await
        .assert_status(202);
    w.app.drain_documents(Some(3)).await;

    let asked = w.app.post(&archives, Some(&accountant), &json!({})).await;
    asked.assert_status(202);
    assert_eq!(asked.body["status"], "building");
    w.app.drain_documents(Some(3)).await;
    let id = asked.body["id"].as_str().unwrap();
    let ready = w
        .app
        .get(&format!("/v1/archives/{id}"), Some(&accountant))
        .await;
    ready.assert_status(200);
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    assert_eq!(
        (&ready.body["packages"], &ready.body["documents"]),
        (&json!(2), &json!(8))
    );
    let (status, zip) = fetch(ready.body["download"]["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(ready.body["sha256"], kopek_aws::objects::sha256_hex(&zip));
    assert_eq!(ready.body["size"], zip.len() as u64);

    // Every package as it was sent, byte for byte, and the register.
    let files = unzip(&zip);
    let mut packages = 0;
    for party in [&a, &b] {
        let token = w.token(party).await;
        let package = w
            .app
            .get(&format!("/v1/packages?period={}", w.period), Some(&token))
            .await;
        let sha = package.body[0]["sha256"].as_str().unwrap();
        assert!(
            files
                .iter()
                .any(|(name, bytes)| name.starts_with("packages/")
                    && kopek_aws::objects::sha256_hex(bytes) == sha),
            "{}'s package is in the archive",
            party.org
        );
        packages += 1;
    }
    assert_eq!(
        files.keys().filter(|n| n.starts_with("packages/")).count(),
        packages
    );
    let csv = String::from_utf8(files["register.csv"].clone()).expect("UTF-8");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("number,date,kind,customer,tax_id,net,vat,gross,status")
    );
    let invoice = w.invoice(a.org, w.period).await.expect("A's invoice");
    let a_token = w.token(&a).await;
    let me = w.app.get("/v1/me", Some(&a_token)).await;
    let tax_id = me.body["organisation"]["tax_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let expected = format!(
        "{},{},invoice,ООО «Ромашка»,{},{},{},{},sent",
        invoice.number,
        invoice.issued_on,
        tax_id,
        invoice.draft.net.amount_text(),
        invoice.draft.tax.amount_text(),
        invoice.draft.gross.amount_text()
    );
    assert!(csv.lines().any(|l| l == expected), "{expected}\n{csv}");
    assert_eq!(csv.lines().count(), 1 + 8);
    let xlsx = unzip(&files["register.xlsx"]);
    assert!(xlsx.contains_key("xl/workbook.xml"), "an Excel workbook");
    let sheet = String::from_utf8(xlsx["xl/worksheets/sheet1.xml"].clone()).expect("XML");
    assert!(
        sheet.contains(&format!(
            "<v>{}</v>",
            invoice
                .draft
                .gross
                .amount_text()
                .trim_end_matches('0')
                .trim_end_matches('.')
        )),
        "the gross amount as a number: {sheet}"
    );

    // Customers do not reach archives; a redelivered job builds nothing twice.
    let customer = w.token(&a).await;
    w.app
        .post(&archives, Some(&customer), &json!({}))
        .await
        .assert_status(403);
    w.app
        .get(&format!("/v1/archives/{id}"), Some(&customer))
        .await
        .assert_status(403);
}
