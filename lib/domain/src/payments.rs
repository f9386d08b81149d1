//! Payments received, the invoices they settle, and the customer's credit that later invoices
//! draw down (prepayments and overpayments).
//!
//! # Rules
//!
//! - **A payment** ([`Payment::record`]) is a positive amount in whole minor units, in the
//!   customer's currency, received on a day that is not after the provider's today (and not
//!   before 2000-01-01), with a [`PaymentReference`]: the bank document or cash receipt
//!   number, 1–64 characters without control characters, surrounding spaces trimmed. A
//!   customer's reference is recorded once: the same reference again is the same payment, so
//!   a retried request never counts money twice.
//! - **Settling**: a payment pays the customer's open invoices ([`OpenInvoice`], open amount
//!   above zero) oldest first — by issue date, then by number — each up to its open amount, at
//!   most [`MAX_SETTLED`] invoices per payment; what is left is the customer's **credit**.
//! - **Drawing down** ([`draw_down`]): when an invoice is issued to a customer with credit,
//!   the credit pays it, up to its gross amount: the invoice is issued paid or partly paid and
//!   the credit shrinks by as much. A prepaid customer's credit thus pays its invoices period
//!   after period until it runs out.
//! - **Released by a credit note** ([`release_by_credit`]): a credit note on an invoice that
//!   was paid gives back what the invoice no longer owes: its `paid` falls to what is still
//!   due (gross − credited) and the difference becomes credit.
//! - **The ledger**: a payment posts Dr Cash, Cr Receivable on the day received
//!   ([`crate::ledger::for_payment`]). Settling, drawing down and releasing move nothing in the
//!   ledger: the receivable account already nets invoices, credit notes and payments. Hence,
//!   for every customer and currency, at all times, **balance = Σ open amounts − credit**
//!   (a property test in this module keeps that true over any sequence of invoices, payments
//!   and credit notes).
//!
//! - **A reversal** ([`Payment::reverse`]) takes a payment back — recorded by mistake, for the
//!   wrong customer or amount — with a reason, on the day it is made (so reports of earlier
//!   days never change): each invoice it settled is reopened by what it settled, as far as
//!   that is still paid (a credit note may have released part of it to credit since); the
//!   credit it left, and what credit notes released of it, is withdrawn from the customer's
//!   credit. If the credit has been drawn into later invoices meanwhile, the reversal is
//!   refused ([`PaymentError::CreditDrawn`]) rather than reopening invoices it never paid.
//!   The ledger posts the payment's entry reversed: Dr Receivable, Cr Cash
//!   ([`crate::ledger::for_reversal`]). The payment stays, marked reversed.
//! - **A refund** ([`Refund::record`]) is money sent back to a customer from its credit: at
//!   most the credit it has, recorded once per reference; Dr Receivable, Cr Cash on the day
//!   paid ([`crate::ledger::for_refund`]); the credit shrinks by as much.
//!
//! Every refusal names the field at fault: `amount`, `currency`, `received_on`, `paid_on`,
//! `reference`, `reason`.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{ImportId, InvoiceId, OrgId, PaymentId, RefundId};
use crate::invoicing::{Invoice, InvoiceNumber};
use crate::money::{Currency, Money, MoneyError};
use crate::orders::UserOrKey;

/// The most invoices one payment settles: a DynamoDB transaction holds at most 100 actions,
/// and recording a payment also writes the payment, its ledger entry, its event and the
/// customer's credit. Further open invoices stay open and the rest of the payment is credit.
pub const MAX_SETTLED: usize = 90;

/// The largest payment recorded in one go: a billion in the currency (1 000 000 000.00). A
/// customer of small services never pays more at once; a larger figure is a typing error, and
/// refusing it keeps every balance far inside `Decimal`'s range however many payments add up.
pub const MAX_PAYMENT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Why a payment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// A field breaks a rule; `field` is its name, e.g. `amount`.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// A reversal would withdraw more credit than is left: the rest was drawn into invoices
    /// issued since.
    #[error("the payment's credit of {} was drawn into invoices issued since (only {} is left): credit those invoices first, whose credit notes give the credit back, or record a correcting payment instead", needed.amount_text(), left.amount_text())]
    CreditDrawn { needed: Money, left: Money },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl PaymentError {
    fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A payment's reference: the bank document or receipt number (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PaymentReference(String);

impl PaymentReference {
    pub const MAX_CHARS: usize = 64;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PaymentReference {
    type Error = PaymentError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let trimmed = text.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(PaymentError::invalid(
                "reference",
                format!("must be 1 to {} characters", Self::MAX_CHARS),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(PaymentError::invalid(
                "reference",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }
}

impl From<PaymentReference> for String {
    fn from(r: PaymentReference) -> Self {
        r.0
    }
}

impl fmt::Display for PaymentReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An invoice that may still be paid: its id, number, issue date and open amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInvoice {
    pub id: InvoiceId,
    pub number: InvoiceNumber,
    pub issued_on: NaiveDate,
    pub open: Money,
}

impl OpenInvoice {
    pub fn of(invoice: &Invoice) -> Self {
        Self {
            id: invoice.id,
            number: invoice.number.clone(),
            issued_on: invoice.issued_on,
            open: invoice.open_amount(),
        }
    }
}

/// What a payment paid of one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settlement {
    pub invoice: InvoiceId,
    pub number: InvoiceNumber,
    pub amount: Money,
}

/// Which open invoices a payment settles first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Allocation {
    /// The oldest first (see the module docs).
    #[default]
    Oldest,
    /// These first, in this order, each up to its open amount; then the oldest first. An
    /// invoice that is not open is passed over.
    First(Vec<InvoiceId>),
    /// Exactly these amounts of these invoices (an accountant's split); the rest is credit.
    /// Each must be open for at least its amount, and together at most the payment.
    Exactly(Vec<(InvoiceId, Decimal)>),
}

/// Where a payment came from when it was read from a bank statement: the bank's document
/// and the payer as the statement names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankSource {
    pub import: ImportId,
    /// The line of the statement file where the document starts.
    pub line: usize,
    /// The bank document's number and date.
    pub number: String,
    pub date: NaiveDate,
    pub payer_name: String,
    pub payer_account: String,
    pub purpose: String,
}

/// A recorded payment: how much, when, and where it went (invoices settled, credit left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    pub id: PaymentId,
    pub org: OrgId,
    pub amount: Money,
    pub received_on: NaiveDate,
    pub reference: PaymentReference,
    pub recorded_at: DateTime<Utc>,
    /// The invoices it paid, oldest first.
    pub settled: Vec<Settlement>,
    /// What was left after settling: added to the customer's credit.
    pub to_credit: Money,
    /// The statement line it was read from; `None` when recorded by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<BankSource>,
    /// Taken back, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversed: Option<Reversal>,
}

/// How a payment was taken back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reversal {
    /// The day it is booked on (the day it was made).
    pub on: NaiveDate,
    pub at: DateTime<Utc>,
    pub reason: String,
    pub by: UserOrKey,
    /// What each settled invoice was reopened by.
    pub reopened: Vec<Settlement>,
    /// What was withdrawn from the customer's credit.
    pub from_credit: Money,
}

/// The longest reason of a reversal or refund, in characters.
pub const MAX_REASON_CHARS: usize = 500;

fn reason_of(reason: &str) -> Result<String, PaymentError> {
    let reason = reason.trim();
    let chars = reason.chars().count();
    if chars == 0 || chars > MAX_REASON_CHARS || reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(PaymentError::invalid(
            "reason",
            format!("must be 1 to {MAX_REASON_CHARS} characters without control characters"),
        ));
    }
    Ok(reason.to_owned())
}

impl Payment {
    /// Plans taking this payment back (see the module docs) on `on`, given what each invoice
    /// it settled has paid now (`paid_now`, by invoice) and the customer's credit now.
    pub fn reverse(
        &self,
        reason: &str,
        on: NaiveDate,
        at: DateTime<Utc>,
        by: UserOrKey,
        paid_now: impl Fn(InvoiceId) -> Option<Money>,
        credit: Money,
    ) -> Result<Reversal, PaymentError> {
        if self.reversed.is_some() {
            return Err(PaymentError::invalid("payment", "is reversed already"));
        }
        let reason = reason_of(reason)?;
        let currency = self.amount.currency();
        let mut reopened = Vec::new();
        let mut from_credit = self.to_credit;
        for s in &self.settled {
            let paid = paid_now(s.invoice).unwrap_or(Money::zero(currency));
            let back = if paid.amount() < s.amount.amount() {
                paid
            } else {
                s.amount
            };
            if back.amount() > Decimal::ZERO {
                reopened.push(Settlement {
                    invoice: s.invoice,
                    number: s.number.clone(),
                    amount: back,
                });
            }
            from_credit = from_credit.checked_add(s.amount.checked_sub(back)?)?;
        }
        if from_credit.amount() > credit.amount() {
            return Err(PaymentError::CreditDrawn {
                needed: from_credit,
                left: credit,
            });
        }
        Ok(Reversal {
            on,
            at,
            reason,
            by,
            reopened,
            from_credit,
        })
    }
}

/// Money sent back to a customer from its credit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refund {
    pub id: RefundId,
    pub org: OrgId,
    pub amount: Money,
    /// The day the money left.
    pub paid_on: NaiveDate,
    /// The bank document's number.
    pub reference: PaymentReference,
    pub reason: String,
    pub recorded_at: DateTime<Utc>,
}

/// A refund as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    pub amount: Money,
    pub paid_on: NaiveDate,
    pub reference: PaymentReference,
    pub reason: String,
}

impl Refund {
    /// Records `new` for `org` (whose currency is `currency` and credit now `credit`) on the
    /// provider's `today` (see the module docs).
    pub fn record(
        new: NewRefund,
        id: RefundId,
        org: OrgId,
        currency: Currency,
        today: NaiveDate,
        recorded_at: DateTime<Utc>,
        credit: Money,
    ) -> Result<Refund, PaymentError> {
        check_amount(new.amount, currency)?;
        check_day("paid_on", new.paid_on, today)?;
        let reason = reason_of(&new.reason)?;
        if new.amount.amount() > credit.amount() {
            return Err(PaymentError::invalid(
                "amount",
                format!(
                    "is more than the customer's credit of {}",
                    credit.amount_text()
                ),
            ));
        }
        Ok(Refund {
            id,
            org,
            amount: new.amount,
            paid_on: new.paid_on,
            reference: new.reference,
            reason,
            recorded_at,
        })
    }
}

/// A payment's or refund's amount: in `currency`, above zero, at most [`MAX_PAYMENT`], in
/// whole minor units.
fn check_amount(amount: Money, currency: Currency) -> Result<(), PaymentError> {
    if amount.currency() != currency {
        return Err(PaymentError::invalid(
            "currency",
            format!("the customer pays in {currency}, not {}", amount.currency()),
        ));
    }
    if amount.amount() <= Decimal::ZERO {
        return Err(PaymentError::invalid("amount", "must be more than zero"));
    }
    if amount.amount() > MAX_PAYMENT {
        return Err(PaymentError::invalid(
            "amount",
            format!("must be at most {MAX_PAYMENT}.00 in one payment"),
        ));
    }
    if !amount.is_in_minor_units() {
        return Err(PaymentError::invalid(
            "amount",
            format!(
                "must be in whole minor units ({} decimals in {currency})",
                currency.minor_units()
            ),
        ));
    }
    Ok(())
}

/// The day money moved: not after `today`, not before 2000-01-01.
fn check_day(field: &str, day: NaiveDate, today: NaiveDate) -> Result<(), PaymentError> {
    let earliest = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
    if day > today {
        return Err(PaymentError::invalid(
            field,
            format!("must not be after today ({today})"),
        ));
    }
    if day < earliest {
        return Err(PaymentError::invalid(field, "must be 2000-01-01 or later"));
    }
    Ok(())
}

/// A payment as asked for: parsed, not yet checked against the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub amount: Money,
    pub received_on: NaiveDate,
    pub reference: PaymentReference,
    pub allocation: Allocation,
    pub source: Option<BankSource>,
}

impl Payment {
    /// Records `new` for `org`, whose currency is `currency`, on the provider's `today`:
    /// checks it (see the module docs) and settles `open` invoices oldest first.
    pub fn record(
        new: NewPayment,
        id: PaymentId,
        org: OrgId,
        currency: Currency,
        today: NaiveDate,
        recorded_at: DateTime<Utc>,
        mut open: Vec<OpenInvoice>,
    ) -> Result<Payment, PaymentError> {
        let amount = new.amount;
        check_amount(amount, currency)?;
        check_day("received_on", new.received_on, today)?;
        open.retain(|i| i.open.amount() > Decimal::ZERO && i.open.currency() == currency);
        open.sort_by(|a, b| {
            (a.issued_on, a.number.year, a.number.seq).cmp(&(
                b.issued_on,
                b.number.year,
                b.number.seq,
            ))
        });
        let (settled, left) = settle(amount, open, &new.allocation)?;
        Ok(Payment {
            id,
            org,
            amount,
            received_on: new.received_on,
            reference: new.reference,
            recorded_at,
            settled,
            to_credit: left,
            source: new.source,
            reversed: None,
        })
    }
}

/// Settles `open` invoices (oldest first) with `amount` as `allocation` says; returns what
/// each got and what is left for credit.
fn settle(
    amount: Money,
    mut open: Vec<OpenInvoice>,
    allocation: &Allocation,
) -> Result<(Vec<Settlement>, Money), PaymentError> {
    let mut left = amount;
    let mut settled = Vec::new();
    // Pays `invoice` up to `most` from what is `left`.
    fn pay(
        settled: &mut Vec<Settlement>,
        invoice: &OpenInvoice,
        most: Money,
        left: &mut Money,
    ) -> Result<(), PaymentError> {
        let paid = if most.amount() < left.amount() {
            most
        } else {
            *left
        };
        if paid.is_zero() {
            return Ok(());
        }
        *left = left.checked_sub(paid)?;
        settled.push(Settlement {
            invoice: invoice.id,
            number: invoice.number.clone(),
            amount: paid,
        });
        Ok(())
    }
    match allocation {
        Allocation::Exactly(split) => {
            if split.len() > MAX_SETTLED {
                return Err(PaymentError::invalid(
                    "split",
                    format!("at most {MAX_SETTLED} invoices per payment"),
                ));
            }
            for (i, (id, part)) in split.iter().enumerate() {
                let field = format!("split[{i}].amount");
                let invoice = open.iter().find(|o| o.id == *id).ok_or_else(|| {
                    PaymentError::invalid(
                        &format!("split[{i}].invoice"),
                        "is not an open invoice of the customer",
                    )
                })?;
                let part = Money::new(*part, amount.currency());
                if part.amount() <= Decimal::ZERO || !part.is_in_minor_units() {
                    return Err(PaymentError::invalid(
                        &field,
                        "must be above zero, in whole minor units",
                    ));
                }
                if part.amount() > invoice.open.amount() {
                    return Err(PaymentError::invalid(
                        &field,
                        format!(
                            "is more than the {} open on {}",
                            invoice.open.amount_text(),
                            invoice.number
                        ),
                    ));
                }
                if part.amount() > left.amount() {
                    return Err(PaymentError::invalid(
                        &field,
                        "the parts add up to more than the payment",
                    ));
                }
                if split[..i].iter().any(|(earlier, _)| earlier == id) {
                    return Err(PaymentError::invalid(
                        &format!("split[{i}].invoice"),
                        "is named twice",
                    ));
                }
                pay(&mut settled, invoice, part, &mut left)?;
            }
            return Ok((settled, left));
        }
        Allocation::First(first) => {
            for id in first {
                if let Some(at) = open.iter().position(|o| o.id == *id) {
                    let invoice = open.remove(at);
                    if settled.len() < MAX_SETTLED {
                        pay(&mut settled, &invoice, invoice.open, &mut left)?;
                    }
                }
            }
        }
        Allocation::Oldest => {}
    }
    for invoice in &open {
        if left.is_zero() || settled.len() >= MAX_SETTLED {
            break;
        }
        pay(&mut settled, invoice, invoice.open, &mut left)?;
    }
    Ok((settled, left))
}

/// Pays a just-issued `invoice` from the customer's `credit` (see the module docs): its
/// `paid` becomes the smaller of the credit and its open amount. Returns what was drawn (zero
/// without credit, for an invoice of zero or below, or in another currency).
pub fn draw_down(invoice: &mut Invoice, credit: Money) -> Result<Money, MoneyError> {
    let open = invoice.open_amount();
    if credit.currency() != open.currency()
        || credit.amount() <= Decimal::ZERO
        || open.amount() <= Decimal::ZERO
    {
        return Ok(Money::zero(open.currency()));
    }
    let drawn = if credit.amount() < open.amount() {
        credit
    } else {
        open
    };
    invoice.paid = invoice.paid.checked_add(drawn)?;
    Ok(drawn)
}

/// After a credit note was counted into `invoice` (its `credited` grew): gives back what the
/// invoice was paid beyond what it still owes (gross − credited, not below zero). Its `paid`
/// falls by as much; returns that amount, for the customer's credit.
pub fn release_by_credit(invoice: &mut Invoice) -> Result<Money, MoneyError> {
    let due = invoice
        .draft
        .gross
        .checked_sub(invoice.credited)?
        .amount()
        .max(Decimal::ZERO);
    let excess = invoice.paid.amount() - due;
    if excess <= Decimal::ZERO {
        return Ok(Money::zero(invoice.paid.currency()));
    }
    let released = Money::new(excess, invoice.paid.currency());
    invoice.paid = invoice.paid.checked_sub(released)?;
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::fixtures::*;
    use crate::invoicing::{CreditNote, CreditRequestLine, TaxMode, credit_note, issue};
    use crate::ledger;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn rub(amount: Decimal) -> Money {
        Money::new(amount, Currency::RUB)
    }

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    /// An invoice of `gross` (net, no tax) numbered `seq`, issued on `issued_on`.
    fn invoice(seq: u32, gross: Decimal, issued_on: NaiveDate) -> Invoice {
        taxed_invoice(seq, gross, dec!(0), issued_on)
    }

    /// An invoice of one line of `net` taxed at `percent` on top, numbered `seq`.
    fn taxed_invoice(seq: u32, net: Decimal, percent: Decimal, issued_on: NaiveDate) -> Invoice {
        let mut close = Close::new("2026-10", Currency::RUB);
        close.charge("INSTALL", net, rate(percent), day(10, 20));
        let draft = close.draft(TaxMode::Exclusive);
        let number: InvoiceNumber = format!("KPK-2026-{seq:06}").parse().unwrap();
        issue(draft, InvoiceId::new(), number, issued_on, 14).unwrap()
    }

    fn new_payment(amount: Decimal, reference: &str) -> NewPayment {
        NewPayment {
            amount: rub(amount),
            received_on: day(11, 20),
            reference: PaymentReference::try_from(reference.to_owned()).unwrap(),
            allocation: Allocation::Oldest,
            source: None,
        }
    }

    fn record(new: NewPayment, open: Vec<OpenInvoice>) -> Result<Payment, PaymentError> {
        Payment::record(
            new,
            PaymentId::new(),
            OrgId::new(),
            Currency::RUB,
            day(11, 28),
            Utc::now(),
            open,
        )
    }

    #[test]
    fn a_payment_settles_the_oldest_invoices_first_and_keeps_the_rest_as_credit() {
        let october = invoice(7, dec!(1000.00), day(10, 1));
        let november = invoice(12, dec!(500.00), day(11, 1));
        let payment = record(
            new_payment(dec!(1200.00), "п/п 4711"),
            vec![OpenInvoice::of(&november), OpenInvoice::of(&october)],
        )
        .unwrap();
        let settled: Vec<_> = payment
            .settled
            .iter()
            .map(|s| (s.number.to_string(), s.amount))
            .collect();
        assert_eq!(
            settled,
            [
                ("KPK-2026-000007".to_owned(), rub(dec!(1000.00))),
                ("KPK-2026-000012".to_owned(), rub(dec!(200.00)))
            ]
        );
        assert_eq!(payment.to_credit, rub(dec!(0.00)));

        // More than is owed: the rest is credit.
        let payment = record(
            new_payment(dec!(2000.00), "4712"),
            vec![OpenInvoice::of(&october)],
        )
        .unwrap();
        assert_eq!(payment.to_credit, rub(dec!(1000.00)));
        // Nothing owed: all of it is credit (a prepayment).
        let payment = record(new_payment(dec!(3000.00), "4713"), vec![]).unwrap();
        assert!(payment.settled.is_empty());
        assert_eq!(payment.to_credit, rub(dec!(3000.00)));
    }

    #[test]
    fn a_payment_settles_the_invoices_it_names_first_then_the_oldest() {
        let (a, b, c) = (
            invoice(1, dec!(100.00), day(9, 1)),
            invoice(2, dec!(200.00), day(10, 1)),
            invoice(3, dec!(300.00), day(11, 1)),
        );
        let open = || {
            vec![
                OpenInvoice::of(&a),
                OpenInvoice::of(&b),
                OpenInvoice::of(&c),
            ]
        };
        let mut new = new_payment(dec!(350.00), "1");
        new.allocation = Allocation::First(vec![c.id]);
        let payment = record(new, open()).unwrap();
        let got: Vec<_> = payment
            .settled
            .iter()
            .map(|s| (s.invoice, s.amount.amount()))
            .collect();
        assert_eq!(got, vec![(c.id, dec!(300.00)), (a.id, dec!(50.00))]);
        assert!(payment.to_credit.is_zero());
        // A partial payment of the named invoice leaves the rest of it open.
        let mut new = new_payment(dec!(120.00), "2");
        new.allocation = Allocation::First(vec![c.id]);
        let payment = record(new, open()).unwrap();
        assert_eq!(payment.settled.len(), 1);
        assert_eq!(payment.settled[0].amount.amount(), dec!(120.00));
    }

    #[test]
    fn a_split_pays_exactly_its_parts_and_the_rest_is_credit() {
        let (a, b) = (
            invoice(1, dec!(100.00), day(9, 1)),
            invoice(2, dec!(200.00), day(10, 1)),
        );
        let open = || vec![OpenInvoice::of(&a), OpenInvoice::of(&b)];
        let mut new = new_payment(dec!(500.00), "1");
        new.allocation = Allocation::Exactly(vec![(b.id, dec!(150.00)), (a.id, dec!(20.00))]);
        let payment = record(new, open()).unwrap();
        let got: Vec<_> = payment
            .settled
            .iter()
            .map(|s| (s.invoice, s.amount.amount()))
            .collect();
        assert_eq!(got, vec![(b.id, dec!(150.00)), (a.id, dec!(20.00))]);
        assert_eq!(payment.to_credit.amount(), dec!(330.00));
        for (split, field) in [
            (vec![(b.id, dec!(250.00))], "split[0].amount"),
            (vec![(a.id, dec!(0))], "split[0].amount"),
            (vec![(a.id, dec!(1.005))], "split[0].amount"),
            (vec![(InvoiceId::new(), dec!(1))], "split[0].invoice"),
            (vec![(a.id, dec!(10)), (a.id, dec!(10))], "split[1].invoice"),
        ] {
            let mut new = new_payment(dec!(500.00), "1");
            new.allocation = Allocation::Exactly(split);
            assert_eq!(field_of(record(new, open())), field);
        }
        let mut new = new_payment(dec!(50.00), "1");
        new.allocation = Allocation::Exactly(vec![(b.id, dec!(40.00)), (a.id, dec!(20.00))]);
        assert_eq!(field_of(record(new, open())), "split[1].amount");
    }

    #[test]
    fn a_reversal_reopens_what_it_paid_and_withdraws_its_credit() {
        let a = invoice(1, dec!(100.00), day(9, 1));
        let payment = record(new_payment(dec!(150.00), "1"), vec![OpenInvoice::of(&a)]).unwrap();
        let paid = |_| Some(rub(dec!(100.00)));
        let reversal = payment
            .reverse(
                "wrong customer",
                day(11, 21),
                Utc::now(),
                UserOrKey::System,
                paid,
                rub(dec!(50.00)),
            )
            .unwrap();
        assert_eq!(reversal.reopened[0].amount, rub(dec!(100.00)));
        assert_eq!(reversal.from_credit, rub(dec!(50.00)));
        // A credit note released 40.00 of what it paid to credit: that comes from the credit.
        let released = |_| Some(rub(dec!(60.00)));
        let reversal = payment
            .reverse(
                "wrong amount",
                day(11, 21),
                Utc::now(),
                UserOrKey::System,
                released,
                rub(dec!(90.00)),
            )
            .unwrap();
        assert_eq!(reversal.reopened[0].amount, rub(dec!(60.00)));
        assert_eq!(reversal.from_credit, rub(dec!(90.00)));
        // The credit was drawn into a later invoice: refused, saying what to do.
        let drawn = payment.reverse(
            "x",
            day(11, 21),
            Utc::now(),
            UserOrKey::System,
            paid,
            rub(dec!(10.00)),
        );
        let Err(err @ PaymentError::CreditDrawn { .. }) = drawn else {
            panic!("{drawn:?}")
        };
        assert!(
            err.to_string().contains("credit those invoices first"),
            "{err}"
        );
        for reason in ["", "  ", &"x".repeat(501)] {
            let refused = payment.reverse(
                reason,
                day(11, 21),
                Utc::now(),
                UserOrKey::System,
                paid,
                rub(dec!(50.00)),
            );
            assert!(
                matches!(refused, Err(PaymentError::Invalid { field, .. }) if field == "reason")
            );
        }
        let mut reversed = payment.clone();
        reversed.reversed = Some(reversal);
        let again = reversed.reverse(
            "x",
            day(11, 21),
            Utc::now(),
            UserOrKey::System,
            paid,
            rub(dec!(50.00)),
        );
        assert!(matches!(again, Err(PaymentError::Invalid { field, .. }) if field == "payment"));
    }

    #[test]
    fn a_refund_is_at_most_the_credit() {
        let new = |amount| NewRefund {
            amount: rub(amount),
            paid_on: day(11, 20),
            reference: PaymentReference::try_from("возврат 1".to_owned()).unwrap(),
            reason: "закрытие договора".into(),
        };
        let refund = |amount, credit| {
            Refund::record(
                new(amount),
                RefundId::new(),
                OrgId::new(),
                Currency::RUB,
                day(11, 28),
                Utc::now(),
                rub(credit),
            )
        };
        assert_eq!(
            refund(dec!(300.00), dec!(300.00)).unwrap().amount,
            rub(dec!(300.00))
        );
        for (amount, credit, field) in [
            (dec!(300.01), dec!(300.00), "amount"),
            (dec!(0), dec!(300.00), "amount"),
            (dec!(1.001), dec!(300.00), "amount"),
        ] {
            assert!(
                matches!(refund(amount, credit), Err(PaymentError::Invalid { field: f, .. }) if f == field)
            );
        }
        let mut late = new(dec!(1.00));
        late.paid_on = day(11, 29);
        let refused = Refund::record(
            late,
            RefundId::new(),
            OrgId::new(),
            Currency::RUB,
            day(11, 28),
            Utc::now(),
            rub(dec!(5)),
        );
        assert!(matches!(refused, Err(PaymentError::Invalid { field, .. }) if field == "paid_on"));
    }

    fn field_of(result: Result<Payment, PaymentError>) -> String {
        match result {
            Err(PaymentError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_bad_payment_is_refused_naming_the_field() {
        let field = |r: Result<Payment, PaymentError>| match r {
            Err(PaymentError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(record(new_payment(dec!(0), "1"), vec![])), "amount");
        assert_eq!(field(record(new_payment(dec!(-5), "1"), vec![])), "amount");
        assert_eq!(
            field(record(new_payment(dec!(1.005), "1"), vec![])),
            "amount"
        );
        assert_eq!(
            field(record(new_payment(dec!(1000000000.01), "1"), vec![])),
            "amount"
        );
        assert!(record(new_payment(dec!(1000000000.00), "1"), vec![]).is_ok());
        let mut dollars = new_payment(dec!(10), "1");
        dollars.amount = Money::new(dec!(10), Currency::USD);
        assert_eq!(field(record(dollars, vec![])), "currency");
        let mut future = new_payment(dec!(10), "1");
        future.received_on = day(11, 29);
        assert_eq!(field(record(future, vec![])), "received_on");
        let mut ancient = new_payment(dec!(10), "1");
        ancient.received_on = NaiveDate::from_ymd_opt(1999, 12, 31).unwrap();
        assert_eq!(field(record(ancient, vec![])), "received_on");
        for bad in ["", "   ", "a\nb", &"x".repeat(65)] {
            assert!(
                matches!(
                    PaymentReference::try_from(bad.to_owned()),
                    Err(PaymentError::Invalid { ref field, .. }) if field == "reference"
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            PaymentReference::try_from("  п/п 17 ".to_owned())
                .unwrap()
                .as_str(),
            "п/п 17"
        );
    }

    #[test]
    fn credit_pays_the_next_invoice_up_to_its_amount() {
        let mut small = invoice(1, dec!(400.00), day(11, 1));
        assert_eq!(
            draw_down(&mut small, rub(dec!(1000.00))).unwrap(),
            rub(dec!(400.00))
        );
        assert_eq!(small.open_amount(), rub(dec!(0.00)));
        assert_eq!(
            small.status_on(day(11, 2)),
            crate::invoicing::InvoiceStatus::Paid
        );
        let mut large = invoice(2, dec!(1500.00), day(12, 1));
        assert_eq!(
            draw_down(&mut large, rub(dec!(600.00))).unwrap(),
            rub(dec!(600.00))
        );
        assert_eq!(large.open_amount(), rub(dec!(900.00)));
        assert_eq!(
            large.status_on(day(12, 2)),
            crate::invoicing::InvoiceStatus::PartlyPaid
        );
        let mut none = invoice(3, dec!(100.00), day(12, 1));
        assert!(draw_down(&mut none, rub(dec!(0))).unwrap().is_zero());
        assert!(
            draw_down(&mut none, Money::new(dec!(50), Currency::USD))
                .unwrap()
                .is_zero()
        );
        assert!(none.paid.is_zero());
    }

    #[test]
    fn a_credit_note_on_a_paid_invoice_releases_what_it_no_longer_owes() {
        let mut paid = invoice(1, dec!(1000.00), day(11, 1));
        draw_down(&mut paid, rub(dec!(1000.00))).unwrap();
        paid.credited = rub(dec!(300.00));
        assert_eq!(release_by_credit(&mut paid).unwrap(), rub(dec!(300.00)));
        assert_eq!(paid.paid, rub(dec!(700.00)));
        assert_eq!(paid.open_amount(), rub(dec!(0.00)));
        // Partly paid and credited within what is unpaid: nothing to release.
        let mut part = invoice(2, dec!(1000.00), day(11, 1));
        draw_down(&mut part, rub(dec!(200.00))).unwrap();
        part.credited = rub(dec!(500.00));
        assert!(release_by_credit(&mut part).unwrap().is_zero());
        assert_eq!(part.open_amount(), rub(dec!(300.00)));
    }

    /// One step of a customer's history.
    #[derive(Debug, Clone)]
    enum Step {
        Invoice(u32),
        Pay(u32),
        /// Credit this share (in percent) of what an invoice (by index) has not been credited.
        Credit(usize, u32),
        /// Take back a payment (by index), unless it was or its credit is drawn.
        Reverse(usize),
        /// Send back this share (in percent) of the credit.
        Refund(u32),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            // From one kopek: a close issues no invoice for nothing.
            (1u32..500_000).prop_map(Step::Invoice),
            (1u32..500_000).prop_map(Step::Pay),
            (0usize..8, 1u32..=100).prop_map(|(i, p)| Step::Credit(i, p)),
            (0usize..8).prop_map(Step::Reverse),
            (1u32..=100).prop_map(Step::Refund),
        ]
    }

    proptest! {
        /// Over any history of invoices (drawing credit down at issue; every other one taxed),
        /// payments (settling the oldest open invoices) and credit notes (composed by
        /// [`credit_note`] and posted by [`ledger::for_credit_note`] as the service does,
        /// releasing what paid invoices no longer owe): the customer's ledger balance equals the sum of the invoices' open amounts
        /// minus the credit, no invoice is paid beyond what it owes or below zero, and credit
        /// is never negative.
        #[test]
        fn the_balance_is_always_what_is_open_less_the_credit(steps in prop::collection::vec(step(), 1..40)) {
            let org = OrgId::new();
            let mut invoices: Vec<Invoice> = Vec::new();
            let mut entries = Vec::new();
            let mut notes: Vec<Vec<CreditNote>> = Vec::new();
            let mut credit = rub(dec!(0));
            let mut seq = 0;
            let mut notes_seq = 0;
            let mut payments: Vec<Payment> = Vec::new();
            for step in steps {
                match step {
                    Step::Invoice(kopeks) => {
                        seq += 1;
                        // Every other invoice taxed, so that credit notes post tax back too.
                        let percent = if seq % 2 == 0 { dec!(20) } else { dec!(0) };
                        let mut inv = taxed_invoice(seq, Decimal::new(i64::from(kopeks), 2), percent, day(11, 1));
                        inv.draft.org = org;
                        let drawn = draw_down(&mut inv, credit).unwrap();
                        credit = credit.checked_sub(drawn).unwrap();
                        if let Ok(entry) = ledger::for_invoice(&inv, crate::ids::EntryId::new()) {
                            entries.push(entry);
                        }
                        invoices.push(inv);
                        notes.push(Vec::new());
                    }
                    Step::Pay(kopeks) => {
                        let open = invoices.iter().map(OpenInvoice::of).collect();
                        let payment = Payment::record(
                            NewPayment {
                                amount: rub(Decimal::new(i64::from(kopeks), 2)),
                                received_on: day(11, 20),
                                reference: PaymentReference::try_from(format!("{seq}")).unwrap(),
                                allocation: Allocation::Oldest,
                                source: None,
                            },
                            PaymentId::new(), org, Currency::RUB, day(11, 28), Utc::now(), open,
                        ).unwrap();
                        for s in &payment.settled {
                            let inv = invoices.iter_mut().find(|i| i.id == s.invoice).unwrap();
                            inv.paid = inv.paid.checked_add(s.amount).unwrap();
                        }
                        credit = credit.checked_add(payment.to_credit).unwrap();
                        entries.push(ledger::for_payment(&payment, crate::ids::EntryId::new()).unwrap());
                        payments.push(payment);
                    }
                    Step::Reverse(index) => {
                        let Some(i) = (!payments.is_empty()).then(|| index % payments.len()) else { continue };
                        let paid_now = |id| invoices.iter().find(|inv| inv.id == id).map(|inv| inv.paid);
                        let Ok(reversal) = payments[i].reverse("property", day(11, 30), Utc::now(), UserOrKey::System, paid_now, credit) else { continue };
                        for r in &reversal.reopened {
                            let inv = invoices.iter_mut().find(|inv| inv.id == r.invoice).unwrap();
                            inv.paid = inv.paid.checked_sub(r.amount).unwrap();
                        }
                        credit = credit.checked_sub(reversal.from_credit).unwrap();
                        entries.push(ledger::for_reversal(&payments[i], &reversal, crate::ids::EntryId::new()).unwrap());
                        payments[i].reversed = Some(reversal);
                    }
                    Step::Refund(percent) => {
                        let amount = (credit.amount() * Decimal::from(percent) / dec!(100)).round_dp(2);
                        if amount <= Decimal::ZERO { continue; }
                        let refund = Refund::record(
                            NewRefund {
                                amount: rub(amount),
                                paid_on: day(11, 30),
                                reference: PaymentReference::try_from(format!("r{seq}")).unwrap(),
                                reason: "property".into(),
                            },
                            RefundId::new(), org, Currency::RUB, day(12, 1), Utc::now(), credit,
                        ).unwrap();
                        credit = credit.checked_sub(refund.amount).unwrap();
                        entries.push(ledger::for_refund(&refund, crate::ids::EntryId::new()).unwrap());
                    }
                    Step::Credit(index, percent) => {
                        let Some(i) = (!invoices.is_empty()).then(|| index % invoices.len()) else { continue };
                        let inv = &mut invoices[i];
                        let creditable = inv.draft.gross.checked_sub(inv.credited).unwrap();
                        let share = (creditable.amount() * Decimal::from(percent) / dec!(100)).round_dp(2);
                        if share <= Decimal::ZERO { continue; }
                        // The credit note as the service issues it: composed from the invoice
                        // and its earlier notes, counted into the invoice, what a paid invoice
                        // no longer owes released, and its own ledger entry posted.
                        notes_seq += 1;
                        let note = credit_note(
                            inv,
                            &notes[i],
                            &[CreditRequestLine { line_no: 1, amount: Some(share) }],
                            "property",
                            crate::ids::CreditNoteId::new(),
                            format!("KPK-CN-2026-{notes_seq:06}").parse().unwrap(),
                            day(11, 25),
                        ).unwrap();
                        prop_assert_eq!(note.gross.amount(), -share);
                        inv.record_credit_note(&note).unwrap();
                        let released = release_by_credit(inv).unwrap();
                        credit = credit.checked_add(released).unwrap();
                        entries.push(ledger::for_credit_note(&note, crate::ids::EntryId::new()).unwrap());
                        notes[i].push(note);
                    }
                }
                let open = Money::checked_sum(Currency::RUB, invoices.iter().map(Invoice::open_amount)).unwrap();
                let balance = ledger::customer_balance(&entries, org, day(12, 31), Currency::RUB).unwrap();
                prop_assert_eq!(balance.amount(), open.amount() - credit.amount());
                prop_assert!(credit.amount() >= Decimal::ZERO);
                for inv in &invoices {
                    prop_assert!(inv.paid.amount() >= Decimal::ZERO);
                    prop_assert!(inv.paid.amount() + inv.credited.amount() <= inv.draft.gross.amount().max(inv.credited.amount()));
                }
                prop_assert!(ledger::is_balanced(&entries));
            }
        }
    }
}
