//! The audit log (access patterns A93–A96): a record written with the first change of every
//! audited action (see [`crate::audit`]), searched by day, by organisation and by object,
//! newest first, and archived day by day once older than the retention.
//!
//! | # | Access pattern | Operation | Key |
//! |---|----------------|-----------|-----|
//! | A93 | Write a record with the change it describes (never overwritten) | one more `Put` if `attribute_not_exists(PK)` in the change's `TransactWriteItems` (a single write becomes a transaction of two), or alone for a change outside the table | `AUDIT#{yyyy-mm-dd}` / `{at, µs}#{aud}` |
//! | A94 | Records of a day, newest first (the admins' search by time, actor and action) | `Query` `SK <= :below`, backwards | `AUDIT#{yyyy-mm-dd}` |
//! | A95 | Records about an organisation (its users' view; staff filtering by customer) | `Query GSI1` backwards | `GSI1PK = AUDITORG#{org}`, `GSI1SK = {at}#{aud}` |
//! | A96 | Records about an object | `Query GSI2` backwards | `GSI2PK = AUDITOBJ#{kind}:{id}`, `GSI2SK = {at}#{aud}` |
//! | A97 | Archive a day older than the retention: its records, then their removal | `Query` + `BatchWriteItem` deletes (≤ 25) | `AUDIT#{yyyy-mm-dd}`; the oldest day kept: `AUDIT` / `ARCHIVED` |
//!
//! Day partitions keep every partition's writes far below 1,000 per second at any rate of
//! human and CRM actions, and let the archive take whole days.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnConsumedCapacity, TransactWriteItem, Update, WriteRequest,
};
use chrono::NaiveDate;
use kopek_domain::audit::{AuditRecord, ObjectRef};
use kopek_domain::ids::OrgId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Item, QuerySpec, SkRange, Store, StoreError, capacity, from_item, keys, put_request, to_item,
};
use crate::audit::{self, Claim};

#[derive(Debug, Serialize, Deserialize)]
struct AuditItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    record: AuditRecord,
}

impl AuditItem {
    fn new(record: AuditRecord) -> Self {
        let sk = keys::audit_sk(record.at, &record.id);
        let org = record.on_behalf_of.map(|o| keys::audit_org(&o));
        let object = record.object.as_ref().map(keys::audit_object);
        Self {
            pk: keys::audit_day(record.at.date_naive()),
            gsi1sk: org.as_ref().map(|_| sk.clone()),
            gsi2sk: object.as_ref().map(|_| sk.clone()),
            sk,
            gsi1pk: org,
            gsi2pk: object,
            kind: "audit".into(),
            record,
        }
    }
}

/// Where a search reads.
#[derive(Debug, Clone, Copy)]
pub enum AuditIndex<'a> {
    Day(NaiveDate),
    Org(OrgId),
    Object(&'a ObjectRef),
}

/// One read of a search: records newest first, and where to go on if the partition may
/// hold more (the sort key to read below).
#[derive(Debug)]
pub struct AuditPage {
    pub records: Vec<(String, AuditRecord)>,
    pub more_below: Option<String>,
}

/// The kinds of item that accompany a change rather than being its object.
const SECONDARY: &[&str] = &[
    "event",
    "email",
    "external_ref",
    "ledger_entry",
    "feed_event",
    "audit",
];

/// One action of a write, as the record sees it.
struct Touched {
    key: (String, String),
    kind: Option<String>,
    /// The item put, or the values an update sets (top-level attributes); none for a delete.
    after: Option<Value>,
    replaces: bool,
    /// A put that creates its item (`attribute_not_exists`).
    creates: bool,
    deletes: bool,
}

fn json_of(item: &Item) -> Option<Value> {
    serde_dynamo::from_item::<_, Value>(item.clone()).ok()
}

fn key_of(item: &Item) -> (String, String) {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    (text("PK"), text("SK"))
}

/// The attributes an update expression's `SET` clause gives plain values to.
fn set_values(update: &Update) -> Value {
    let mut out = serde_json::Map::new();
    let expression = update.update_expression();
    let names = update.expression_attribute_names();
    let values = update.expression_attribute_values();
    let Some(start) = expression.find("SET ") else {
        return Value::Object(out);
    };
    let rest = &expression[start + 4..];
    let end = [" REMOVE ", " ADD ", " DELETE "]
        .iter()
        .filter_map(|k| rest.find(k))
        .min()
        .unwrap_or(rest.len());
    for clause in rest[..end].split(',') {
        let Some((lhs, rhs)) = clause.split_once('=') else {
            continue;
        };
        let (lhs, rhs) = (lhs.trim(), rhs.trim());
        if !rhs.starts_with(':') || rhs.contains(' ') || lhs.contains('.') {
            continue;
        }
        let name = match lhs.strip_prefix('#') {
            Some(_) => names.and_then(|n| n.get(lhs)).cloned(),
            None => Some(lhs.to_owned()),
        };
        let value = values
            .and_then(|v| v.get(rhs))
            .and_then(|v| serde_dynamo::from_attribute_value::<_, Value>(v.clone()).ok());
        if let (Some(name), Some(value)) = (name, value) {
            out.insert(name, value);
        }
    }
    Value::Object(out)
}

fn touched(action: &TransactWriteItem) -> Option<Touched> {
    if let Some(put) = action.put() {
        let after = json_of(put.item());
        return Some(Touched {
            key: key_of(put.item()),
            kind: after
                .as_ref()
                .and_then(|v| v["type"].as_str())
                .map(str::to_owned),
            after,
            replaces: true,
            creates: put
                .condition_expression()
                .is_some_and(|c| c.contains("attribute_not_exists")),
            deletes: false,
        });
    }
    if let Some(update) = action.update() {
        let after = set_values(update);
        return Some(Touched {
            key: key_of(update.key()),
            kind: after["type"].as_str().map(str::to_owned),
            after: Some(after),
            replaces: false,
            creates: false,
            deletes: false,
        });
    }
    action.delete().map(|delete| Touched {
        key: key_of(delete.key()),
        kind: None,
        after: None,
        replaces: true,
        creates: false,
        deletes: true,
    })
}

/// The object's id as its state or key says it: an `id` (or `code`) at the top or one level
/// down, else the key's last part.
fn id_of(state: Option<&Value>, key: &(String, String)) -> String {
    let found = state.and_then(|state| {
        let direct = |v: &Value| {
            v.get("id")
                .or_else(|| v.get("code"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        direct(state).or_else(|| state.as_object()?.values().find_map(direct))
    });
    found.unwrap_or_else(|| {
        let (pk, sk) = key;
        match sk.rsplit_once('#') {
            Some((_, id)) => id.to_owned(),
            None => pk
                .split_once('#')
                .map_or(pk.as_str(), |(_, id)| id)
                .to_owned(),
        }
    })
}

/// The organisation an item belongs to: its partition `ORG#{org}`, or an `org` / `org_id`
/// at the top or one level down.
fn org_of(state: Option<&Value>, key: &(String, String)) -> Option<OrgId> {
    if let Some(org) = key.0.strip_prefix("ORG#").and_then(|o| o.parse().ok()) {
        return Some(org);
    }
    let state = state?;
    let direct = |v: &Value| {
        v.get("org")
            .or_else(|| v.get("org_id"))
            .and_then(Value::as_str)
            .and_then(|o| o.parse::<OrgId>().ok())
    };
    direct(state).or_else(|| state.as_object()?.values().find_map(direct))
}

/// The record `claim` describes, of the write of `actions` (none: a change outside the table).
fn record_of(claim: Claim, actions: &[TransactWriteItem]) -> AuditRecord {
    let touched: Vec<Touched> = actions.iter().filter_map(touched).collect();
    let read_before = |key: &(String, String)| {
        claim
            .reads
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    // The object: what the action creates; else what it changes (or, failing that, removes)
    // after reading it; else the first item that is no guard or event.
    let primary_kind = |t: &&Touched| t.kind.as_deref().is_none_or(|k| !SECONDARY.contains(&k));
    let primary = touched
        .iter()
        .find(|t| t.creates && primary_kind(t))
        .or_else(|| {
            touched
                .iter()
                .find(|t| !t.deletes && read_before(&t.key).is_some())
        })
        .or_else(|| touched.iter().find(|t| read_before(&t.key).is_some()))
        .or_else(|| touched.iter().find(primary_kind))
        .or_else(|| touched.first());
    let (before, mut after, key) = match primary {
        Some(t) => {
            let before = read_before(&t.key);
            let after = match (&t.after, t.replaces, &before) {
                (Some(set), false, Some(Value::Object(old))) => {
                    let mut merged = old.clone();
                    if let Value::Object(set) = set {
                        merged.extend(set.clone());
                    }
                    Some(Value::Object(merged))
                }
                (after, _, _) => after.clone(),
            };
            (before, after, Some(t.key.clone()))
        }
        None => (None, None, None),
    };
    if !claim.notes.is_empty() {
        let mut merged = match after.take() {
            Some(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        merged.extend(claim.notes.clone());
        after = Some(Value::Object(merged));
    }
    let state = after.as_ref().or(before.as_ref());
    let object = claim.object.clone().or_else(|| {
        let key = key.as_ref()?;
        let kind = primary
            .and_then(|t| t.kind.clone())
            .or_else(|| state.and_then(|s| s["type"].as_str()).map(str::to_owned))
            .unwrap_or_else(|| "item".to_owned());
        Some(ObjectRef::new(kind, id_of(state, key)))
    });
    let on_behalf_of = claim
        .on_behalf_of
        .or_else(|| key.as_ref().and_then(|k| org_of(state, k)));
    let mut record = AuditRecord::new(
        &claim.context,
        claim.at,
        object,
        on_behalf_of,
        before.as_ref(),
        after.as_ref(),
    );
    record.id = claim.id;
    record
}

fn record_put(store: &Store, record: AuditRecord) -> Result<Put, StoreError> {
    Put::builder()
        .table_name(store.table())
        .set_item(Some(to_item(&AuditItem::new(record))?))
        .condition_expression("attribute_not_exists(PK)")
        .build()
        .map_err(|e| StoreError::Unexpected(e.to_string()))
}

impl Store {
    /// A93: the record to send with `actions`, if the current scope waits for one. The caller
    /// must [`audit::settle`] after sending.
    pub(crate) fn audit_action(
        &self,
        actions: &[TransactWriteItem],
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        let Some(claim) = audit::claim() else {
            return Ok(None);
        };
        match record_put(self, record_of(claim, actions)) {
            Ok(put) => Ok(Some(TransactWriteItem::builder().put(put).build())),
            Err(e) => {
                audit::settle(false);
                Err(e)
            }
        }
    }

    /// A93: the record, as one more request of a `BatchWriteItem` of `requests`.
    pub(crate) fn audit_request(
        &self,
        requests: &[WriteRequest],
    ) -> Result<Option<WriteRequest>, StoreError> {
        let Some(claim) = audit::claim() else {
            return Ok(None);
        };
        let actions: Vec<TransactWriteItem> = requests
            .iter()
            .filter_map(|r| {
                if let Some(put) = r.put_request() {
                    let put = Put::builder()
                        .table_name(self.table())
                        .set_item(Some(put.item().clone()))
                        .build()
                        .ok()?;
                    return Some(TransactWriteItem::builder().put(put).build());
                }
                let delete = aws_sdk_dynamodb::types::Delete::builder()
                    .table_name(self.table())
                    .set_key(Some(r.delete_request()?.key().clone()))
                    .build()
                    .ok()?;
                Some(TransactWriteItem::builder().delete(delete).build())
            })
            .collect();
        let item = to_item(&AuditItem::new(record_of(claim, &actions)));
        match item.and_then(put_request) {
            Ok(request) => Ok(Some(request)),
            Err(e) => {
                audit::settle(false);
                Err(e)
            }
        }
    }

    /// A93: writes the current scope's record on its own, for a change outside the table
    /// (usage handed to SQS, work queued) or an action that changed nothing but succeeded;
    /// nothing if the scope has written it or there is none.
    pub async fn audit_now(&self) -> Result<(), StoreError> {
        let Some(claim) = audit::claim() else {
            return Ok(());
        };
        let result = async {
            let put = record_put(self, record_of(claim, &[]))?;
            let item = put.item().clone();
            let units = capacity::write(capacity::item_size(&item), false);
            let write = self.before_write()?;
            let out = self
                .client()
                .put_item()
                .table_name(self.table())
                .set_item(Some(item))
                .set_condition_expression(put.condition_expression().map(str::to_owned))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            self.record_computed(out.consumed_capacity(), units);
            self.after_write(write)
        }
        .await;
        audit::settle_alone(result.is_ok());
        result
    }

    /// A94–A96: records of one partition, newest first, with sort keys below `below` and
    /// not before `from` (both sort keys, `{at}#{aud}`), at most `limit` read.
    pub async fn audit_page(
        &self,
        index: AuditIndex<'_>,
        below: &str,
        from: &str,
        limit: i32,
    ) -> Result<AuditPage, StoreError> {
        let (name, pk) = match index {
            AuditIndex::Day(day) => (None, keys::audit_day(day)),
            AuditIndex::Org(org) => (Some(keys::GSI1), keys::audit_org(&org)),
            AuditIndex::Object(object) => (Some(keys::GSI2), keys::audit_object(object)),
        };
        let q = QuerySpec {
            index: name,
            pk: &pk,
            sk_prefix: None,
            limit: limit.saturating_add(1),
            forward: false,
        };
        let range = SkRange {
            after: None,
            up_to: Some(below),
        };
        let page = self.query_range::<AuditItem>(q, range, None).await?;
        let mut records = Vec::new();
        let mut reached_from = false;
        for item in page.items {
            if item.sk.as_str() >= below {
                continue;
            }
            if item.sk.as_str() < from {
                reached_from = true;
                break;
            }
            if records.len() == usize::try_from(limit).unwrap_or(0) {
                break;
            }
            records.push((item.sk, item.record));
        }
        let full = records.len() == usize::try_from(limit).unwrap_or(0);
        let more_below = if reached_from || (!full && page.next.is_none()) {
            None
        } else {
            records.last().map(|(sk, _)| sk.clone())
        };
        Ok(AuditPage {
            records,
            more_below,
        })
    }

    /// A97: the oldest day whose records are still in the table, as far as archiving knows.
    pub async fn audit_archived_through(&self) -> Result<Option<NaiveDate>, StoreError> {
        #[derive(Deserialize)]
        struct Marker {
            through: NaiveDate,
        }
        Ok(self
            .get::<Marker>(keys::AUDIT_MARKER, keys::AUDIT_ARCHIVED_SK, true)
            .await?
            .map(|m| m.through))
    }

    /// A97: every record of `day`, oldest first.
    pub async fn audit_day(&self, day: NaiveDate) -> Result<Vec<AuditRecord>, StoreError> {
        let items: Vec<AuditItem> = self.query_all_at(None, &keys::audit_day(day), None).await?;
        Ok(items.into_iter().map(|i| i.record).collect())
    }

    /// A97: removes `day`'s records (archived).
    pub async fn audit_remove_day(
        &self,
        day: NaiveDate,
        records: &[AuditRecord],
    ) -> Result<(), StoreError> {
        let pk = keys::audit_day(day);
        let deletes = records
            .iter()
            .map(|r| {
                aws_sdk_dynamodb::types::DeleteRequest::builder()
                    .set_key(Some(super::key(&pk, &keys::audit_sk(r.at, &r.id))))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(|e| StoreError::Unexpected(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if deletes.is_empty() {
            return Ok(());
        }
        self.batch_write(deletes).await
    }

    /// A97: notes every day through `day` as archived.
    pub async fn audit_mark_archived(&self, day: NaiveDate) -> Result<(), StoreError> {
        let marker: Item = HashMap::from([
            (
                "PK".to_owned(),
                AttributeValue::S(keys::AUDIT_MARKER.into()),
            ),
            (
                "SK".to_owned(),
                AttributeValue::S(keys::AUDIT_ARCHIVED_SK.into()),
            ),
            ("type".to_owned(), AttributeValue::S("audit_archive".into())),
            ("through".to_owned(), AttributeValue::S(day.to_string())),
        ]);
        self.batch_write(vec![put_request(marker)?]).await
    }
}

/// An audit item as its record (for tests that read the table directly).
pub fn record_of_item(item: Item) -> Result<AuditRecord, StoreError> {
    from_item::<AuditItem>(item).map(|i| i.record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kopek_domain::audit::{Actor, Context};
    use kopek_domain::ids::AuditId;
    use serde_json::json;

    fn claim(reads: Vec<((String, String), Value)>) -> Claim {
        Claim {
            context: Context {
                actor: Actor::system("tests"),
                action: "POST /v1/things".into(),
                request_id: None,
                client: None,
            },
            id: AuditId::new(),
            at: chrono::Utc::now(),
            object: None,
            on_behalf_of: None,
            notes: serde_json::Map::new(),
            reads,
        }
    }

    fn put(item: Value) -> TransactWriteItem {
        let item: Item = serde_dynamo::to_item(item).unwrap();
        let put = Put::builder()
            .table_name("t")
            .set_item(Some(item))
            .build()
            .unwrap();
        TransactWriteItem::builder().put(put).build()
    }

    #[test]
    fn the_object_is_the_item_read_before_it_is_written_and_the_change_its_difference() {
        let org = OrgId::new();
        let pk = format!("ORG#{org}");
        let before = json!({"PK": pk, "SK": "SUB#sub_1", "type": "subscription", "rev": 1,
            "subscription": {"id": "sub_1", "quantity": "2"}});
        let after = json!({"PK": pk, "SK": "SUB#sub_1", "type": "subscription", "rev": 2,
            "subscription": {"id": "sub_1", "quantity": "3"}});
        let event = json!({"PK": pk, "SK": "HISTORY#x", "type": "event"});
        let key = (pk.clone(), "SUB#sub_1".to_owned());
        let record = record_of(claim(vec![(key, before)]), &[put(event), put(after)]);
        assert_eq!(record.object, Some(ObjectRef::new("subscription", "sub_1")));
        assert_eq!(record.on_behalf_of, Some(org));
        assert_eq!(record.changes.len(), 1);
        assert_eq!(record.changes[0].field, "subscription.quantity");
        assert_eq!(record.changes[0].before, Some(json!("2")));
        assert_eq!(record.changes[0].after, Some(json!("3")));
    }

    #[test]
    fn without_a_read_the_first_primary_item_is_the_object_and_guards_are_skipped() {
        let guard = json!({"PK": "EMAIL#a@b.ru", "SK": "EMAIL", "type": "email"});
        let user = json!({"PK": "USER#usr_1", "SK": "USER", "type": "user", "email": "a@b.ru",
            "password_hash": "x"});
        let record = record_of(claim(vec![]), &[put(guard), put(user)]);
        assert_eq!(record.object, Some(ObjectRef::new("user", "usr_1")));
        let shown: HashMap<_, _> = record
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.after.clone()))
            .collect();
        assert_eq!(shown["email"], Some(json!("a***@b.ru")));
        assert_eq!(shown["password_hash"], Some(json!("[secret]")));
    }

    #[test]
    fn what_an_action_creates_is_its_object_before_what_it_read_and_changed() {
        let org = OrgId::new();
        let pk = format!("ORG#{org}");
        let credit = json!({"PK": pk, "SK": "CREDIT", "type": "credit", "amount": "0.00"});
        let read = vec![((pk.clone(), "CREDIT".to_owned()), credit.clone())];
        let new_credit = json!({"PK": pk, "SK": "CREDIT", "type": "credit", "amount": "5.00"});
        let payment: Item = serde_dynamo::to_item(json!({"PK": pk, "SK": "PAYMENT#x",
            "type": "payment", "payment": {"id": "pay_1"}}))
        .unwrap();
        let created = Put::builder()
            .table_name("t")
            .set_item(Some(payment))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .unwrap();
        let record = record_of(
            claim(read),
            &[
                put(new_credit),
                TransactWriteItem::builder().put(created).build(),
            ],
        );
        assert_eq!(record.object, Some(ObjectRef::new("payment", "pay_1")));
        assert_eq!(record.on_behalf_of, Some(org));
    }

    #[test]
    fn an_update_shows_the_values_it_sets_over_what_was_read() {
        let key: Item = super::super::key("APIKEY#key_1", "APIKEY");
        let update = Update::builder()
            .table_name("t")
            .set_key(Some(key))
            .update_expression("SET #s = :s, revoked_at = :now ADD rev :one")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", AttributeValue::S("revoked".into()))
            .expression_attribute_values(":now", AttributeValue::S("2026-12-07".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .unwrap();
        let before = json!({"type": "api_key", "status": "active", "name": "CRM"});
        let record = record_of(
            claim(vec![(("APIKEY#key_1".into(), "APIKEY".into()), before)]),
            &[TransactWriteItem::builder().update(update).build()],
        );
        assert_eq!(record.object, Some(ObjectRef::new("api_key", "key_1")));
        let fields: Vec<&str> = record.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["revoked_at", "status"]);
    }
}
