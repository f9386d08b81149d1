//! Who may post usage and read it, and who gives external references.

use super::{assert_refused, depth, event, meter, post_csv, post_events, world};
use kopek_domain::ids::OrgId;
use kopek_tests::str_at;
use kopek_tests::unique;
use serde_json::json;

#[tokio::test]
async fn only_usage_writers_post_usage_and_customers_read_only_their_own() {
    let w = world().await;
    let app = &w.app;
    let (a, b) = (w.a.org_id.as_str(), w.b.org_id.as_str());
    let events = [event("e-1", a, "TRAFFIC", json!("5"), w.on(3, 9))];

    // Customers (users and keys) and staff without `usage:write` may not post.
    let customer_key = app
        .post(
            "/v1/api-keys",
            Some(&w.a.token),
            &json!({"name": "CRM", "scopes": ["orders:read"]}),
        )
        .await;
    customer_key.assert_status(201);
    let customer_key = str_at(&customer_key.body, "/token").to_owned();
    let manager = app.staff_with_role("manager").await;
    for token in [&w.a.token, &customer_key, &manager] {
        post_events(app, token, &events)
            .await
            .assert_problem(403, "forbidden");
        post_csv(app, token, "id,customer,meter,quantity,timestamp\n")
            .await
            .assert_problem(403, "forbidden");
        for uri in ["/v1/usage/health", "/v1/usage/rejected"] {
            app.get(uri, Some(token))
                .await
                .assert_problem(403, "forbidden");
        }
    }
    app.post("/v1/usage", None, &json!({"events": events}))
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(depth(app).await, (0, 0));

    // A staff key of the engineer role holding `usage:write` posts, as a producer would.
    let key = app
        .post(
            "/v1/api-keys",
            Some(&w.admin),
            &json!({"name": "Routers", "role": "engineer", "scopes": ["usage:write"]}),
        )
        .await;
    key.assert_status(201);
    let producer = str_at(&key.body, "/token").to_owned();
    post_events(app, &producer, &events)
        .await
        .assert_status(202);
    app.drain_usage().await;

    // A customer reads its own usage, by default or by naming itself; another's is 404,
    // exactly as an organisation that does not exist.
    let own = app.get("/v1/usage", Some(&w.a.token)).await;
    own.assert_status(200);
    assert_eq!(meter(&own.body, "TRAFFIC")["quantity"], "5");
    let named = app
        .get(&format!("/v1/usage?org_id={a}"), Some(&customer_key))
        .await;
    assert_eq!(named.body, own.body);
    let foreign = app
        .get(&format!("/v1/usage?org_id={a}"), Some(&w.b.token))
        .await;
    foreign.assert_problem(404, "not_found");
    let never = app
        .get(
            &format!("/v1/usage?org_id={}", OrgId::new()),
            Some(&w.b.token),
        )
        .await;
    assert_eq!(foreign.raw, never.raw);
    app.get(
        &format!("/v1/usage/meters/TRAFFIC?org_id={a}"),
        Some(&w.b.token),
    )
    .await
    .assert_problem(404, "not_found");

    // Staff read any organisation's, and must say which.
    let staff = app
        .get(&format!("/v1/usage?org_id={a}"), Some(&w.engineer))
        .await;
    assert_eq!(staff.body, own.body);
    let b_by_staff = app
        .get(&format!("/v1/usage?org_id={b}"), Some(&manager))
        .await;
    assert_eq!(b_by_staff.body["meters"], json!([]));
    let unnamed = app.get("/v1/usage", Some(&w.admin)).await;
    unnamed.assert_problem(400, "invalid_query");
    assert_eq!(unnamed.field(), "org_id");
    app.get(
        &format!("/v1/usage?org_id={}", OrgId::new()),
        Some(&w.admin),
    )
    .await
    .assert_problem(404, "not_found");
    for (query, field) in [
        ("period=2026-13", "period"),
        ("period=soon", "period"),
        ("org=x", "org"),
    ] {
        let response = app
            .get(&format!("/v1/usage?{query}"), Some(&w.a.token))
            .await;
        response.assert_problem(400, "invalid_query");
        assert_eq!(response.field(), field, "{query}");
    }
}

#[tokio::test]
async fn an_external_reference_is_unique_and_given_by_admins_and_managers_only() {
    let w = world().await;
    let app = &w.app;
    let (a, b) = (w.a.org_id.as_str(), w.b.org_id.as_str());
    let reference = format!("crm:{}", unique());
    let body = |org: &str, reference: &str| json!({"org_id": org, "external_ref": reference});

    let set = app
        .post(
            "/v1/usage/external-refs",
            Some(&w.admin),
            &body(a, &reference),
        )
        .await;
    set.assert_status(201);
    assert_eq!(set.body, body(a, &reference));
    // Again for the same customer: harmless. A manager may too.
    let manager = app.staff_with_role("manager").await;
    app.post(
        "/v1/usage/external-refs",
        Some(&manager),
        &body(a, &reference),
    )
    .await
    .assert_status(201);
    // Another customer cannot take it.
    let taken = app
        .post(
            "/v1/usage/external-refs",
            Some(&w.admin),
            &body(b, &reference),
        )
        .await;
    taken.assert_problem(409, "external_ref_taken");
    assert_eq!(taken.field(), "external_ref");
    // Customers and engineers may not give references, not even their own organisation's.
    for token in [&w.a.token, &w.engineer] {
        app.post(
            "/v1/usage/external-refs",
            Some(token),
            &body(a, &format!("crm:{}", unique())),
        )
        .await
        .assert_problem(403, "forbidden");
    }
    app.post(
        "/v1/usage/external-refs",
        Some(&w.admin),
        &body(&OrgId::new().to_string(), "crm:ghost"),
    )
    .await
    .assert_problem(404, "not_found");
    for (org, reference, field) in [
        ("org_nonsense", "crm:1", "org_id"),
        (a, "", "external_ref"),
        (a, "has space", "external_ref"),
        (a, b, "external_ref"),
    ] {
        let response = app
            .post(
                "/v1/usage/external-refs",
                Some(&w.admin),
                &body(org, reference),
            )
            .await;
        assert_refused(&response, "validation_failed", field);
    }

    // Producers name A by it.
    post_events(
        app,
        &w.engineer,
        &[event("r-1", &reference, "TRAFFIC", json!("2"), w.on(3, 9))],
    )
    .await
    .assert_status(202);
    app.drain_usage().await;
    let view = app.get("/v1/usage", Some(&w.a.token)).await;
    assert_eq!(meter(&view.body, "TRAFFIC")["quantity"], "2");
    let b_view = app.get("/v1/usage", Some(&w.b.token)).await;
    assert_eq!(b_view.body["meters"], json!([]));
}
