//! Gapless numbering of one document at a time: the way credit notes get their numbers (the
//! close numbers invoices in blocks by the same rule, `close/block.rs`).
//!
//! A document's number is `n = last + 1` of its sequence (series, kind, year; the store's
//! A54), and the document is written in the same transaction that moves the sequence from
//! `n − 1` to `n` (A55, A58). Two writers that read the same `last` cannot both succeed: the
//! loser is told the number was taken, reads the sequence again and tries the next. So a
//! number is used exactly when its document exists — no gap, no repeat — however many workers
//! number at once.
//!
//! [`Numbering`] is that loop for any document: each turn offers the next number (read from
//! the sequence now), the caller composes and writes its document with it, and reports a lost
//! race ([`Numbering::taken`]) or a change of what it read ([`Numbering::changed`]); each is
//! counted in the services' [`Contention`], and the attempts are bounded. It reads the
//! sequence through [`Sequences`], so the retry rule is unit-tested here without the emulator.

use std::future::Future;

use kopek_aws::dynamo::{Store, StoreError};
use kopek_domain::invoicing::{DocumentKind, InvoiceNumber, InvoiceSeries, InvoicingError};

use crate::Contention;

/// Where the last number of a sequence is read.
pub trait Sequences {
    /// The last number used in a sequence (0 before the first).
    fn last(
        &self,
        series: &InvoiceSeries,
        kind: DocumentKind,
        year: i32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl Sequences for Store {
    fn last(
        &self,
        series: &InvoiceSeries,
        kind: DocumentKind,
        year: i32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.sequence_last(series, kind, year)
    }
}

/// The numbering of one document in one sequence: each [`Numbering::next`] reads the
/// sequence and offers its next number, until the document is written or the attempts run
/// out; the caller reports each failed attempt ([`Numbering::taken`], [`Numbering::changed`]).
pub struct Numbering<'a, S> {
    sequences: &'a S,
    contention: &'a Contention,
    series: InvoiceSeries,
    kind: DocumentKind,
    year: i32,
    attempts_left: usize,
}

impl<'a, S: Sequences + Sync> Numbering<'a, S> {
    /// Numbering in `series`, `kind` and `year`, at most `attempts` times.
    pub fn new(
        sequences: &'a S,
        contention: &'a Contention,
        series: InvoiceSeries,
        kind: DocumentKind,
        year: i32,
        attempts: usize,
    ) -> Self {
        Self {
            sequences,
            contention,
            series,
            kind,
            year,
            attempts_left: attempts,
        }
    }

    /// The number to try now (the sequence's last, read now, plus one); `None` when every
    /// attempt was used: the caller answers "busy, retry later".
    pub async fn next<E>(&mut self) -> Result<Option<InvoiceNumber>, E>
    where
        E: From<StoreError> + From<InvoicingError>,
    {
        if self.attempts_left == 0 {
            return Ok(None);
        }
        self.attempts_left -= 1;
        let last = self
            .sequences
            .last(&self.series, self.kind, self.year)
            .await?;
        Ok(Some(InvoiceNumber::new(
            self.series.clone(),
            self.kind,
            self.year,
            last + 1,
        )?))
    }

    /// Another document took the number just tried: the next call offers the next one.
    pub fn taken(&self, number: &InvoiceNumber) {
        tracing::debug!(%number, "number taken by another document; taking the next");
        self.contention.number_lost();
    }

    /// Something the document was composed from changed before it was written (the caller
    /// read it again): the next call offers a number for the document composed again.
    pub fn changed(&self) {
        self.contention.changed_meanwhile();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// One sequence in memory; `rival` numbers a document of its own the first time the
    /// sequence is read, as a concurrent worker would between a read and a write.
    #[derive(Default)]
    struct Memory {
        last: Mutex<u64>,
        rival: Mutex<bool>,
    }

    impl Sequences for Memory {
        fn last(
            &self,
            _: &InvoiceSeries,
            _: DocumentKind,
            _: i32,
        ) -> impl Future<Output = Result<u64, StoreError>> + Send {
            let last = *self.last.lock().unwrap();
            let mut rival = self.rival.lock().unwrap();
            if *rival {
                *rival = false;
                *self.last.lock().unwrap() += 1;
            }
            std::future::ready(Ok(last))
        }
    }

    impl Memory {
        /// The conditional write: `n` only if the sequence is at `n − 1`.
        fn take(&self, n: u64) -> bool {
            let mut last = self.last.lock().unwrap();
            if *last + 1 == n {
                *last = n;
                true
            } else {
                false
            }
        }
    }

    fn series() -> InvoiceSeries {
        InvoiceSeries::new("KPK").unwrap()
    }

    #[tokio::test]
    async fn a_number_lost_to_another_writer_is_counted_and_the_next_one_taken() {
        let memory = Memory {
            rival: Mutex::new(true),
            ..Memory::default()
        };
        let contention = Contention::default();
        let mut numbering = Numbering::new(
            &memory,
            &contention,
            series(),
            DocumentKind::Invoice,
            2026,
            5,
        );
        let mut tried = Vec::new();
        let issued = loop {
            let Some(number) = numbering.next::<crate::Error>().await.unwrap() else {
                break None;
            };
            tried.push(number.seq);
            if memory.take(number.seq) {
                break Some(number.to_string());
            }
            numbering.taken(&number);
        };
        // The rival took 1 between our read and our write; we took 2, nothing was skipped.
        assert_eq!(tried, [1, 2]);
        assert_eq!(issued.as_deref(), Some("KPK-2026-000002"));
        assert_eq!(*memory.last.lock().unwrap(), 2);
        assert_eq!(contention.snapshot().numbers_lost, 1);
    }

    #[tokio::test]
    async fn numbering_gives_up_after_its_attempts_and_counts_each_change() {
        let memory = Memory::default();
        let contention = Contention::default();
        let mut numbering = Numbering::new(
            &memory,
            &contention,
            series(),
            DocumentKind::CreditNote,
            2026,
            3,
        );
        let mut offered = Vec::new();
        while let Some(number) = numbering.next::<crate::Error>().await.unwrap() {
            // Every attempt finds its document changed: nothing is written.
            offered.push(number.seq);
            numbering.changed();
        }
        assert_eq!(
            offered,
            [1, 1, 1],
            "nothing written, so the same number each time"
        );
        assert_eq!(
            contention.snapshot(),
            crate::ContentionSnapshot {
                changed_meanwhile: 3,
                ..Default::default()
            }
        );
        assert_eq!(*memory.last.lock().unwrap(), 0);
    }
}
