//! Every id-taking operation of the OpenAPI document has a probe.

use super::probes::{catalog_probes, org_probes, staff_probes};
use super::{Ids, Input, input};
use axum::http::Method;
use kopek_tests::TestApp;
use serde_json::Value;
use std::collections::BTreeSet;

/// Inputs named `…_id` that name no record of Kopek's, and why.
const NOT_REFERENCES: &[(&str, &str, &str, &str)] = &[
    (
        "POST",
        "/v1/auth/register",
        "body organisation.tax_id",
        "the taxpayer number a new organisation states about itself",
    ),
    (
        "PUT",
        "/v1/customers/by-ref/{reference}",
        "body tax_id",
        "the customer's taxpayer number, as its CRM's record states it",
    ),
    (
        "PUT",
        "/v1/billing/requisites",
        "body requisites.tax_id",
        "the provider's own taxpayer number, as its documents print it",
    ),
];

/// The id inputs of every operation in the OpenAPI document: path parameters, query
/// parameters named `…_id`, and request-body properties named `…_id` (at any depth).
fn documented_id_inputs(doc: &Value) -> BTreeSet<Input> {
    let mut inputs = BTreeSet::new();
    let paths = doc["paths"].as_object().expect("the document has paths");
    for (path, operations) in paths {
        let operations = operations.as_object().expect("a path item");
        for (method, operation) in operations {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().expect("a parameter name");
                match parameter["in"].as_str() {
                    Some("path") => {
                        inputs.insert(input(&method, path, &format!("path {name}")));
                    }
                    Some("query") if name.ends_with("_id") => {
                        inputs.insert(input(&method, path, &format!("query {name}")));
                    }
                    _ => {}
                }
            }
            let body = &operation["requestBody"]["content"]["application/json"]["schema"];
            let mut found = BTreeSet::new();
            body_id_properties(doc, body, "", &mut found, 0);
            for property in found {
                inputs.insert(input(&method, path, &format!("body {property}")));
            }
        }
    }
    inputs
}

fn body_id_properties(
    doc: &Value,
    schema: &Value,
    prefix: &str,
    out: &mut BTreeSet<String>,
    depth: u8,
) {
    assert!(depth < 32, "the request body schemas nest too deep");
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("an unexpected $ref {reference}"));
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "{reference} is not in the document");
        return body_id_properties(doc, target, prefix, out, depth + 1);
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        for part in schema[combinator].as_array().into_iter().flatten() {
            body_id_properties(doc, part, prefix, out, depth + 1);
        }
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            if name.ends_with("_id") {
                out.insert(path.clone());
            }
            body_id_properties(doc, property, &path, out, depth + 1);
        }
    }
    if schema.get("items").is_some() {
        body_id_properties(
            doc,
            &schema["items"],
            &format!("{prefix}[]"),
            out,
            depth + 1,
        );
    }
}

#[tokio::test]
async fn every_operation_that_takes_an_id_is_covered_here() {
    let app = TestApp::start().await;
    let served = app.get("/v1/openapi.json", None).await;
    served.assert_status(200);
    let documented = documented_id_inputs(&served.body);

    let covered: BTreeSet<Input> = org_probes(&Ids {
        org: "org_x",
        key: "key_x",
        order: "ord_x",
        sub: "sub_x",
        invoice: "inv_x",
        credit_note: "crn_x",
        document: "doc_x",
        package: "pkg_x",
        report: "rep_x",
    })
    .into_iter()
    .chain(catalog_probes("CODE"))
    .chain(staff_probes("bat_x", "inv_x"))
    .map(|p| p.input)
    .chain(
        NOT_REFERENCES
            .iter()
            .map(|(m, path, place, _why)| (m.to_string(), path.to_string(), place.to_string())),
    )
    .collect();
    assert!(
        documented.contains(&input(&Method::POST, "/v1/api-keys", "body org_id")),
        "ids in request bodies are found: {documented:#?}"
    );
    let missing: Vec<&Input> = documented.difference(&covered).collect();
    let stale: Vec<&Input> = covered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "operations taking an id that this file does not try: {missing:#?}"
    );
    assert!(
        stale.is_empty(),
        "inputs tried here that the API no longer has: {stale:#?}"
    );
}
