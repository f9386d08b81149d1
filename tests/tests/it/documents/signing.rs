//! Batch signing: a manager signs a period's documents in one action; the signatures are
//! detached CMS made with the KMS key, checked here by `openssl cms -verify` as anyone would
//! check them, and a tampered copy fails.

use std::path::Path;
use std::process::Command;

use kopek_tests::{TestApp, fetch};
use serde_json::{Value, json};

use super::{closed_month, object_versions};
use crate::close::world::World;

/// Starts a signing as `token` and runs the documents queue until it is done; its view.
pub(super) async fn sign(w: &World, token: &str, body: Value) -> Value {
    let started = w
        .app
        .post(
            &format!("/v1/periods/{}/signings", w.period),
            Some(token),
            &body,
        )
        .await;
    started.assert_status(202);
    assert_eq!(started.body["status"], "running");
    w.app.drain_documents(Some(3)).await;
    let id = started.body["id"].as_str().expect("an id");
    let done = w.app.get(&format!("/v1/signings/{id}"), Some(token)).await;
    done.assert_status(200);
    assert_eq!(done.body["status"], "done", "{}", done.body);
    done.body
}

pub(super) async fn download(app: &TestApp, token: &str, path: &str) -> Vec<u8> {
    let link = app.get(path, Some(token)).await;
    link.assert_status(200);
    let (status, bytes) = fetch(link.body["url"].as_str().expect("a URL")).await;
    assert_eq!(status, 200);
    bytes
}

/// `openssl cms -verify` of `content` against `signature`, trusting `certificate` (PEM).
pub(super) fn openssl_verifies(
    dir: &Path,
    content: &[u8],
    signature: &[u8],
    certificate: &str,
) -> (bool, String) {
    let (pdf, p7s, pem) = (
        dir.join("doc.pdf"),
        dir.join("doc.pdf.p7s"),
        dir.join("cert.pem"),
    );
    std::fs::write(&pdf, content).expect("written");
    std::fs::write(&p7s, signature).expect("written");
    std::fs::write(&pem, certificate).expect("written");
    let out = Command::new("openssl")
        .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
        .arg(&p7s)
        .arg("-content")
        .arg(&pdf)
        .arg("-CAfile")
        .arg(&pem)
        .args(["-out", "/dev/null"])
        .output()
        .expect("openssl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_manager_signs_the_period_in_one_action_and_openssl_verifies_every_signature() {
    let (w, a, _) = closed_month(true).await;
    assert_eq!(w.app.make_documents().await.filed, 8);
    let manager = w.app.staff_with_role("manager").await;
    let before = object_versions(&w.app).await;

    let done = sign(&w, &manager, json!({})).await;
    assert_eq!(
        (
            &done["total"],
            &done["signed"],
            &done["already"],
            &done["refused"]
        ),
        (&json!(8), &json!(8), &json!(0), &json!([])),
        "{done}"
    );

    // The customer downloads its act, its signature and the certificate, and checks them
    // with openssl, as anyone can.
    let token = w.token(&a).await;
    let docs = w
        .app
        .get(&format!("/v1/documents?period={}", w.period), Some(&token))
        .await;
    let act = of_type(&docs.body, "act");
    assert_eq!(act["status"], "signed");
    assert_eq!(act["signature"]["signed_by"], done["requested_by"]);
    let id = act["id"].as_str().unwrap();
    let pdf = download(&w.app, &token, &format!("/v1/documents/{id}/download")).await;
    let p7s = download(&w.app, &token, &format!("/v1/documents/{id}/signature")).await;
    assert_eq!(
        act["signature"]["sha256"],
        kopek_aws::objects::sha256_hex(&p7s)
    );
    let certificate = w
        .app
        .get("/v1/billing/signing-certificate", Some(&token))
        .await;
    certificate.assert_status(200);
    assert_eq!(
        certificate.body["sha256"],
        act["signature"]["certificate_sha256"]
    );
    assert_eq!(
        certificate.body["subject"],
        "CN=Kopek LLC documents,O=Kopek LLC,C=RU"
    );
    let pem = certificate.body["pem"].as_str().expect("PEM");
    let dir = std::env::temp_dir().join(format!("kopek-sign-{}", kopek_tests::unique()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let (ok, why) = openssl_verifies(&dir, &pdf, &p7s, pem);
    assert!(ok, "openssl refuses a genuine signature: {why}");

    // A tampered copy — one byte changed — fails.
    let mut tampered = pdf.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    let (ok, why) = openssl_verifies(&dir, &tampered, &p7s, pem);
    assert!(!ok, "openssl accepts a tampered PDF");
    assert!(
        why.contains("digest failure") || why.contains("verification failure"),
        "{why}"
    );

    // The UPD's XML is signed the same way, byte for byte as filed (windows-1251).
    let upd = of_type(&docs.body, "upd");
    let id = upd["id"].as_str().unwrap();
    let xml = download(&w.app, &token, &format!("/v1/documents/{id}/download")).await;
    let p7s = download(&w.app, &token, &format!("/v1/documents/{id}/signature")).await;
    let (ok, why) = openssl_verifies(&dir, &xml, &p7s, pem);
    assert!(ok, "openssl refuses the UPD's signature: {why}");

    // Signing again signs nothing twice, writes no new object.
    let after_first = object_versions(&w.app).await;
    assert_eq!(after_first.len(), before.len() + 8, "one signature each");
    let again = sign(&w, &manager, json!({})).await;
    assert_eq!(
        (&again["signed"], &again["already"]),
        (&json!(0), &json!(8)),
        "{again}"
    );
    assert_eq!(object_versions(&w.app).await, after_first);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_document_that_changed_since_it_was_listed_is_refused_and_named() {
    let (w, a, _) = closed_month(true).await;
    w.app.make_documents().await;
    let manager = w.app.staff_with_role("manager").await;
    let token = w.token(&a).await;
    let docs = w
        .app
        .get(&format!("/v1/documents?period={}", w.period), Some(&token))
        .await;
    let docs = docs.body.as_array().unwrap().clone();
    let (act, invoice) = (&docs[0], &docs[1]);

    // The manager listed the act with other bytes than it has; the invoice's PDF is
    // overwritten in the bucket behind the record's back.
    let listed_wrong = json!({"id": act["id"], "sha256": "0".repeat(64)});
    let stored = w
        .store()
        .document_by_id(invoice["id"].as_str().unwrap().parse().unwrap())
        .await
        .expect("read")
        .expect("filed");
    kopek_local::s3_client(&w.app.sdk)
        .put_object()
        .bucket(&w.app.env["KOPEK_DOCUMENTS_BUCKET"])
        .key(&stored.document.file.key)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"%PDF-1.7 forged",
        ))
        .send()
        .await
        .expect("overwritten");
    let listed_right = json!({"id": invoice["id"], "sha256": invoice["sha256"]});
    let done = sign(
        &w,
        &manager,
        json!({"documents": [listed_wrong, listed_right]}),
    )
    .await;
    assert_eq!(
        (&done["total"], &done["signed"]),
        (&json!(2), &json!(0)),
        "{done}"
    );
    let refused: Vec<&str> = done["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["document_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        refused,
        [act["id"].as_str().unwrap(), invoice["id"].as_str().unwrap()]
    );
    assert!(
        done["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("changed")
    );
    let still = w
        .app
        .get(
            &format!("/v1/documents/{}", act["id"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    assert_eq!(still.body["status"], "generated");
}

#[tokio::test]
async fn only_managers_and_admins_sign_and_bad_requests_change_nothing() {
    let (w, a, _) = closed_month(true).await;
    w.app.make_documents().await;
    let path = format!("/v1/periods/{}/signings", w.period);
    let accountant = w.app.staff_with_role("accountant").await;
    let customer = w.token(&a).await;
    let manager = w.app.staff_with_role("manager").await;
    let before = w.app.table_items().await;
    w.app
        .post(&path, Some(&accountant), &json!({}))
        .await
        .assert_status(403);
    w.app
        .post(&path, Some(&customer), &json!({}))
        .await
        .assert_status(403);

    let open = format!("/v1/periods/{}/signings", w.period.next());
    w.app
        .post(&open, Some(&manager), &json!({}))
        .await
        .assert_problem(409, "period_not_closed");
    let doc = kopek_domain::ids::DocumentId::new().to_string();
    for (body, field) in [
        (json!({"documents": []}), "documents[0]"),
        (
            json!({"documents": [{"id": "doc_nonsense", "sha256": "0".repeat(64)}]}),
            "documents[0].id",
        ),
        (
            json!({"documents": [{"id": doc, "sha256": "xyz"}]}),
            "documents[0]",
        ),
        (
            json!({"documents": [{"id": doc, "sha256": "0".repeat(64)}, {"id": doc, "sha256": "0".repeat(64)}]}),
            "documents[1]",
        ),
    ] {
        let refused = w.app.post(&path, Some(&manager), &body).await;
        refused.assert_status(422);
        assert_eq!(refused.field(), field, "{body}: {}", refused.body);
    }
    let unknown = w
        .app
        .get(
            &format!("/v1/signings/sgn_{}", "0".repeat(26)),
            Some(&manager),
        )
        .await;
    unknown.assert_problem(404, "not_found");
    // No signing yet: no certificate.
    w.app
        .get("/v1/billing/signing-certificate", Some(&customer))
        .await
        .assert_problem(404, "not_found");
    assert_eq!(w.app.table_items().await, before);
}

/// The document of `doc_type` in a list of documents.
fn of_type(docs: &Value, doc_type: &str) -> Value {
    docs.as_array()
        .expect("a list")
        .iter()
        .find(|d| d["doc_type"] == doc_type)
        .unwrap_or_else(|| panic!("no {doc_type} in {docs}"))
        .clone()
}

/// Runs `openssl` with `args` in `dir`; its stderr when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_certificate_the_provider_had_issued_for_the_key_replaces_the_self_signed_one() {
    let (w, a, _) = closed_month(true).await;
    w.app.make_documents().await;
    let app = &w.app;
    let admin = app.admin().await;
    let manager = app.staff_with_role("manager").await;
    let put = |token: &str, body: Value| {
        app.send(TestApp::request(
            axum::http::Method::PUT,
            "/v1/billing/signing-certificate",
            Some(token),
            Some(&body),
        ))
    };
    let dir = std::env::temp_dir().join(format!("kopek-ca-{}", kopek_tests::unique()));
    std::fs::create_dir_all(&dir).expect("a directory");
    // A certificate authority of the provider's (here: a test one).
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=Test CA",
            "-days",
            "30",
        ],
    );
    let ca = std::fs::read_to_string(dir.join("ca.pem")).expect("the CA's certificate");

    // Before the first signing there is no key certificate to replace.
    put(&admin, json!({"pem": ca.clone()}))
        .await
        .assert_problem(409, "no_certificate");

    // The first signing (one document) makes the self-signed certificate.
    let docs = app
        .get(
            &format!("/v1/documents?period={}", w.period),
            Some(&w.token(&a).await),
        )
        .await;
    let act = of_type(&docs.body, "act");
    sign(
        &w,
        &manager,
        json!({"documents": [{"id": act["id"], "sha256": act["sha256"]}]}),
    )
    .await;
    let own = app
        .get("/v1/billing/signing-certificate", Some(&admin))
        .await;
    std::fs::write(dir.join("own.pem"), own.body["pem"].as_str().unwrap()).expect("written");

    // The CA issues a certificate for the KMS key: the same subject, key and dates, its own
    // signature (the dates are the key certificate's, made on the tests' clock).
    openssl(
        &dir,
        &[
            "x509",
            "-in",
            "own.pem",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-preserve_dates",
            "-clrext",
            "-out",
            "issued.pem",
        ],
    );
    let issued = std::fs::read_to_string(dir.join("issued.pem")).expect("issued");

    // Refused: not a certificate, another key's, by a manager; nothing changes.
    for (body, status) in [
        (
            json!({"pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}),
            422,
        ),
        (json!({"pem": ca.clone()}), 422),
        (json!({"pem": issued.clone(), "extra": true}), 422),
    ] {
        let refused = put(&admin, body).await;
        refused.assert_status(status);
        assert!(
            refused.field().starts_with("pem") || refused.field() == "extra",
            "{}",
            refused.body
        );
    }
    put(&manager, json!({"pem": issued.clone()}))
        .await
        .assert_status(403);
    let unchanged = app
        .get("/v1/billing/signing-certificate", Some(&admin))
        .await;
    assert_eq!(unchanged.body["sha256"], own.body["sha256"]);

    let replaced = put(&admin, json!({"pem": issued})).await;
    replaced.assert_status(200);
    assert_ne!(replaced.body["sha256"], own.body["sha256"]);

    // What is signed from now on carries it and verifies against the CA.
    sign(&w, &manager, json!({})).await;
    let token = w.token(&a).await;
    let invoice = of_type(&docs.body, "invoice");
    let id = invoice["id"].as_str().unwrap();
    let pdf = download(app, &token, &format!("/v1/documents/{id}/download")).await;
    let p7s = download(app, &token, &format!("/v1/documents/{id}/signature")).await;
    let (ok, why) = openssl_verifies(&dir, &pdf, &p7s, &ca);
    assert!(ok, "the CA's certificate verifies the new signature: {why}");
    let listed = app.get(&format!("/v1/documents/{id}"), Some(&token)).await;
    assert_eq!(
        listed.body["signature"]["certificate_sha256"],
        replaced.body["sha256"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
