//! The provider's set-up in the portal: an admin adds a service (a bad one refused naming the
//! field the API names, nothing created), prices it anew from a date, retires it; invites a
//! member of staff by mail; saves the billing settings and the requisites. Managers reach the
//! catalog but not staff or settings; customers reach none of it.

use super::customer::send;
use super::{Browser, csrf, html, shop};

#[tokio::test]
async fn an_admin_keeps_the_catalog_staff_settings_and_requisites() {
    let shop = shop().await;
    let app = &shop.app;
    let (email, password) = app.staff_login("admin").await;
    let mut admin = Browser::new(app);
    admin.sign_in(&email, &password).await;

    let page = admin.get("/portal/admin/catalog").await;
    page.assert_status(200);
    assert!(html(&page).contains("ROUTER-SETUP"));
    let service = |name_en: &'static str| {
        vec![
            ("_csrf", csrf(&page)),
            ("code", "CCTV-CHECK".to_owned()),
            ("name.ru", "Проверка видеонаблюдения".to_owned()),
            ("name.en", name_en.to_owned()),
            ("kind", "one_off".to_owned()),
            ("work_type", "maintenance".to_owned()),
            ("unit", "visit".to_owned()),
            ("tax_rate", "20".to_owned()),
            ("currency", "RUB".to_owned()),
            ("price.model.unit_price", "2500.00".to_owned()),
        ]
    };
    // Without an English name: refused naming `name.en`, nothing created.
    let fields = service("");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let bad = send(&mut admin, "/portal/admin/catalog", &pairs).await;
    assert_eq!(bad.status, 422, "{}", html(&bad));
    assert!(html(&bad).contains("name"), "{}", html(&bad));
    assert_eq!(
        app.get("/v1/catalog/services/CCTV-CHECK", None)
            .await
            .status,
        404
    );
    let fields = service("CCTV check");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        send(&mut admin, "/portal/admin/catalog", &pairs)
            .await
            .status,
        303
    );
    let created = app.get("/v1/catalog/services/CCTV-CHECK", None).await;
    created.assert_status(200);
    assert_eq!(
        created.body["current_price"]["price"]["model"]["unit_price"],
        "2500.00"
    );

    // A new price from a later day: the current one stays until then.
    let later = (kopek_tests::emulator::calendar().date_of(app.state.services.now())
        + chrono::Days::new(40))
    .to_string();
    let page = admin.get("/portal/admin/catalog").await;
    let priced = send(
        &mut admin,
        "/portal/admin/catalog/CCTV-CHECK/prices",
        &[
            ("_csrf", &csrf(&page)),
            ("currency", "RUB"),
            ("price.model.unit_price", "2750.00"),
            ("effective_from", &later),
        ],
    )
    .await;
    assert_eq!(priced.status, 303, "{}", html(&priced));
    let offer = app.get("/v1/catalog/services/CCTV-CHECK", None).await;
    assert_eq!(
        offer.body["current_price"]["price"]["model"]["unit_price"],
        "2500.00"
    );
    assert_eq!(
        offer.body["next_price"]["price"]["model"]["unit_price"], "2750.00",
        "{}",
        offer.body
    );
    let refused = send(
        &mut admin,
        "/portal/admin/catalog/CCTV-CHECK/prices",
        &[
            ("_csrf", &csrf(&page)),
            ("currency", "RUB"),
            ("price.model.unit_price", "-1"),
        ],
    )
    .await;
    assert_eq!(refused.status, 422, "{}", html(&refused));
    assert!(html(&refused).contains("price."), "{}", html(&refused));
    let retired = send(
        &mut admin,
        "/portal/admin/catalog/CCTV-CHECK/retire",
        &[("_csrf", &csrf(&page))],
    )
    .await;
    assert_eq!(retired.status, 303);
    assert_eq!(
        app.get("/v1/catalog/services/CCTV-CHECK", None)
            .await
            .status,
        404,
        "a retired service leaves the public catalog"
    );

    // A member of staff, invited by mail.
    let page = admin.get("/portal/admin/staff").await;
    page.assert_status(200);
    let colleague = format!("engineer-{}@example.ru", kopek_tests::unique());
    let invited = send(
        &mut admin,
        "/portal/admin/staff",
        &[
            ("_csrf", &csrf(&page)),
            ("name", "Сергей Монтёров"),
            ("email", &colleague),
            ("role", "engineer"),
        ],
    )
    .await;
    assert_eq!(invited.status, 303, "{}", html(&invited));
    assert!(html(&admin.get("/portal/admin/staff").await).contains(&colleague));
    assert_eq!(app.mails_to(&colleague).await.len(), 1);

    // The settings and the requisites, each over the revision read.
    let page = admin.get("/portal/admin/settings").await;
    page.assert_status(200);
    let rev = super::customer::field_of(&page, "/portal/admin/settings", "rev");
    let saved = send(
        &mut admin,
        "/portal/admin/settings",
        &[
            ("_csrf", &csrf(&page)),
            ("rev", &rev),
            ("series", "KPK"),
            ("series_count", "4"),
            ("payment_terms_days", "10"),
            ("tax_mode", "exclusive"),
            ("zero_invoices", "skip"),
            ("bank_accounts", ""),
        ],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", html(&saved));
    let token = app.admin().await;
    let settings = app.get("/v1/billing/settings", Some(&token)).await;
    assert_eq!(settings.body["payment_terms_days"], 10, "{}", settings.body);
    assert_eq!(settings.body["series_count"], 4, "{}", settings.body);
    // Sent again over the old revision: refused, nothing changed.
    let stale = send(
        &mut admin,
        "/portal/admin/settings",
        &[
            ("_csrf", &csrf(&page)),
            ("rev", &rev),
            ("series", "KPK"),
            ("payment_terms_days", "30"),
        ],
    )
    .await;
    assert_eq!(stale.status, 409, "{}", html(&stale));
    let r = kopek_tests::provider_requisites();
    let s = |p: &str| {
        r.pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let page = admin.get("/portal/admin/settings").await;
    let fields = [
        ("_csrf", csrf(&page)),
        (
            "rev",
            super::customer::field_of(&page, "/portal/admin/requisites", "rev"),
        ),
        ("legal_name.ru", s("/legal_name/ru")),
        ("legal_name.en", s("/legal_name/en")),
        ("tax_id", s("/tax_id")),
        ("kpp", s("/kpp")),
        ("address.ru", s("/address/ru")),
        ("address.en", s("/address/en")),
        ("bank.bank_name.ru", s("/bank/bank_name/ru")),
        ("bank.bank_name.en", s("/bank/bank_name/en")),
        ("bank.bic", "04452522".to_owned()),
        ("bank.account", s("/bank/account")),
        (
            "bank.correspondent_account",
            s("/bank/correspondent_account"),
        ),
        ("director.name.ru", s("/director/name/ru")),
        ("director.name.en", s("/director/name/en")),
        ("director.position.ru", s("/director/position/ru")),
        ("director.position.en", s("/director/position/en")),
        ("vat_payer:bool", "on".to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // A BIC one digit short: refused naming it.
    let short = send(&mut admin, "/portal/admin/requisites", &pairs).await;
    assert_eq!(short.status, 422, "{}", html(&short));
    assert!(html(&short).contains("bic"), "{}", html(&short));
    let mut fields = fields.to_vec();
    fields[10].1 = s("/bank/bic");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = send(&mut admin, "/portal/admin/requisites", &pairs).await;
    assert_eq!(saved.status, 303, "{}", html(&saved));
    let read = app.get("/v1/billing/requisites", Some(&token)).await;
    assert_eq!(
        read.body["requisites"]["bank"]["bic"],
        s("/bank/bic"),
        "{}",
        read.body
    );

    // Who reaches what.
    let (email, password) = app.staff_login("manager").await;
    let mut manager = Browser::new(app);
    manager.sign_in(&email, &password).await;
    manager
        .get("/portal/admin/catalog")
        .await
        .assert_status(200);
    assert_eq!(manager.get("/portal/admin/staff").await.status, 403);
    let mut customer = Browser::new(app);
    customer
        .sign_in(&shop.customer.email, &shop.customer.password)
        .await;
    let page = customer.get("/portal").await;
    let forged = send(
        &mut customer,
        "/portal/admin/catalog/ROUTER-SETUP/retire",
        &[("_csrf", &csrf(&page))],
    )
    .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        app.get("/v1/catalog/services/ROUTER-SETUP", None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn an_admin_uploads_a_document_template_that_is_checked_then_used_or_refused() {
    let shop = shop().await;
    let app = &shop.app;
    let (email, password) = app.staff_login("admin").await;
    let mut admin = Browser::new(app);
    admin.sign_in(&email, &password).await;
    let page = admin.get("/portal/admin/templates").await;
    page.assert_status(200);
    assert!(html(&page).contains("Встроенный шаблон"));

    // One that does not compile: refused with its line, the built-in one stays.
    let broken = b"#let d = json(bytes(sys.inputs.sheet))\n= Title\n#d.no_such_field\n";
    let sent = super::staff::upload(
        &admin,
        "/portal/admin/templates/act",
        &csrf(&page),
        "act.typ",
        broken,
    )
    .await;
    assert_eq!(sent.status, 303, "{}", html(&sent));
    let check = super::location(&sent).to_owned();
    assert!(check.starts_with("/portal/admin/templates/act/"), "{check}");
    assert!(html(&admin.get(&check).await).contains("http-equiv=\"refresh\""));
    app.drain_documents(Some(3)).await;
    let checked = html(&admin.get(&check).await);
    assert!(
        checked.contains("Отклонён") && checked.contains('3'),
        "{checked}"
    );

    // One that does: accepted, and the act is made with it.
    let own = "#let d = json(bytes(sys.inputs.sheet))\n#set text(font: \"DejaVu Sans\")\n\
               = Акт нашей формы: #d.title\n";
    let sent = super::staff::upload(
        &admin,
        "/portal/admin/templates/act",
        &csrf(&page),
        "act.typ",
        own.as_bytes(),
    )
    .await;
    let check = super::location(&sent).to_owned();
    app.drain_documents(Some(3)).await;
    assert!(html(&admin.get(&check).await).contains("Принят"));
    let page = admin.get("/portal/admin/templates").await;
    assert!(html(&page).contains("Свой шаблон с"), "{}", html(&page));
    // Back to the built-in one.
    let removed = send(
        &mut admin,
        "/portal/admin/templates/act/remove",
        &[("_csrf", &csrf(&page))],
    )
    .await;
    assert_eq!(removed.status, 303);
    assert!(!html(&admin.get("/portal/admin/templates").await).contains("Свой шаблон с"));

    // A manager reads the kinds but uploads nothing.
    let (email, password) = app.staff_login("manager").await;
    let mut manager = Browser::new(app);
    manager.sign_in(&email, &password).await;
    let page = manager.get("/portal/admin/templates").await;
    page.assert_status(200);
    let refused = super::staff::upload(
        &manager,
        "/portal/admin/templates/act",
        &csrf(&page),
        "act.typ",
        own.as_bytes(),
    )
    .await;
    assert_eq!(refused.status, 403);
}
