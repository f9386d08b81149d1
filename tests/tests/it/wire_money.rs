//! One wire form for money, held by the document: every response schema of every operation is
//! walked (through `$ref`s, arrays, `allOf`/`oneOf`/`anyOf`), and every property that carries
//! money — by its name — must refer to the `Amount` component (exactly the currency's minor
//! units) or the `UnitPrice` one (unit prices, rates and priced steps). No answer may hide
//! money in a free-form object either: free-form objects are allowed only under the names
//! listed here, none of which holds an amount. schemathesis (`schemathesis.rs`) then checks
//! every real answer against these components' patterns.

use serde_json::Value;
use std::collections::BTreeSet;

const AMOUNT: &str = "#/components/schemas/Amount";
const UNIT_PRICE: &str = "#/components/schemas/UnitPrice";

/// Free-form objects in answers, and why they hold no amount.
const FREE_FORM: &[(&str, &str)] = &[
    ("name", "a localized text: {ru, en}"),
    ("service_name", "a localized text"),
    ("description", "a localized text"),
    (
        "tax_exemption",
        "a localized text: the legal basis of an exempt rate",
    ),
    ("site", "an address and an area"),
    ("source", "what a line bills: ids and counts"),
    ("document", "which document an entry books: ids and numbers"),
    (
        "model",
        "a price model as written by the admin: its amounts in the UnitPrice form",
    ),
    ("properties", "a usage event's own properties, as sent"),
    ("event", "a rejected usage event, as sent"),
    ("actor", "who did it: a user's or an API key's id"),
    (
        "policy",
        "the dunning policy: steps in days, a threshold in the customer's currency, percentages",
    ),
    (
        "settings",
        "a customer's dunning mode: policy, off, or a hold with its reason (and its own policy)",
    ),
];

/// Whether a property's name says it carries money.
fn names_money(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "amount", "net", "tax", "gross", "total", "subtotal", "balance", "credit", "debit", "paid",
        "open", "credited", "priced", "minimum",
    ];
    const SUFFIXES: &[&str] = &[
        "_net", "_gross", "_tax", "_total", "_price", "_fee", "_amount", "_credit",
    ];
    EXACT.contains(&name)
        || SUFFIXES.iter().any(|s| name.ends_with(s))
        || name.starts_with("total_")
        || name.starts_with("estimated_")
}

struct Walk<'d> {
    doc: &'d Value,
    seen: BTreeSet<String>,
    wrong: Vec<String>,
}

impl Walk<'_> {
    fn resolve(&self, reference: &str) -> Value {
        let pointer = reference.trim_start_matches('#');
        self.doc
            .pointer(pointer)
            .cloned()
            .unwrap_or_else(|| panic!("{reference} does not resolve"))
    }

    /// Walks `schema`, found at `at`.
    fn schema(&mut self, schema: &Value, at: &str) {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            if self.seen.insert(reference.to_owned()) {
                let target = self.resolve(reference);
                self.schema(&target, reference);
            }
            return;
        }
        for combined in ["allOf", "oneOf", "anyOf"] {
            for (i, part) in schema[combined]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                self.schema(part, &format!("{at}/{combined}/{i}"));
            }
        }
        if let Some(items) = schema.get("items") {
            self.schema(items, &format!("{at}/items"));
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                self.property(name, property, &format!("{at}.{name}"));
                self.schema(property, &format!("{at}.{name}"));
            }
        }
    }

    /// Checks one property's form.
    fn property(&mut self, name: &str, schema: &Value, at: &str) {
        let refs = refs_of(schema);
        let types = types_of(schema);
        let free_form = types.contains("object")
            && schema.get("properties").is_none()
            && refs.is_empty()
            && schema
                .get("additionalProperties")
                .is_none_or(|a| a == &Value::Bool(true));
        if free_form && !FREE_FORM.iter().any(|(n, _)| *n == name) {
            self.wrong.push(format!(
                "{at}: a free-form object could hide money: {schema}"
            ));
        }
        let money_form = refs.iter().any(|r| r == AMOUNT || r == UNIT_PRICE);
        let scalar_or_free = types.contains("string") || types.contains("number") || free_form;
        if names_money(name) && scalar_or_free && !money_form {
            self.wrong.push(format!(
                "{at}: money must refer to Amount or UnitPrice, found {schema}"
            ));
        }
    }
}

/// The `$ref`s a property's schema is (directly, or as one arm of an option or an array).
fn refs_of(schema: &Value) -> Vec<String> {
    let mut refs = Vec::new();
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        refs.push(r.to_owned());
    }
    for combined in ["allOf", "oneOf", "anyOf"] {
        for part in schema[combined].as_array().into_iter().flatten() {
            refs.extend(refs_of(part));
        }
    }
    if let Some(items) = schema.get("items") {
        refs.extend(refs_of(items));
    }
    refs
}

/// The JSON types a property's schema admits, on its own and in its arms.
fn types_of(schema: &Value) -> BTreeSet<String> {
    let mut types: BTreeSet<String> = match &schema["type"] {
        Value::String(t) => [t.clone()].into(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => BTreeSet::new(),
    };
    for combined in ["allOf", "oneOf", "anyOf"] {
        for part in schema[combined].as_array().into_iter().flatten() {
            if part.get("$ref").is_none() {
                types.extend(types_of(part));
            }
        }
    }
    types
}

#[test]
fn every_amount_in_every_answer_has_the_one_wire_form() {
    let doc = serde_json::to_value(kopek_api::openapi()).expect("the document as JSON");
    for (component, pattern) in [
        ("Amount", kopek_http::wire::AMOUNT_PATTERN),
        ("UnitPrice", kopek_http::wire::UNIT_PRICE_PATTERN),
    ] {
        let schema = &doc["components"]["schemas"][component];
        assert_eq!(schema["type"], "string", "{component}: {schema}");
        assert_eq!(schema["pattern"], pattern, "{component}: {schema}");
    }
    let mut walk = Walk {
        doc: &doc,
        seen: BTreeSet::new(),
        wrong: Vec::new(),
    };
    let mut answers = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("an item") {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    answers += 1;
                    let at = format!("{method} {path} {status} {media}");
                    walk.schema(&content["schema"], &at);
                }
            }
        }
    }
    assert!(answers > 100, "only {answers} answers walked");
    assert!(
        walk.seen.len() > 40,
        "only {} schemas reached: {:?}",
        walk.seen.len(),
        walk.seen
    );
    assert!(walk.wrong.is_empty(), "{}", walk.wrong.join("\n"));
}

#[test]
fn the_walk_catches_money_in_another_form() {
    let doc = serde_json::json!({
        "components": {"schemas": {
            "Amount": {"type": "string"},
            "Line": {"type": "object", "properties": {
                "net": {"type": "string"},
                "total_with_tax": {"type": "string"},
                "expected": {"type": "object"},
                "gross": {"$ref": AMOUNT},
                "price_version": {"type": "integer"},
                "tax_rate": {"type": "string"},
                "site": {"type": "object"}
            }}
        }}
    });
    let mut walk = Walk {
        doc: &doc,
        seen: BTreeSet::new(),
        wrong: Vec::new(),
    };
    walk.schema(
        &serde_json::json!({"$ref": "#/components/schemas/Line"}),
        "test",
    );
    let wrong = walk.wrong.join("\n");
    for caught in ["Line.net:", "Line.total_with_tax:", "Line.expected:"] {
        assert!(wrong.contains(caught), "{caught} not caught in:\n{wrong}");
    }
    for fine in [
        "Line.gross",
        "Line.price_version",
        "Line.tax_rate",
        "Line.site",
    ] {
        assert!(!wrong.contains(fine), "{fine} wrongly caught in:\n{wrong}");
    }
}
