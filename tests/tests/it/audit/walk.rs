//! Every state-changing operation of the OpenAPI document writes an audit record: checked
//! against what the whole suite's requests did.
//!
//! `cargo xtask test` runs the suite with `KOPEK_AUDIT_TRACE` naming a file, where the audit
//! middleware appends each POST, PUT, PATCH and DELETE it saw (route, status, and whether a
//! record was written with a change, on its own, the use case said it changed nothing, or
//! none of these); then it runs this test alone, which walks the document: each such
//! operation must have succeeded at least once with its record written in the transaction of
//! its change — or, for the few whose change is outside the table, written on its own, or for
//! the previews, been answered as unchanged — and none may ever have succeeded with no
//! record at all.

use std::collections::{BTreeMap, BTreeSet};

/// Operations that change nothing by design, and why.
const CHANGE_NOTHING: &[(&str, &str)] = &[
    (
        "POST /v1/subscriptions/preview",
        "what starting a subscription would cost, without starting it",
    ),
    (
        "POST /v1/subscriptions/{subscription_id}/change/preview",
        "what a change would cost, without making it",
    ),
    (
        "POST /v1/subscriptions/{subscription_id}/cancel/preview",
        "what a cancellation would refund, without cancelling",
    ),
];

/// Operations whose change is not in the table, or not always: their record is written on
/// its own once they succeed. Why each is so.
const OUTSIDE_TABLE: &[(&str, &str)] = &[
    (
        "POST /v1/usage",
        "events go to the usage queue; ingestion counts them",
    ),
    (
        "POST /v1/usage/csv",
        "rows go to the usage queue; ingestion counts them",
    ),
    (
        "POST /v1/periods/{period}/documents",
        "the missing documents are queued as jobs; the documents function files them",
    ),
    (
        "POST /v1/periods/{period}/packages",
        "the sending is queued page by page; the documents function makes the packages",
    ),
    (
        "POST /v1/periods/{period}/resume",
        "the close's remaining work goes back to its queue",
    ),
    (
        "POST /v1/billing/reports/{report_id}/sign",
        "the signing is queued as a job; the documents function signs and files",
    ),
];

#[derive(Debug, Default)]
struct Seen {
    written: usize,
    alone: usize,
    unchanged: usize,
    /// Succeeded without a record and without saying it changed nothing.
    silent: usize,
}

#[tokio::test]
#[ignore = "run by `cargo xtask test` after the suite, on the suite's trace"]
async fn every_state_changing_operation_writes_an_audit_record() {
    let path = std::env::var("KOPEK_AUDIT_TRACE")
        .expect("KOPEK_AUDIT_TRACE names the suite's trace: run this through `cargo xtask test`");
    let trace = std::fs::read_to_string(&path).expect("the suite's trace");
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for line in trace.lines() {
        let mut parts = line.split('\t');
        let (Some(action), Some(status), Some(outcome)) =
            (parts.next(), parts.next(), parts.next())
        else {
            panic!("a malformed trace line: {line:?}");
        };
        let ok = status.starts_with('2');
        let entry = seen.entry(action.to_owned()).or_default();
        match (ok, outcome) {
            (true, "written") => entry.written += 1,
            (true, "alone") => entry.alone += 1,
            (true, "unchanged") => entry.unchanged += 1,
            (true, _) => entry.silent += 1,
            _ => {}
        }
    }

    let doc = serde_json::to_value(kopek_api::openapi()).expect("the document");
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if ["post", "put", "patch", "delete"].contains(&method.as_str()) {
                operations.insert(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
    }
    assert!(
        operations.len() > 60,
        "the document's operations: {operations:?}"
    );

    let mut missing = Vec::new();
    for operation in &operations {
        let s = seen.get(operation);
        let by_design = CHANGE_NOTHING.iter().any(|(o, _)| o == operation);
        let outside = OUTSIDE_TABLE.iter().any(|(o, _)| o == operation);
        let good = match s {
            Some(s) if by_design => s.unchanged > 0,
            Some(s) if outside => s.written + s.alone > 0,
            Some(s) => s.written > 0,
            None => false,
        };
        if !good {
            missing.push(format!("{operation}: {s:?}"));
        }
    }
    let silent: Vec<String> = seen
        .iter()
        .filter(|(action, s)| action.contains(" /v1/") && s.silent > 0)
        .map(|(action, s)| format!("{action}: {s:?}"))
        .collect();
    assert!(
        silent.is_empty(),
        "succeeded without an audit record: {silent:#?}"
    );
    assert!(
        missing.is_empty(),
        "state-changing operations never seen writing their audit record in the suite \
         (add a test that makes them succeed): {missing:#?}"
    );
    for (operation, _) in CHANGE_NOTHING.iter().chain(OUTSIDE_TABLE) {
        assert!(
            operations.contains(*operation),
            "{operation} is still in the document"
        );
    }
}
