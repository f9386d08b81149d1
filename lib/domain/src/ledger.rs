//! The double-entry ledger: every issued invoice and credit note posts one balanced entry.
//!
//! # Chart of accounts
//!
//! | account | normal side | holds |
//! |---------|-------------|-------|
//! | [`Account::Receivable`] | debit | what a customer owes: one account per customer, the entry's `org` |
//! | [`Account::Revenue`] | credit | the net amounts invoiced, less those credited |
//! | [`Account::TaxPayable`] | credit | the tax invoiced, owed to the tax authority |
//! | [`Account::Cash`] | debit | money received from customers |
//!
//! # Postings and signs
//!
//! A [`Posting`] moves a non-negative amount, in whole minor units, on exactly one side of
//! one account: a debit or a credit. An [`Entry`] is a dated set of postings in one currency
//! whose debits equal its credits; [`Entry::new`] (and deserializing) refuses anything else,
//! so an unbalanced entry cannot exist.
//!
//! A *balance* ([`balance`]) is debits minus credits. So the debit-normal accounts read
//! naturally — a positive [`customer_balance`] is what the customer owes, a negative one what
//! the provider owes the customer (a prepayment or credit) — and the credit-normal ones read
//! negative: a revenue balance of −1,000.00 is 1,000.00 earned. Over all accounts, in each
//! currency, the balances always sum to zero ([`trial_balance`], [`is_balanced`]).
//!
//! # Entries of documents
//!
//! - An invoice ([`for_invoice`]), on its issue date: Dr Receivable gross; Cr Revenue net;
//!   Cr TaxPayable tax.
//! - A credit note ([`for_credit_note`]), on its issue date: the reverse — Dr Revenue net;
//!   Dr TaxPayable tax; Cr Receivable gross.
//! - A payment received ([`for_payment`]), on the day received: Dr Cash; Cr Receivable. What
//!   it settles, and the credit later invoices draw down, move nothing here (see
//!   [`crate::payments`]): a customer with credit simply has a negative balance.
//! - A payment reversed ([`for_reversal`]), on the day of the reversal, and a refund
//!   ([`for_refund`]), on the day paid: Dr Receivable; Cr Cash.
//!
//! A leg of zero is left out. An amount below zero posts on the other side (a negative
//! invoice, which owes the customer, posts Dr Revenue, Cr Receivable: the mirror image). A
//! document of zero in every column moves nothing and has no entry ([`LedgerError::Empty`]).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{CreditNoteId, EntryId, InvoiceId, OrgId, PaymentId, RefundId};
use crate::invoicing::{CreditNote, Invoice, InvoiceNumber, negated};
use crate::money::{Currency, Money, MoneyError};

/// Why an entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// No posting: the document moves nothing.
    #[error("an entry needs at least one posting")]
    Empty,
    /// A posting that is not one non-negative amount in whole minor units on one side.
    #[error("postings[{index}]: {reason}")]
    InvalidPosting { index: usize, reason: String },
    /// A posting in another currency than the entry's first.
    #[error("postings[{index}]: in {found}, the entry is in {expected}")]
    MixedCurrencies {
        index: usize,
        expected: Currency,
        found: Currency,
    },
    /// Debits and credits differ.
    #[error("the entry does not balance: debits {debits}, credits {credits}")]
    Unbalanced { debits: Money, credits: Money },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// An account of the chart (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    /// The customer's (the entry's organisation's) account: what it owes.
    Receivable,
    Revenue,
    TaxPayable,
    Cash,
}

/// An amount on one side of one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Posting {
    pub account: Account,
    pub debit: Money,
    pub credit: Money,
}

impl Posting {
    /// A debit of `amount`.
    pub fn debit(account: Account, amount: Money) -> Self {
        Self {
            account,
            debit: amount,
            credit: Money::zero(amount.currency()),
        }
    }

    /// A credit of `amount`.
    pub fn credit(account: Account, amount: Money) -> Self {
        Self {
            account,
            debit: Money::zero(amount.currency()),
            credit: amount,
        }
    }

    /// A debit of a positive amount, a credit of a negative one's magnitude, nothing for zero.
    pub fn signed(account: Account, amount: Money) -> Option<Self> {
        let magnitude = Money::new(amount.amount().abs(), amount.currency());
        if amount.is_zero() {
            None
        } else if amount.is_negative() {
            Some(Self::credit(account, magnitude))
        } else {
            Some(Self::debit(account, magnitude))
        }
    }

    /// Debit minus credit.
    pub fn amount(&self) -> Result<Money, MoneyError> {
        self.debit.checked_sub(self.credit)
    }

    pub fn currency(&self) -> Currency {
        self.debit.currency()
    }

    fn check(&self, index: usize) -> Result<(), LedgerError> {
        let invalid = |reason: &str| LedgerError::InvalidPosting {
            index,
            reason: reason.to_owned(),
        };
        if self.debit.currency() != self.credit.currency() {
            return Err(invalid(
                "the debit and the credit are in different currencies",
            ));
        }
        if self.debit.is_negative() || self.credit.is_negative() {
            return Err(invalid("an amount must not be negative"));
        }
        if self.debit.is_zero() == self.credit.is_zero() {
            return Err(invalid(
                "exactly one of the debit and the credit must be more than zero",
            ));
        }
        if !self.debit.is_in_minor_units() || !self.credit.is_in_minor_units() {
            return Err(invalid("an amount must be in whole minor units"));
        }
        Ok(())
    }
}

/// The document an entry records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DocumentRef {
    Invoice {
        invoice: InvoiceId,
        number: InvoiceNumber,
    },
    CreditNote {
        credit_note: CreditNoteId,
        number: InvoiceNumber,
        /// The invoice the credit note corrects.
        invoice: InvoiceId,
    },
    Payment {
        payment: PaymentId,
        /// The bank document or receipt number.
        reference: String,
    },
    /// A payment taken back.
    PaymentReversal {
        payment: PaymentId,
        reference: String,
        reason: String,
    },
    /// Money sent back to the customer from its credit.
    Refund { refund: RefundId, reference: String },
}

/// A balanced, dated set of postings in one currency, recording one document of one
/// organisation. Built only by [`Entry::new`] (deserializing goes through it too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EntryRecord", into = "EntryRecord")]
pub struct Entry {
    id: EntryId,
    org: OrgId,
    on: NaiveDate,
    document: DocumentRef,
    postings: Vec<Posting>,
}

/// The wire and storage form of an [`Entry`].
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EntryRecord {
    id: EntryId,
    org: OrgId,
    on: NaiveDate,
    document: DocumentRef,
    postings: Vec<Posting>,
}

impl TryFrom<EntryRecord> for Entry {
    type Error = LedgerError;
    fn try_from(r: EntryRecord) -> Result<Self, Self::Error> {
        Entry::new(r.id, r.org, r.on, r.document, r.postings)
    }
}

impl From<Entry> for EntryRecord {
    fn from(e: Entry) -> Self {
        EntryRecord {
            id: e.id,
            org: e.org,
            on: e.on,
            document: e.document,
            postings: e.postings,
        }
    }
}

impl Entry {
    /// An entry, if it keeps the rules of the module docs: at least one posting; each one
    /// non-negative amount in whole minor units on exactly one side; all in one currency;
    /// debits equal to credits.
    pub fn new(
        id: EntryId,
        org: OrgId,
        on: NaiveDate,
        document: DocumentRef,
        postings: Vec<Posting>,
    ) -> Result<Self, LedgerError> {
        let first = postings.first().ok_or(LedgerError::Empty)?;
        let currency = first.currency();
        let mut debits = Money::zero(currency);
        let mut credits = Money::zero(currency);
        for (index, posting) in postings.iter().enumerate() {
            posting.check(index)?;
            if posting.currency() != currency {
                return Err(LedgerError::MixedCurrencies {
                    index,
                    expected: currency,
                    found: posting.currency(),
                });
            }
            debits = debits.checked_add(posting.debit)?;
            credits = credits.checked_add(posting.credit)?;
        }
        if debits != credits {
            return Err(LedgerError::Unbalanced { debits, credits });
        }
        Ok(Self {
            id,
            org,
            on,
            document,
            postings,
        })
    }

    pub fn id(&self) -> EntryId {
        self.id
    }

    /// The organisation whose receivable the entry posts to.
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The day the entry is booked on (the document's issue date).
    pub fn on(&self) -> NaiveDate {
        self.on
    }

    pub fn document(&self) -> &DocumentRef {
        &self.document
    }

    /// Never empty.
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    pub fn currency(&self) -> Currency {
        self.postings[0].currency()
    }

    /// The sum of the debits (equal to the sum of the credits).
    pub fn total(&self) -> Result<Money, MoneyError> {
        Money::checked_sum(self.currency(), self.postings.iter().map(|p| p.debit))
    }
}

/// Dr Receivable gross; Cr Revenue net; Cr TaxPayable tax — signed, zero legs left out.
fn document_postings(gross: Money, net: Money, tax: Money) -> Vec<Posting> {
    [
        Posting::signed(Account::Receivable, gross),
        Posting::signed(Account::Revenue, negated(net)),
        Posting::signed(Account::TaxPayable, negated(tax)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The entry of an issued invoice, on its issue date (see the module docs). An invoice of
/// zero has none ([`LedgerError::Empty`]); one whose net and tax do not add up to its gross
/// is refused ([`LedgerError::Unbalanced`]).
pub fn for_invoice(invoice: &Invoice, id: EntryId) -> Result<Entry, LedgerError> {
    let draft = &invoice.draft;
    Entry::new(
        id,
        draft.org,
        invoice.issued_on,
        DocumentRef::Invoice {
            invoice: invoice.id,
            number: invoice.number.clone(),
        },
        document_postings(draft.gross, draft.net, draft.tax),
    )
}

/// The entry of a credit note, on its issue date: the reverse of an invoice's (its amounts
/// are negative). A credit note of zero has none ([`LedgerError::Empty`]).
pub fn for_credit_note(note: &CreditNote, id: EntryId) -> Result<Entry, LedgerError> {
    Entry::new(
        id,
        note.org,
        note.issued_on,
        DocumentRef::CreditNote {
            credit_note: note.id,
            number: note.number.clone(),
            invoice: note.invoice,
        },
        document_postings(note.gross, note.net, note.tax),
    )
}

/// The entry of a payment received, on the day received: Dr Cash, Cr Receivable by its
/// amount (see the module docs).
pub fn for_payment(payment: &crate::payments::Payment, id: EntryId) -> Result<Entry, LedgerError> {
    Entry::new(
        id,
        payment.org,
        payment.received_on,
        DocumentRef::Payment {
            payment: payment.id,
            reference: payment.reference.to_string(),
        },
        vec![
            Posting::debit(Account::Cash, payment.amount),
            Posting::credit(Account::Receivable, payment.amount),
        ],
    )
}

/// The entry of a payment taken back, on the day of the reversal: Dr Receivable, Cr Cash by
/// its amount (the payment's entry mirrored; see [`crate::payments`]).
pub fn for_reversal(
    payment: &crate::payments::Payment,
    reversal: &crate::payments::Reversal,
    id: EntryId,
) -> Result<Entry, LedgerError> {
    Entry::new(
        id,
        payment.org,
        reversal.on,
        DocumentRef::PaymentReversal {
            payment: payment.id,
            reference: payment.reference.to_string(),
            reason: reversal.reason.clone(),
        },
        vec![
            Posting::debit(Account::Receivable, payment.amount),
            Posting::credit(Account::Cash, payment.amount),
        ],
    )
}

/// The entry of a refund, on the day it was paid: Dr Receivable (the credit given back), Cr
/// Cash.
pub fn for_refund(refund: &crate::payments::Refund, id: EntryId) -> Result<Entry, LedgerError> {
    Entry::new(
        id,
        refund.org,
        refund.paid_on,
        DocumentRef::Refund {
            refund: refund.id,
            reference: refund.reference.to_string(),
        },
        vec![
            Posting::debit(Account::Receivable, refund.amount),
            Posting::credit(Account::Cash, refund.amount),
        ],
    )
}

/// Debits minus credits of `account` in `currency`, over the entries booked on or before
/// `on`. For [`Account::Receivable`] this sums every organisation in `entries`; see
/// [`customer_balance`] for one customer's.
pub fn balance(
    entries: &[Entry],
    account: Account,
    on: NaiveDate,
    currency: Currency,
) -> Result<Money, LedgerError> {
    sum_postings(entries.iter().filter(|e| e.on <= on), account, currency)
}

/// What `org` owes in `currency` as of `on` (its receivable's balance): positive, it owes;
/// negative, it has a credit.
pub fn customer_balance(
    entries: &[Entry],
    org: OrgId,
    on: NaiveDate,
    currency: Currency,
) -> Result<Money, LedgerError> {
    sum_postings(
        entries.iter().filter(|e| e.org == org && e.on <= on),
        Account::Receivable,
        currency,
    )
}

fn sum_postings<'a>(
    entries: impl Iterator<Item = &'a Entry>,
    account: Account,
    currency: Currency,
) -> Result<Money, LedgerError> {
    let mut sum = Money::zero(currency);
    for posting in entries.flat_map(|e| &e.postings) {
        if posting.account == account && posting.currency() == currency {
            sum = sum.checked_add(posting.amount()?)?;
        }
    }
    Ok(sum)
}

/// Every account's balance (debits minus credits) per currency, over all `entries`.
pub fn trial_balance(
    entries: &[Entry],
) -> Result<BTreeMap<(Currency, Account), Money>, LedgerError> {
    let mut balances: BTreeMap<(Currency, Account), Money> = BTreeMap::new();
    for posting in entries.iter().flat_map(|e| &e.postings) {
        let slot = balances
            .entry((posting.currency(), posting.account))
            .or_insert(Money::zero(posting.currency()));
        *slot = slot.checked_add(posting.amount()?)?;
    }
    Ok(balances)
}

/// Whether, in every currency, the balances of all accounts sum to zero (as they always do
/// for entries built by [`Entry::new`]; `false` also if a sum is out of range).
pub fn is_balanced(entries: &[Entry]) -> bool {
    let Ok(balances) = trial_balance(entries) else {
        return false;
    };
    let mut per_currency: BTreeMap<Currency, Decimal> = BTreeMap::new();
    for ((currency, _), money) in balances {
        let slot = per_currency.entry(currency).or_default();
        match slot.checked_add(money.amount()) {
            Some(sum) => *slot = sum,
            None => return false,
        }
    }
    per_currency.values().all(Decimal::is_zero)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::TaxRate;
    use crate::invoicing::fixtures::*;
    use crate::invoicing::{CreditRequestLine, TaxMode, ZeroInvoicePolicy};
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn invoice_of(charges: &[(Decimal, TaxRate)], mode: TaxMode) -> Invoice {
        let mut settings = settings(mode);
        settings.zero_invoices = ZeroInvoicePolicy::Issue;
        issued(
            close_with_charges(charges)
                .compose(&settings)
                .unwrap()
                .unwrap(),
        )
    }

    fn sides(entry: &Entry) -> Vec<(Account, Decimal, Decimal)> {
        entry
            .postings()
            .iter()
            .map(|p| (p.account, p.debit.amount(), p.credit.amount()))
            .collect()
    }

    fn an_invoice_ref() -> DocumentRef {
        DocumentRef::Invoice {
            invoice: InvoiceId::new(),
            number: "KPK-2026-000001".parse().unwrap(),
        }
    }

    fn entry(postings: Vec<Posting>) -> Result<Entry, LedgerError> {
        Entry::new(
            EntryId::new(),
            OrgId::new(),
            nov(30),
            an_invoice_ref(),
            postings,
        )
    }

    #[test]
    fn an_invoice_debits_the_receivable_and_credits_revenue_and_tax_payable() {
        let invoice = invoice_of(&[(dec!(157.50), rate(dec!(20)))], TaxMode::Exclusive);
        let id = EntryId::new();
        let entry = for_invoice(&invoice, id).unwrap();
        assert_eq!(
            sides(&entry),
            [
                (Account::Receivable, dec!(189.00), dec!(0)),
                (Account::Revenue, dec!(0), dec!(157.50)),
                (Account::TaxPayable, dec!(0), dec!(31.50)),
            ]
        );
        assert_eq!(entry.id(), id);
        assert_eq!(entry.org(), invoice.draft.org);
        assert_eq!(entry.on(), invoice.issued_on);
        assert_eq!(entry.currency(), Currency::RUB);
        assert_eq!(entry.total().unwrap(), rub(dec!(189.00)));
        assert_eq!(
            entry.document(),
            &DocumentRef::Invoice {
                invoice: invoice.id,
                number: invoice.number.clone()
            }
        );
    }

    #[test]
    fn a_credit_note_posts_the_reverse_of_an_invoice() {
        let invoice = invoice_of(&[(dec!(100), rate(dec!(20)))], TaxMode::Exclusive);
        let note = credit(
            &invoice,
            &[],
            &[CreditRequestLine {
                line_no: 1,
                amount: Some(dec!(60)),
            }],
        )
        .unwrap();
        let entry = for_credit_note(&note, EntryId::new()).unwrap();
        assert_eq!(
            sides(&entry),
            [
                (Account::Receivable, dec!(0), dec!(60.00)),
                (Account::Revenue, dec!(50.00), dec!(0)),
                (Account::TaxPayable, dec!(10.00), dec!(0)),
            ]
        );
        assert_eq!(entry.on(), note.issued_on);
        assert_eq!(
            entry.document(),
            &DocumentRef::CreditNote {
                credit_note: note.id,
                number: note.number.clone(),
                invoice: invoice.id
            }
        );
    }

    #[test]
    fn an_exempt_invoice_has_no_tax_leg() {
        let invoice = invoice_of(&[(dec!(45), TaxRate::Exempt)], TaxMode::Exclusive);
        let entry = for_invoice(&invoice, EntryId::new()).unwrap();
        assert_eq!(
            sides(&entry),
            [
                (Account::Receivable, dec!(45), dec!(0)),
                (Account::Revenue, dec!(0), dec!(45)),
            ]
        );
    }

    #[test]
    fn a_negative_invoice_posts_the_mirror_image_and_leaves_the_customer_in_credit() {
        let invoice = invoice_of(&[(dec!(-50), rate(dec!(20)))], TaxMode::Exclusive);
        let entry = for_invoice(&invoice, EntryId::new()).unwrap();
        assert_eq!(
            sides(&entry),
            [
                (Account::Receivable, dec!(0), dec!(60)),
                (Account::Revenue, dec!(50), dec!(0)),
                (Account::TaxPayable, dec!(10), dec!(0)),
            ]
        );
        let entries = [entry];
        let owed = |on| customer_balance(&entries, invoice.draft.org, on, Currency::RUB).unwrap();
        assert_eq!(
            owed(nov(30)),
            rub(dec!(0)),
            "not booked before its issue date"
        );
        assert_eq!(owed(invoice.issued_on), rub(dec!(-60)));
    }

    #[test]
    fn an_invoice_of_zero_has_no_entry() {
        let invoice = invoice_of(
            &[(dec!(10), rate(dec!(20))), (dec!(-10), rate(dec!(20)))],
            TaxMode::Exclusive,
        );
        assert_eq!(
            for_invoice(&invoice, EntryId::new()),
            Err(LedgerError::Empty)
        );
    }

    #[test]
    fn an_invoice_whose_columns_do_not_add_up_is_refused() {
        let mut invoice = invoice_of(&[(dec!(100), rate(dec!(20)))], TaxMode::Exclusive);
        invoice.draft.tax = rub(dec!(19.99));
        assert!(matches!(
            for_invoice(&invoice, EntryId::new()),
            Err(LedgerError::Unbalanced { .. })
        ));
    }

    #[test]
    fn an_entry_must_balance() {
        let err = entry(vec![
            Posting::debit(Account::Receivable, rub(dec!(10))),
            Posting::credit(Account::Revenue, rub(dec!(9.99))),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            LedgerError::Unbalanced {
                debits: rub(dec!(10)),
                credits: rub(dec!(9.99))
            }
        );
        assert_eq!(
            err.to_string(),
            "the entry does not balance: debits 10.00 RUB, credits 9.99 RUB"
        );
    }

    #[test]
    fn an_entry_is_in_one_currency() {
        let err = entry(vec![
            Posting::debit(Account::Receivable, rub(dec!(10))),
            Posting::credit(Account::Revenue, Money::new(dec!(10), Currency::USD)),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            LedgerError::MixedCurrencies {
                index: 1,
                expected: Currency::RUB,
                found: Currency::USD
            }
        );
    }

    #[test]
    fn an_entry_has_at_least_one_posting_each_one_amount_in_minor_units_on_one_side() {
        assert_eq!(entry(vec![]), Err(LedgerError::Empty));
        let invalid_at = |postings: Vec<Posting>, at: usize| matches!(entry(postings), Err(LedgerError::InvalidPosting { index, .. }) if index == at);
        let dr = |a: Decimal| Posting::debit(Account::Receivable, rub(a));
        let cr = |a: Decimal| Posting::credit(Account::Revenue, rub(a));
        assert!(invalid_at(vec![dr(dec!(0))], 0));
        assert!(invalid_at(vec![dr(dec!(1)), cr(dec!(-1))], 1));
        assert!(invalid_at(vec![dr(dec!(1.005)), cr(dec!(1.005))], 0));
        let both = Posting {
            account: Account::Cash,
            debit: rub(dec!(1)),
            credit: rub(dec!(1)),
        };
        assert!(invalid_at(vec![both], 0));
        let split = Posting {
            account: Account::Cash,
            debit: rub(dec!(1)),
            credit: Money::zero(Currency::USD),
        };
        assert!(invalid_at(vec![split], 0));
        assert!(entry(vec![dr(dec!(1.50)), cr(dec!(1.5))]).is_ok());
    }

    #[test]
    fn a_signed_posting_debits_a_positive_amount_and_credits_a_negative_one() {
        assert_eq!(
            Posting::signed(Account::Cash, rub(dec!(5))),
            Some(Posting::debit(Account::Cash, rub(dec!(5))))
        );
        assert_eq!(
            Posting::signed(Account::Cash, rub(dec!(-5))),
            Some(Posting::credit(Account::Cash, rub(dec!(5))))
        );
        assert_eq!(Posting::signed(Account::Cash, rub(dec!(0))), None);
        assert_eq!(
            Posting::credit(Account::Cash, rub(dec!(5)))
                .amount()
                .unwrap(),
            rub(dec!(-5))
        );
    }

    #[test]
    fn an_entry_travels_as_json_and_an_unbalanced_one_is_refused_when_read() {
        let invoice = invoice_of(&[(dec!(157.50), rate(dec!(20)))], TaxMode::Exclusive);
        let entry = for_invoice(&invoice, EntryId::new()).unwrap();
        let mut json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["document"]["type"], "invoice");
        assert_eq!(json["document"]["number"], "KPK-2026-000001");
        assert_eq!(json["postings"][0]["account"], "receivable");
        assert_eq!(json["postings"][2]["account"], "tax_payable");
        assert_eq!(json["postings"][1]["credit"]["amount"], "157.50");
        assert_eq!(
            serde_json::from_value::<Entry>(json.clone()).unwrap(),
            entry
        );

        json["postings"][1]["credit"]["amount"] = "157.49".into();
        let err = serde_json::from_value::<Entry>(json.clone()).unwrap_err();
        assert!(err.to_string().contains("does not balance"), "{err}");
        json["postings"][1]["credit"]["amount"] = "157.50".into();
        json["extra"] = true.into();
        assert!(serde_json::from_value::<Entry>(json).is_err());
    }

    #[test]
    fn balances_count_the_entries_booked_up_to_and_including_the_day() {
        let invoice = invoice_of(&[(dec!(100), rate(dec!(20)))], TaxMode::Exclusive);
        let note = credit(
            &invoice,
            &[],
            &[CreditRequestLine {
                line_no: 1,
                amount: Some(dec!(24)),
            }],
        )
        .unwrap();
        let other = invoice_of(&[(dec!(7), TaxRate::Exempt)], TaxMode::Exclusive);
        let entries = [
            for_invoice(&invoice, EntryId::new()).unwrap(),
            for_credit_note(&note, EntryId::new()).unwrap(),
            for_invoice(&other, EntryId::new()).unwrap(),
        ];
        let org = invoice.draft.org;
        let owed = |on| customer_balance(&entries, org, on, Currency::RUB).unwrap();
        assert_eq!(owed(day(2026, 11, 30)), rub(dec!(0)));
        assert_eq!(owed(day(2026, 12, 1)), rub(dec!(120)));
        assert_eq!(owed(day(2026, 12, 4)), rub(dec!(120)));
        assert_eq!(owed(day(2026, 12, 5)), rub(dec!(96)));
        assert_eq!(
            customer_balance(&entries, org, day(2026, 12, 5), Currency::USD).unwrap(),
            Money::zero(Currency::USD)
        );
        let on = day(2026, 12, 31);
        let all = |account| balance(&entries, account, on, Currency::RUB).unwrap();
        assert_eq!(all(Account::Receivable), rub(dec!(103)));
        assert_eq!(all(Account::Revenue), rub(dec!(-87)));
        assert_eq!(all(Account::TaxPayable), rub(dec!(-16)));
        assert_eq!(all(Account::Cash), rub(dec!(0)));
        assert!(is_balanced(&entries));
        assert_eq!(trial_balance(&entries).unwrap().len(), 3);
    }

    // --- Properties ------------------------------------------------------------------------

    /// Invoices (each of some charges, under a tax mode) of one customer, and credit requests:
    /// (which invoice, which line or all, an amount in kopeks or all that is left).
    #[allow(clippy::type_complexity)]
    fn any_books() -> impl Strategy<
        Value = (
            Vec<(Vec<(Decimal, TaxRate)>, TaxMode)>,
            Vec<(usize, Option<(u16, Option<i64>)>)>,
        ),
    > {
        (
            prop::collection::vec((any_charges(4), any_tax_mode()), 1..5),
            prop::collection::vec(
                (
                    0usize..5,
                    prop::option::of((1u16..=4, prop::option::of(1i64..=20_000_000))),
                ),
                0..10,
            ),
        )
    }

    proptest! {
        #[test]
        fn invoices_and_credit_notes_post_balanced_entries_and_the_receivable_is_what_is_owed(
            (invoices, requests) in any_books()
        ) {
            let org = OrgId::new();
            let invoices: Vec<Invoice> = invoices
                .iter()
                .map(|(charges, mode)| {
                    let mut invoice = invoice_of(charges, *mode);
                    invoice.draft.org = org;
                    invoice
                })
                .collect();
            let mut notes: Vec<Vec<CreditNote>> = vec![Vec::new(); invoices.len()];
            for (which, request) in requests {
                let which = which % invoices.len();
                let request: Vec<CreditRequestLine> = request
                    .map(|(no, cents)| CreditRequestLine {
                        line_no: no,
                        amount: cents.map(|c| Decimal::new(c, 2)),
                    })
                    .into_iter()
                    .collect();
                if let Ok(note) = credit(&invoices[which], &notes[which], &request) {
                    notes[which].push(note);
                }
            }

            let mut entries = Vec::new();
            for invoice in &invoices {
                match for_invoice(invoice, EntryId::new()) {
                    Ok(entry) => entries.push(entry),
                    Err(LedgerError::Empty) => prop_assert!(invoice.draft.is_zero()),
                    Err(other) => prop_assert!(false, "{:?}", other),
                }
            }
            for note in notes.iter().flatten() {
                match for_credit_note(note, EntryId::new()) {
                    Ok(entry) => entries.push(entry),
                    Err(LedgerError::Empty) => prop_assert!(note.amounts().is_zero()),
                    Err(other) => prop_assert!(false, "{:?}", other),
                }
            }

            let mut debits = Money::zero(Currency::RUB);
            let mut credits = Money::zero(Currency::RUB);
            let mut receivable = Money::zero(Currency::RUB);
            for entry in &entries {
                let dr = Money::checked_sum(Currency::RUB, entry.postings().iter().map(|p| p.debit)).unwrap();
                let cr = Money::checked_sum(Currency::RUB, entry.postings().iter().map(|p| p.credit)).unwrap();
                prop_assert_eq!(dr, cr);
                debits = debits.checked_add(dr).unwrap();
                credits = credits.checked_add(cr).unwrap();
                for posting in entry.postings().iter().filter(|p| p.account == Account::Receivable) {
                    receivable = receivable.checked_add(posting.amount().unwrap()).unwrap();
                }
            }
            prop_assert_eq!(debits, credits);
            prop_assert!(is_balanced(&entries));

            let owed = Money::checked_sum(
                Currency::RUB,
                invoices
                    .iter()
                    .map(|i| i.draft.gross)
                    .chain(notes.iter().flatten().map(|n| n.gross)),
            )
            .unwrap();
            let balance = customer_balance(&entries, org, day(2026, 12, 31), Currency::RUB).unwrap();
            prop_assert_eq!(balance, receivable);
            prop_assert_eq!(balance, owed);
            let trial = trial_balance(&entries).unwrap();
            let of = |account| trial.get(&(Currency::RUB, account)).copied().unwrap_or(Money::zero(Currency::RUB));
            let net = Money::checked_sum(
                Currency::RUB,
                invoices.iter().map(|i| i.draft.net).chain(notes.iter().flatten().map(|n| n.net)),
            )
            .unwrap();
            prop_assert_eq!(of(Account::Revenue).amount(), -net.amount());
            prop_assert_eq!(of(Account::Receivable), owed);
        }
    }
}
