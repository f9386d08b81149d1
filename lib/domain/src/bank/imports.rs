//! A statement's import: what the file held ([`StatementImport`], made at upload by
//! [`StatementImport::of`]) and what became of each payment on it ([`ImportLine`]). The
//! import report is these two read together ([`Report`]).
//!
//! # Rules
//!
//! - Every line of the file is counted once, as a *payment* (money received on one of the
//!   provider's own accounts: [`super::matching::direction`]), a *debit* (sent from one) or
//!   *other* (neither, or between own accounts). Debits and others are tallied and skipped;
//!   payments are queued in chunks of [`CHUNK`] and each gets an [`ImportLine`] with its
//!   outcome: recorded, to review, or a duplicate.
//! - **Nothing twice**: a payment is known by its [`fingerprint`] — the bank document's
//!   number, its date, the payer's account and the amount. The first line with a fingerprint
//!   claims it; the same payment in a later import (the same file again, or an overlapping
//!   statement) is a duplicate naming the import and line that claimed it. A payment
//!   recorded by hand is recognised by [`recorded_by_hand`]: the same customer, amount and
//!   day, and a reference that contains the bank document's number.
//! - Every statement account's balances are checked (opening + credited − debited =
//!   closing); a mismatch is reported with the import, the lines are still read.
//! - Tallies are per currency: amounts of two currencies are never added up.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::matching::{Candidate, Direction, account_key, direction};
use super::{Party, Statement, StatementFormat, StatementLine};
use crate::ids::{ImportId, InvoiceId, OrgId, PaymentId};
use crate::invoicing::InvoiceNumber;
use crate::money::{Currency, Money};
use crate::orders::UserOrKey;
use crate::payments::Payment;

/// Payments handled per queued chunk: about 6 requests each keeps a chunk well inside a
/// function's time.
pub const CHUNK: usize = 50;

/// How many lines and how much, in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tally {
    pub currency: Currency,
    pub count: usize,
    pub total: Decimal,
}

/// Adds `amount` to the tally of its currency.
fn count(tallies: &mut Vec<Tally>, amount: Money) {
    match tallies.iter_mut().find(|t| t.currency == amount.currency()) {
        Some(t) => {
            t.count += 1;
            t.total += amount.amount();
        }
        None => tallies.push(Tally {
            currency: amount.currency(),
            count: 1,
            total: amount.amount(),
        }),
    }
}

/// One account's balances as stated, and whether they add up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceCheck {
    pub account: String,
    pub currency: Currency,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub opening: Decimal,
    pub credited: Decimal,
    pub debited: Decimal,
    pub closing: Decimal,
    /// opening + credited − debited = closing.
    pub adds_up: bool,
    /// Whether it is one of the provider's own accounts.
    pub own: bool,
}

/// A statement file as uploaded and counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementImport {
    pub id: ImportId,
    pub file_name: String,
    /// SHA-256 of the file's bytes, as stored.
    pub sha256: String,
    pub bytes: usize,
    pub format: StatementFormat,
    pub uploaded_by: UserOrKey,
    pub uploaded_at: DateTime<Utc>,
    /// Lines (payment documents or entries) in the file.
    pub lines_read: usize,
    /// Money received on own accounts: each handled and reported line by line.
    pub payments: Vec<Tally>,
    /// Money sent from own accounts: counted, skipped.
    pub debits: Vec<Tally>,
    /// Neither (another account, or between own accounts): counted, skipped.
    pub other: Vec<Tally>,
    pub balances: Vec<BalanceCheck>,
    /// Queued chunks of payments.
    pub chunks: usize,
}

impl StatementImport {
    /// Counts `statement` (uploaded as `file_name`, `sha256`, `bytes` long) against the
    /// provider's `own` accounts; `currency` is what a format that names none is in.
    #[allow(clippy::too_many_arguments)]
    pub fn of(
        id: ImportId,
        file_name: String,
        sha256: String,
        bytes: usize,
        statement: &Statement,
        own: &[String],
        currency: Currency,
        uploaded_by: UserOrKey,
        uploaded_at: DateTime<Utc>,
    ) -> Self {
        let (mut payments, mut debits, mut other) = (Vec::new(), Vec::new(), Vec::new());
        for line in &statement.lines {
            let amount = Money::new(line.amount, line.currency.unwrap_or(currency));
            match direction(line, own) {
                Direction::Credit => count(&mut payments, amount),
                Direction::Debit => count(&mut debits, amount),
                Direction::Other => count(&mut other, amount),
            }
        }
        let balances = statement
            .balances
            .iter()
            .map(|b| BalanceCheck {
                account: b.account.clone(),
                currency: b.currency.unwrap_or(currency),
                from: b.from,
                to: b.to,
                opening: b.opening,
                credited: b.credited,
                debited: b.debited,
                closing: b.closing,
                adds_up: b.add_up(),
                own: own
                    .iter()
                    .any(|o| account_key(o) == account_key(&b.account)),
            })
            .collect();
        let count: usize = payments.iter().map(|t: &Tally| t.count).sum();
        Self {
            id,
            file_name,
            sha256,
            bytes,
            format: statement.format,
            uploaded_by,
            uploaded_at,
            lines_read: statement.lines.len(),
            payments,
            debits,
            other,
            balances,
            chunks: count.div_ceil(CHUNK),
        }
    }

    /// The payments of chunk `chunk` (0-based): the statement's lines that are payments, in
    /// file order, `CHUNK` at a time.
    pub fn chunk<'s>(
        statement: &'s Statement,
        own: &[String],
        chunk: usize,
    ) -> impl Iterator<Item = &'s StatementLine> {
        statement
            .lines
            .iter()
            .filter(move |l| direction(l, own) == Direction::Credit)
            .skip(chunk.saturating_mul(CHUNK))
            .take(CHUNK)
    }
}

/// What identifies a payment across statements (see the module docs), as hex SHA-256.
pub fn fingerprint(line: &StatementLine) -> String {
    let text = format!(
        "{}|{}|{}|{}",
        line.number.trim(),
        line.date,
        account_key(&line.payer.account),
        line.amount.normalize()
    );
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// The reference a payment read from `line` is recorded under: the bank document's number
/// and date, as accountants write it (`п/п 512 от 20.11.2026`).
pub fn reference_of(line: &StatementLine) -> String {
    let number: String = line.number.trim().chars().take(40).collect();
    format!("п/п {number} от {}", line.date.format("%d.%m.%Y"))
}

/// The day the money arrived: the day the bank says it was received, else the document's.
pub fn received_on(line: &StatementLine) -> NaiveDate {
    line.received_on.unwrap_or(line.date)
}

/// The customer's payment recorded by hand that `line` is, if any (see the module docs).
pub fn recorded_by_hand<'p>(line: &StatementLine, payments: &'p [Payment]) -> Option<&'p Payment> {
    let number = line.number.trim();
    let has_number = |reference: &str| {
        !number.is_empty()
            && reference
                .split(|c: char| !c.is_alphanumeric())
                .any(|token| token == number)
    };
    payments.iter().find(|p| {
        p.source.is_none()
            && p.amount.amount() == line.amount
            && (p.received_on == received_on(line) || p.received_on == line.date)
            && has_number(p.reference.as_str())
    })
}

/// A line of an import: the payment as the statement states it, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportLine {
    pub import: ImportId,
    /// The file's line where it starts.
    pub line: usize,
    pub number: String,
    pub date: NaiveDate,
    pub received_on: NaiveDate,
    pub amount: Money,
    pub payer: Party,
    pub purpose: String,
    pub outcome: Outcome,
}

impl ImportLine {
    /// `line` of `import`, in `currency` where the format names none, with `outcome`.
    pub fn of(
        import: ImportId,
        line: &StatementLine,
        currency: Currency,
        outcome: Outcome,
    ) -> Self {
        Self {
            import,
            line: line.line,
            number: line.number.clone(),
            date: line.date,
            received_on: received_on(line),
            amount: Money::new(line.amount, line.currency.unwrap_or(currency)),
            payer: line.payer.clone(),
            purpose: line.purpose.clone(),
            outcome,
        }
    }

    /// Whether it waits for an accountant.
    pub fn in_review(&self) -> bool {
        matches!(self.outcome, Outcome::Review { .. })
    }
}

/// A customer a line under review may be from, with the invoices it would pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewCandidate {
    #[serde(flatten)]
    pub customer: Candidate,
    /// The customer's open invoices, oldest first: what the payment could settle.
    pub open_invoices: Vec<(InvoiceId, InvoiceNumber, Money)>,
}

/// What became of a payment on a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    /// Recorded as a payment of `org`.
    Recorded {
        org: OrgId,
        payment: PaymentId,
        reason: String,
        /// Who decided: the matching (`None`) or an accountant after review.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resolved_by: Option<UserOrKey>,
    },
    /// Waiting for an accountant: why, and the customers it may be from.
    Review {
        reason: String,
        candidates: Vec<ReviewCandidate>,
    },
    /// The same payment was read or recorded before.
    Duplicate {
        reason: String,
        /// The payment it is, where recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment: Option<PaymentId>,
    },
    /// An accountant decided it is no payment of a customer (money returned to us, a
    /// transfer of our own): left out, with why.
    Dismissed { reason: String, by: UserOrKey },
}

/// An import's report: the file's counts and every payment's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub import: StatementImport,
    pub lines: Vec<ImportLine>,
}

impl Report {
    /// Whether every payment of the file has its outcome.
    pub fn is_complete(&self) -> bool {
        self.lines.len() >= self.import.payments.iter().map(|t| t.count).sum()
    }

    /// The tallies of the lines by outcome (`recorded`, `review`, `duplicate`, `dismissed`).
    pub fn by_outcome(&self) -> BTreeMap<&'static str, Vec<Tally>> {
        let mut tallies: BTreeMap<&'static str, Vec<Tally>> = BTreeMap::new();
        for line in &self.lines {
            let key = match line.outcome {
                Outcome::Recorded { .. } => "recorded",
                Outcome::Review { .. } => "review",
                Outcome::Duplicate { .. } => "duplicate",
                Outcome::Dismissed { .. } => "dismissed",
            };
            count(tallies.entry(key).or_default(), line.amount);
        }
        tallies
    }
}

#[cfg(test)]
mod tests;
