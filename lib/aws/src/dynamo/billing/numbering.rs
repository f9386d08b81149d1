//! A54: gapless numbering. `SEQ#{series}#{INV|CN}#{year}` / `SEQ` holds `last`, the last
//! number used; a document takes number `n` by moving it from `n − 1` to `n` in the same
//! transaction that writes the document (A55, A58).

use aws_sdk_dynamodb::types::TransactWriteItem;
use kopek_domain::invoicing::{DocumentKind, InvoiceNumber, InvoiceSeries};
use serde::Deserialize;

use crate::dynamo::expr::{ABSENT, Change, n, s};
use crate::dynamo::{Store, StoreError, keys};

#[derive(Debug, Deserialize)]
struct SequenceItem {
    last: u64,
}

pub(super) fn expect_kind(number: &InvoiceNumber, kind: DocumentKind) -> Result<(), StoreError> {
    if number.kind != kind || number.seq == 0 {
        return Err(StoreError::Unexpected(format!(
            "{number} is not a {kind:?} number of a sequence"
        )));
    }
    Ok(())
}

/// The sequence moves from `n − 1` (nothing, for 1) to `n`.
pub(super) fn take_number(
    store: &Store,
    number: &InvoiceNumber,
) -> Result<TransactWriteItem, StoreError> {
    take_numbers(store, number, 1)
}

/// The sequence moves from `first − 1` (nothing, for 1) to `first + count − 1`: a block of
/// `count` numbers taken in one write.
pub(super) fn take_numbers(
    store: &Store,
    first: &InvoiceNumber,
    count: u64,
) -> Result<TransactWriteItem, StoreError> {
    let out_of_range = || StoreError::Unexpected(format!("{first}: sequence out of range"));
    if count == 0 {
        return Err(out_of_range());
    }
    let seq = i64::try_from(first.seq).map_err(|_| out_of_range())?;
    let last = seq
        .checked_add(i64::try_from(count).map_err(|_| out_of_range())? - 1)
        .ok_or_else(out_of_range)?;
    let change = Change::new(
        keys::sequence(&first.series, first.kind, first.year),
        keys::SEQUENCE_SK,
    )
    .set("#last = :n")
    .set("#t = :t")
    .name("#last", "last")
    .name("#t", "type")
    .value(":n", n(last))
    .value(":t", s("sequence"));
    let change = if seq == 1 {
        change.when(ABSENT)
    } else {
        change.when("#last = :prev").value(":prev", n(seq - 1))
    };
    change.action(store)
}

impl Store {
    /// A54: the last number used in a sequence (0 before the first).
    pub async fn sequence_last(
        &self,
        series: &InvoiceSeries,
        kind: DocumentKind,
        year: i32,
    ) -> Result<u64, StoreError> {
        Ok(self
            .get::<SequenceItem>(&keys::sequence(series, kind, year), keys::SEQUENCE_SK, true)
            .await?
            .map_or(0, |i| i.last))
    }
}
