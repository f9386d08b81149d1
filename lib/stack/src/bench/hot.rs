//! Which items and partitions a measured run writes, and how often: an SDK interceptor on the
//! DynamoDB client that reads every write request as it is sent (`PutItem`, `UpdateItem`,
//! `DeleteItem`, each action of a `TransactWriteItems` — condition checks too, which DynamoDB
//! charges as writes — and each request of a `BatchWriteItem`) and counts the key of every item
//! it touches, and the partitions: the base table's `PK` and, for an item put whole, the
//! index partitions (`GSI1PK`, `GSI2PK`) it lands in.
//!
//! A cancelled transaction or a refused condition counts too: DynamoDB charges the partition
//! for it all the same, and that is what makes an item hot. An update of an item that an index
//! projects rewrites its index entry as well; the interceptor sees only the update's key, so
//! index partitions are counted for puts alone (the close's updated, indexed item is the
//! period's, whose `PERIODS` entry is one per period).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use serde_json::Value;

/// Writes per item (`PK / SK`) and per partition (`PK`, `GSI1 GSI1PK`, `GSI2 GSI2PK`).
#[derive(Debug, Default, Clone)]
pub struct HotKeys {
    counts: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub items: HashMap<String, u64>,
    pub partitions: HashMap<String, u64>,
    /// Write requests seen.
    pub requests: u64,
}

impl HotKeys {
    /// What was counted so far.
    pub fn counts(&self) -> Counts {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, operation: &str, body: &Value) {
        let mut touched: Vec<(&Value, bool)> = Vec::new();
        match operation {
            "PutItem" => touched.push((&body["Item"], true)),
            "UpdateItem" | "DeleteItem" => touched.push((&body["Key"], false)),
            "TransactWriteItems" => {
                for action in body["TransactItems"].as_array().into_iter().flatten() {
                    if let Some(put) = action.get("Put") {
                        touched.push((&put["Item"], true));
                    }
                    for kind in ["Update", "Delete", "ConditionCheck"] {
                        if let Some(other) = action.get(kind) {
                            touched.push((&other["Key"], false));
                        }
                    }
                }
            }
            "BatchWriteItem" => {
                for requests in body["RequestItems"]
                    .as_object()
                    .into_iter()
                    .flat_map(|t| t.values())
                {
                    for request in requests.as_array().into_iter().flatten() {
                        if let Some(put) = request.get("PutRequest") {
                            touched.push((&put["Item"], true));
                        }
                        if let Some(delete) = request.get("DeleteRequest") {
                            touched.push((&delete["Key"], false));
                        }
                    }
                }
            }
            _ => return,
        }
        let text = |item: &Value, name: &str| item[name]["S"].as_str().map(str::to_owned);
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        counts.requests += 1;
        for (item, whole) in touched {
            let (Some(pk), Some(sk)) = (text(item, "PK"), text(item, "SK")) else {
                continue;
            };
            *counts.items.entry(format!("{pk} / {sk}")).or_default() += 1;
            *counts.partitions.entry(pk).or_default() += 1;
            if whole {
                for index in ["GSI1", "GSI2"] {
                    if let Some(key) = text(item, &format!("{index}PK")) {
                        *counts
                            .partitions
                            .entry(format!("{index} {key}"))
                            .or_default() += 1;
                    }
                }
            }
        }
    }
}

impl Intercept for HotKeys {
    fn name(&self) -> &'static str {
        "HotKeys"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let Some(operation) = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit_once('.').map(|(_, op)| op.to_owned()))
        else {
            return Ok(());
        };
        if let Some(bytes) = request.body().bytes()
            && let Ok(body) = serde_json::from_slice::<Value>(bytes)
        {
            self.count(&operation, &body);
        }
        Ok(())
    }
}

/// One kind of key (its ids shown by kind, [`generic`]) among the most written.
#[derive(Debug, Clone, PartialEq)]
pub struct Hot {
    pub kind: String,
    /// Distinct keys of the kind written.
    pub keys: usize,
    /// Writes of the most written one of them.
    pub max: u64,
    /// Those writes per 1,000 of what the run counts (customers).
    pub max_per_1000: f64,
    /// Writes of all of them together.
    pub total: u64,
}

/// The `top` kinds of key whose most written key was written most, most first (ties by
/// name), with that key's writes per 1,000 of `per` (customers).
pub fn hottest(counts: &HashMap<String, u64>, top: usize, per: usize) -> Vec<Hot> {
    let mut kinds: HashMap<String, Hot> = HashMap::new();
    for (key, n) in counts {
        let kind = generic(key);
        let hot = kinds.entry(kind.clone()).or_insert(Hot {
            kind,
            keys: 0,
            max: 0,
            max_per_1000: 0.0,
            total: 0,
        });
        hot.keys += 1;
        hot.max = hot.max.max(*n);
        hot.total += n;
    }
    let mut all: Vec<Hot> = kinds.into_values().collect();
    all.sort_by(|a, b| b.max.cmp(&a.max).then(a.kind.cmp(&b.kind)));
    all.truncate(top);
    for hot in &mut all {
        hot.max_per_1000 = hot.max as f64 * 1000.0 / per.max(1) as f64;
    }
    all
}

/// A key with its ids shown by kind: `ORG#org_01J…` → `ORG#{org}`.
pub fn generic(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for (i, part) in key.split('#').enumerate() {
        if i > 0 {
            out.push('#');
        }
        match part.split_once('_') {
            Some((kind, id)) if id.len() >= 16 && kind.chars().all(|c| c.is_ascii_lowercase()) => {
                out.push_str(&format!("{{{kind}}}"));
                // Keep what follows the id in a composite part (`JOB#{org} / JOB`).
                if let Some((_, rest)) = id.split_once(' ') {
                    out.push(' ');
                    out.push_str(rest);
                }
            }
            _ => out.push_str(part),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_write_counts_its_items_and_partitions() {
        let hot = HotKeys::default();
        let item = |pk: &str, sk: &str| json!({"PK": {"S": pk}, "SK": {"S": sk}});
        let mut indexed = item("ORG#1", "INVOICE#2026-11");
        indexed["GSI2PK"] = json!({"S": "INVOICES#2026-11"});
        hot.count("PutItem", &json!({"Item": indexed}));
        hot.count(
            "UpdateItem",
            &json!({"Key": item("PERIOD#2026-11", "PERIOD")}),
        );
        hot.count(
            "TransactWriteItems",
            &json!({"TransactItems": [
                {"Update": {"Key": item("PERIOD#2026-11", "PERIOD")}},
                {"Put": {"Item": item("ORG#2", "INVOICE#2026-11")}},
                {"ConditionCheck": {"Key": item("SEQ#KPK#INV#2026", "SEQ")}},
            ]}),
        );
        hot.count(
            "BatchWriteItem",
            &json!({"RequestItems": {"t": [
                {"PutRequest": {"Item": item("ORG#3", "X")}},
                {"DeleteRequest": {"Key": item("ORG#3", "Y")}},
            ]}}),
        );
        hot.count("GetItem", &json!({"Key": item("ORG#9", "ORG")}));
        let counts = hot.counts();
        assert_eq!(counts.requests, 4);
        assert_eq!(counts.items["PERIOD#2026-11 / PERIOD"], 2);
        assert_eq!(counts.items.len(), 6);
        assert_eq!(counts.partitions["ORG#3"], 2);
        assert_eq!(counts.partitions["GSI2 INVOICES#2026-11"], 1);
        assert!(
            !counts.partitions.contains_key("ORG#9"),
            "a read writes nothing"
        );
        let top = hottest(&counts.items, 2, 500);
        assert_eq!(
            top[0],
            Hot {
                kind: "PERIOD#2026-11 / PERIOD".into(),
                keys: 1,
                max: 2,
                max_per_1000: 4.0,
                total: 2
            }
        );
        // Keys of one kind are one row: the hottest of them, and how many there are.
        let mut many = HashMap::new();
        many.insert("ORG#org_01M97NG198B80RYST6XPB7AZE1 / X".to_owned(), 3);
        many.insert("ORG#org_01M97NG198B80RYST6XPB7AZE2 / X".to_owned(), 1);
        let rows = hottest(&many, 5, 1000);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].keys, rows[0].max, rows[0].total), (2, 3, 4));
    }

    #[test]
    fn ids_in_keys_are_shown_by_their_kind() {
        assert_eq!(
            generic("PERIOD#2026-11 / JOB#org_01M97NG198B80RYST6XPB7AZET"),
            "PERIOD#2026-11 / JOB#{org}"
        );
        assert_eq!(
            generic(
                "ORG#org_01M97NG198B80RYST6XPB7AZET / HISTORY#inv_01M97NG198B80RYST6XPB7AZE1#evt_01M97NG198B80RYST6XPB7AZE2"
            ),
            "ORG#{org} / HISTORY#{inv}#{evt}"
        );
        assert_eq!(
            generic("SEQ#KPK-07#INV#2026 / SEQ"),
            "SEQ#KPK-07#INV#2026 / SEQ"
        );
        assert_eq!(generic("GSI1 OUTBOX"), "GSI1 OUTBOX");
    }
}
