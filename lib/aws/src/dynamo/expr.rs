//! Helpers that build DynamoDB writes: conditions, conditional puts, an `UpdateItem` builder
//! ([`Change`]) that serves both alone and inside a transaction, attribute values, and the
//! reading of a cancelled transaction's reasons. Every module of the store writes through
//! these, so a condition is spelled one way and every write counts its capacity.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, Put, TransactWriteItem, Update};
use serde::Serialize;

use super::{Item, Store, StoreError, TxError, capacity, key};

/// The item does not exist yet (a put that creates).
pub(crate) const ABSENT: &str = "attribute_not_exists(PK)";
/// The item exists (an update that must not create).
pub(crate) const EXISTS: &str = "attribute_exists(PK)";
/// The item is still at the revision read (`:rev`).
pub(crate) const SAME_REV: &str = "rev = :rev";

/// A conditional put, as one action of a transaction.
pub(crate) fn put(
    store: &Store,
    item: Item,
    condition: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    conditional_put(store, item, condition, HashMap::new())
}

/// A put with a condition that uses values (`:name`), as one action of a transaction.
pub(crate) fn conditional_put(
    store: &Store,
    item: Item,
    condition: Option<&str>,
    values: HashMap<String, AttributeValue>,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(store.table())
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_values((!values.is_empty()).then_some(values))
        .build()
        .map_err(|e| StoreError::Unexpected(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A put of `item` (carrying `rev + 1`) if the stored one is still at `rev` — or, when `rev`
/// is 0, absent — as one action of a transaction.
pub(crate) fn put_over_rev(
    store: &Store,
    item: Item,
    rev: u64,
) -> Result<TransactWriteItem, StoreError> {
    if rev == 0 {
        put(store, item, Some(ABSENT))
    } else {
        conditional_put(
            store,
            item,
            Some(SAME_REV),
            HashMap::from([(":rev".to_owned(), AttributeValue::N(rev.to_string()))]),
        )
    }
}

/// A delete of the item at `pk`/`sk` if `condition` (with `values`) holds, as one action of a
/// transaction.
pub(crate) fn delete(
    store: &Store,
    (pk, sk): (&str, &str),
    condition: Option<&str>,
    values: HashMap<String, AttributeValue>,
) -> Result<TransactWriteItem, StoreError> {
    let delete = aws_sdk_dynamodb::types::Delete::builder()
        .table_name(store.table())
        .set_key(Some(key(pk, sk)))
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_values((!values.is_empty()).then_some(values))
        .build()
        .map_err(|e| StoreError::Unexpected(e.to_string()))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// An `UpdateItem` of one item: sent alone, or as one action of a transaction.
#[derive(Debug)]
pub(crate) struct Change {
    pk: String,
    sk: String,
    set: Vec<String>,
    remove: Vec<String>,
    add: Vec<String>,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Change {
    pub(crate) fn new(pk: String, sk: &str) -> Self {
        Self {
            pk,
            sk: sk.to_owned(),
            set: Vec::new(),
            remove: Vec::new(),
            add: Vec::new(),
            condition: None,
            names: HashMap::new(),
            values: HashMap::new(),
        }
    }

    pub(crate) fn set(mut self, clause: &str) -> Self {
        self.set.push(clause.to_owned());
        self
    }

    pub(crate) fn remove(mut self, path: &str) -> Self {
        self.remove.push(path.to_owned());
        self
    }

    pub(crate) fn add(mut self, clause: &str) -> Self {
        self.add.push(clause.to_owned());
        self
    }

    pub(crate) fn when(mut self, condition: &str) -> Self {
        self.condition = Some(condition.to_owned());
        self
    }

    /// `#alias` stands for the attribute `name` (reserved words: `status`, `type`, `last`,
    /// `error`, `number`).
    pub(crate) fn name(mut self, alias: &str, name: &str) -> Self {
        self.names.insert(alias.to_owned(), name.to_owned());
        self
    }

    pub(crate) fn value(mut self, alias: &str, value: AttributeValue) -> Self {
        self.values.insert(alias.to_owned(), value);
        self
    }

    pub(crate) fn expression(&self) -> String {
        [
            ("SET", &self.set),
            ("REMOVE", &self.remove),
            ("ADD", &self.add),
        ]
        .iter()
        .filter(|(_, clauses)| !clauses.is_empty())
        .map(|(word, clauses)| format!("{word} {}", clauses.join(", ")))
        .collect::<Vec<_>>()
        .join(" ")
    }

    pub(crate) fn action(self, store: &Store) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(store.table())
            .set_key(Some(key(&self.pk, &self.sk)))
            .update_expression(self.expression())
            .set_condition_expression(self.condition)
            .set_expression_attribute_names((!self.names.is_empty()).then_some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .build()
            .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Sends it alone (with the audit record, if one waits); `false` when its condition
    /// failed (nothing changed).
    pub(crate) async fn send(self, store: &Store) -> Result<bool, StoreError> {
        let action = self.action(store)?;
        store.write_one(action).await
    }
}

/// The result of one conditional write, its units recorded: `false` when its condition
/// failed (charged as the write would have been).
pub(crate) fn written<E, R>(
    store: &Store,
    result: Result<Option<ConsumedCapacity>, SdkError<E, R>>,
    units: capacity::Units,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(consumed) => {
            store.record_computed(consumed.as_ref(), units);
            Ok(true)
        }
        Err(err) => match StoreError::from_sdk(err) {
            StoreError::Conflict(_) => {
                store.record_computed(None, units);
                Ok(false)
            }
            other => Err(other),
        },
    }
}

/// A write whose condition held is done; one whose condition failed is a conflict meaning
/// `meaning` (what the condition guarded).
pub(crate) fn held(held: bool, meaning: &str) -> Result<(), StoreError> {
    if held {
        Ok(())
    } else {
        Err(StoreError::Conflict(meaning.to_owned()))
    }
}

pub(crate) fn attr<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value)
        .map_err(|e| StoreError::Unexpected(format!("cannot encode value: {e}")))
}

pub(crate) fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

pub(crate) fn n(number: i64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// The actions of a cancelled transaction whose own condition failed. A collision with
/// another transaction in flight is not one: it is transient (`into_store_error`).
pub(crate) fn failed_conditions(err: &TxError) -> Vec<usize> {
    match err {
        TxError::Cancelled(reasons) => reasons
            .iter()
            .enumerate()
            .filter(|(_, r)| r.as_deref() == Some("ConditionalCheckFailed"))
            .map(|(i, _)| i)
            .collect(),
        TxError::Other(_) => Vec::new(),
    }
}

impl Store {
    /// Puts `item` unless one with its key exists; `false` if one does.
    pub(crate) async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        self.put_when(item, Some(ABSENT)).await
    }

    /// Puts `item` (an aggregate's first revision); a conflict saying `exists()` when its
    /// key is taken.
    pub(crate) async fn put_first(
        &self,
        item: Item,
        exists: impl FnOnce() -> String,
    ) -> Result<(), StoreError> {
        if self.put_new(item).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(exists()))
        }
    }

    /// Puts `item`, replacing any with its key.
    pub(crate) async fn put_replacing(&self, item: Item) -> Result<(), StoreError> {
        self.put_when(item, None).await.map(|_| ())
    }

    async fn put_when(&self, item: Item, condition: Option<&str>) -> Result<bool, StoreError> {
        self.write_one(put(self, item, condition)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_expression_groups_its_clauses() {
        let change = Change::new("P".into(), "S")
            .set("a = :a")
            .add("n :one")
            .set("b = :b")
            .remove("c");
        assert_eq!(
            change.expression(),
            "SET a = :a, b = :b REMOVE c ADD n :one"
        );
    }
}
