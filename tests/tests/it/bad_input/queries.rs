//! Query strings and cursors: garbage parameters and invalid cursors are refused naming them.

use super::{Fixture, assert_invalid_field, service};
use kopek_tests::{TestResponse, flip_char, unique};
use serde_json::json;

#[tokio::test]
async fn garbage_query_parameters_are_refused_naming_them() {
    let f = Fixture::start().await;
    let users = format!("/v1/organisations/{}/users", f.customer.org_id);
    let quote = format!("/v1/catalog/services/{}/quote?quantity=3", f.code);
    let listings: Vec<(String, Option<&str>)> = vec![
        ("/v1/catalog/services?".into(), None),
        (format!("{users}?"), Some(&f.customer.token)),
        ("/v1/api-keys?".into(), Some(&f.customer.token)),
        ("/v1/organisations?".into(), Some(&f.admin)),
        ("/v1/staff-users?".into(), Some(&f.admin)),
        ("/v1/usage/rejected?".into(), Some(&f.admin)),
    ];
    let before = f.app.table_items().await;

    let mut cases: Vec<(String, Option<&str>, &str, &str)> = Vec::new();
    for (listing, token) in &listings {
        for (query, field) in [
            ("sort=desc", "sort"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=65536", "limit"),
            ("limit=99999999999999999999999", "limit"),
            ("limit=-1", "limit"),
            ("limit=ten", "limit"),
            ("limit=1&limit=2", "limit"),
        ] {
            cases.push((format!("{listing}{query}"), *token, field, "invalid_query"));
        }
    }
    cases.extend([
        (
            format!("{quote}&currency=USD"),
            None,
            "currency",
            "invalid_query",
        ),
        (
            format!("/v1/catalog/services/{}/quote", f.code),
            None,
            "quantity",
            "invalid_query",
        ),
        (
            format!("/v1/catalog/services/{}/quote?quantity=many", f.code),
            None,
            "quantity",
            "invalid_query",
        ),
        (format!("{quote}&at=yesterday"), None, "at", "invalid_query"),
        (
            format!("{}?at=2026-13-01", f.prices()),
            None,
            "at",
            "invalid_query",
        ),
        (
            format!("{}?version=1", f.prices()),
            None,
            "version",
            "invalid_query",
        ),
        (
            "/v1/catalog/services?status=deleted".into(),
            None,
            "status",
            "invalid_query",
        ),
        (
            "/v1/usage?period=2026-13".into(),
            Some(f.customer.token.as_str()),
            "period",
            "invalid_query",
        ),
        (
            "/v1/usage?org=me".into(),
            Some(f.customer.token.as_str()),
            "org",
            "invalid_query",
        ),
        (
            "/v1/usage/meters/TRAFFIC?period=november".into(),
            Some(f.customer.token.as_str()),
            "period",
            "invalid_query",
        ),
        (
            "/v1/usage/health?period=2026-1".into(),
            Some(f.admin.as_str()),
            "period",
            "invalid_query",
        ),
        (
            "/v1/usage/rejected?period=".into(),
            Some(f.admin.as_str()),
            "period",
            "invalid_query",
        ),
    ]);
    for (uri, token, field, code) in cases {
        let response = f.app.get(&uri, token).await;
        assert_eq!(response.status.as_u16(), 400, "{uri}: {}", response.body);
        response.assert_problem(400, code);
        assert_eq!(response.field(), field, "{uri}: {}", response.body);
    }
    // A quantity the calculator cannot price is well-formed but breaks a rule: 422.
    let negative = f
        .app
        .get(
            &format!("/v1/catalog/services/{}/quote?quantity=-1", f.code),
            None,
        )
        .await;
    assert_invalid_field(&negative, "quantity", "a negative quantity");
    assert_eq!(f.app.table_items().await, before);

    // The bounds themselves are fine.
    for (listing, token) in &listings {
        for limit in [1, 100] {
            let uri = format!("{listing}limit={limit}");
            let response = f.app.get(&uri, *token).await;
            assert_eq!(response.status.as_u16(), 200, "{uri}: {}", response.body);
        }
    }
    f.app.get(&quote, None).await.assert_status(200);
}

#[tokio::test]
async fn an_invalid_cursor_is_refused_naming_it() {
    let f = Fixture::start().await;
    // Second items, so that a one-item page has a next cursor.
    f.app
        .post(
            "/v1/catalog/services",
            Some(&f.admin),
            &service(&format!("NEW-{}", unique())),
        )
        .await
        .assert_status(201);
    let users = format!("/v1/organisations/{}/users", f.customer.org_id);
    f.app
        .post(
            &users,
            Some(&f.customer.token),
            &json!({"name": "Анна", "email": format!("anna{}@example.ru", unique())}),
        )
        .await
        .assert_status(201);
    let next_cursor = |response: TestResponse| -> String {
        response.assert_status(200);
        response.body["next_cursor"]
            .as_str()
            .unwrap_or_else(|| panic!("a next page: {}", response.body))
            .to_owned()
    };
    let catalog_cursor = next_cursor(f.app.get("/v1/catalog/services?limit=1", None).await);
    let users_cursor = next_cursor(
        f.app
            .get(&format!("{users}?limit=1"), Some(&f.customer.token))
            .await,
    );
    // Both are good where they came from.
    f.app
        .get(
            &format!("/v1/catalog/services?cursor={catalog_cursor}"),
            None,
        )
        .await
        .assert_status(200);
    f.app
        .get(
            &format!("{users}?cursor={users_cursor}"),
            Some(&f.customer.token),
        )
        .await
        .assert_status(200);

    let (payload, tag) = catalog_cursor.split_once('.').expect("payload.tag");
    let tampered_payload = format!("{}.{tag}", flip_char(payload, payload.len() / 2));
    let tampered_tag = format!("{payload}.{}", flip_char(tag, tag.len() / 2));
    let listings: [(String, Option<&str>); 6] = [
        ("/v1/catalog/services".into(), None),
        (users.clone(), Some(&f.customer.token)),
        ("/v1/api-keys".into(), Some(&f.customer.token)),
        ("/v1/organisations".into(), Some(&f.admin)),
        ("/v1/staff-users".into(), Some(&f.admin)),
        ("/v1/usage/rejected".into(), Some(&f.admin)),
    ];
    let before = f.app.table_items().await;
    for (listing, token) in &listings {
        let mut cursors = vec![
            "garbage".to_owned(),
            String::new(),
            "e30.AAAA".to_owned(),
            tampered_payload.clone(),
            tampered_tag.clone(),
        ];
        // A genuine cursor of another listing.
        if listing.starts_with("/v1/catalog") {
            cursors.push(users_cursor.clone());
        } else {
            cursors.push(catalog_cursor.clone());
        }
        for cursor in cursors {
            let uri = format!("{listing}?cursor={cursor}");
            let response = f.app.get(&uri, *token).await;
            assert_eq!(response.status.as_u16(), 400, "{uri}: {}", response.body);
            response.assert_problem(400, "invalid_cursor");
            assert_eq!(response.field(), "cursor", "{uri}");
        }
    }
    assert_eq!(f.app.table_items().await, before);
}
