//! Whose payment a statement line is, and which invoices it pays.
//!
//! # Rules
//!
//! 1. **Direction** ([`direction`]): a line is a *payment* when its payee's account is one of
//!    the provider's own accounts and its payer's is not; a line paid *from* an own account is
//!    a debit; anything else (transfers between own accounts, other accounts) is skipped.
//!    Accounts compare without spaces, case-insensitively (IBANs).
//! 2. **The customer** ([`who_paid`]), from the payer's details: customers whose tax id equals
//!    the payer's INN (or, in camt.053, its tax id); of several, those whose KPP equals the
//!    payer's; of several still, the one that paid from this account before. Without an INN,
//!    or when no customer has it, the customer that paid from this account before (an
//!    accountant confirmed it). One customer left is *confident*; several are *ambiguous*
//!    (each a candidate, with why); none is an *unknown payer*.
//! 3. **The invoices** ([`allocate`]), given the customer and its invoices: the invoices the
//!    purpose names ([`super::purpose::invoices_named`]: series, year and number where
//!    written) that are still open are settled first, in the order named — exactly, partly
//!    or with the rest going on to the oldest open invoices and then to credit. A purpose
//!    naming only invoices that are paid already, or that the customer does not have, goes
//!    to review. A purpose naming none: when exactly one open invoice is open for exactly the
//!    amount, that one; otherwise the oldest first. A payment in another currency than the
//!    customer's goes to review.
//!
//! Every decision carries its reason in words, for the import report and the review list.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::purpose::{NamedInvoice, invoices_named};
use super::{Party, StatementLine};
use crate::ids::{InvoiceId, OrgId};
use crate::invoicing::InvoiceNumber;
use crate::money::{Currency, Money};
use crate::payments::{Allocation, OpenInvoice};

/// What a line is to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Money received on an own account: a payment.
    Credit,
    /// Money sent from an own account.
    Debit,
    /// Between own accounts, or not on an own account at all.
    Other,
}

/// Whether `line` is a payment, a debit or neither, given the provider's `own` accounts.
pub fn direction(line: &StatementLine, own: &[String]) -> Direction {
    let is_own = |party: &Party| {
        let account = account_key(&party.account);
        !account.is_empty() && own.iter().any(|o| account_key(o) == account)
    };
    match (is_own(&line.payer), is_own(&line.payee)) {
        (false, true) => Direction::Credit,
        (true, false) => Direction::Debit,
        _ => Direction::Other,
    }
}

/// An account as compared: without spaces, upper case.
pub fn account_key(account: &str) -> String {
    account
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

/// A bank account as [`account_key`] keys it, if it is one: 20 digits (a Russian account) or
/// an IBAN (two capital letters, two digits, then letters or digits, 15 to 34 in all).
pub fn checked_account(account: &str) -> Option<String> {
    let key = account_key(account);
    let digits = key.len() == 20 && key.chars().all(|c| c.is_ascii_digit());
    let iban = (15..=34).contains(&key.len())
        && key.chars().all(|c| c.is_ascii_alphanumeric())
        && key[..2].chars().all(|c| c.is_ascii_uppercase())
        && key[2..4].chars().all(|c| c.is_ascii_digit());
    (digits || iban).then_some(key)
}

/// A customer as matching sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub org: OrgId,
    pub name: String,
    /// The INN or VAT id, as registered.
    pub tax_id: String,
    pub kpp: Option<String>,
    pub currency: Currency,
}

/// A customer a line may be from, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub org: OrgId,
    pub name: String,
    pub reason: String,
}

/// Who paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payer {
    /// One customer, and why.
    Confident(Candidate),
    /// Several customers could have: each with why.
    Ambiguous(Vec<Candidate>),
    /// No customer matches the payer's details.
    Unknown,
}

/// The customer that paid `line` (see the module docs, rule 2); `known` is the customer each
/// payer account was confirmed for before.
pub fn who_paid(
    line: &StatementLine,
    customers: &[Customer],
    known: impl Fn(&str) -> Option<OrgId>,
) -> Payer {
    let payer = &line.payer;
    let tax_id = payer
        .inn
        .as_deref()
        .or(payer.tax_id.as_deref())
        .map(tax_key)
        .filter(|t| !t.is_empty() && t.chars().any(|c| c != '0'));
    let known_org = known(&account_key(&payer.account));
    let candidate = |c: &Customer, reason: String| Candidate {
        org: c.org,
        name: c.name.clone(),
        reason,
    };
    if let Some(tax_id) = tax_id {
        let same: Vec<&Customer> = customers
            .iter()
            .filter(|c| tax_key(&c.tax_id) == tax_id)
            .collect();
        let by_kpp: Vec<&Customer> = match payer.kpp.as_deref().filter(|k| !k.is_empty()) {
            Some(kpp) if same.len() > 1 => same
                .iter()
                .copied()
                .filter(|c| c.kpp.as_deref() == Some(kpp))
                .collect(),
            _ => Vec::new(),
        };
        let narrowed = if by_kpp.is_empty() {
            same.clone()
        } else {
            by_kpp
        };
        match narrowed.as_slice() {
            [one] => {
                let reason = if same.len() > 1 {
                    format!(
                        "tax id {tax_id} and KPP {}",
                        one.kpp.as_deref().unwrap_or("")
                    )
                } else {
                    format!("tax id {tax_id}")
                };
                return Payer::Confident(candidate(one, reason));
            }
            [] => {}
            several => {
                if let Some(org) = known_org
                    && let Some(one) = several.iter().find(|c| c.org == org)
                {
                    return Payer::Confident(candidate(
                        one,
                        format!("tax id {tax_id}, and paid from this account before"),
                    ));
                }
                return Payer::Ambiguous(
                    several
                        .iter()
                        .map(|c| {
                            candidate(
                                c,
                                format!(
                                    "tax id {tax_id}, shared by {} customers{}",
                                    several.len(),
                                    c.kpp
                                        .as_deref()
                                        .map(|k| format!("; KPP {k}"))
                                        .unwrap_or_default()
                                ),
                            )
                        })
                        .collect(),
                );
            }
        }
    }
    if let Some(org) = known_org
        && let Some(one) = customers.iter().find(|c| c.org == org)
    {
        return Payer::Confident(candidate(
            one,
            format!("paid from account {} before", payer.account.trim()),
        ));
    }
    Payer::Unknown
}

/// A tax id as compared: digits and letters only, upper case.
fn tax_key(tax_id: &str) -> String {
    tax_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// What to do with a payment from a known customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocated {
    /// Record it at once.
    Record {
        allocation: Allocation,
        reason: String,
    },
    /// Leave it to an accountant, with why.
    Review { reason: String },
}

/// Which of the customer's `invoices` a payment of `amount` pays (see the module docs,
/// rule 3). `currency` is the customer's; `invoices` are all of its invoices, open or not.
pub fn allocate(
    line: &StatementLine,
    amount: Money,
    currency: Currency,
    invoices: &[OpenInvoice],
) -> Allocated {
    if amount.currency() != currency {
        return Allocated::Review {
            reason: format!(
                "paid in {}, the customer pays in {currency}",
                amount.currency()
            ),
        };
    }
    let is_open = |i: &OpenInvoice| i.open.amount() > Decimal::ZERO;
    let named = invoices_named(&line.purpose);
    if !named.is_empty() {
        let mut open_named: Vec<&OpenInvoice> = Vec::new();
        let mut closed_named: Vec<&InvoiceNumber> = Vec::new();
        for n in &named {
            for invoice in invoices.iter().filter(|i| names(n, i)) {
                if is_open(invoice) {
                    if !open_named.iter().any(|o| o.id == invoice.id) {
                        open_named.push(invoice);
                    }
                } else {
                    closed_named.push(&invoice.number);
                }
            }
        }
        if open_named.is_empty() {
            let written: Vec<String> = named.iter().map(written).collect();
            let reason = if closed_named.is_empty() {
                format!(
                    "the purpose names invoice {} which the customer does not have",
                    written.join(", ")
                )
            } else {
                format!(
                    "the purpose names invoice {} which is paid already",
                    closed_named
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Allocated::Review { reason };
        }
        let open_total: Decimal = open_named.iter().map(|i| i.open.amount()).sum();
        let numbers = open_named
            .iter()
            .map(|i| i.number.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let how = match amount.amount().cmp(&open_total) {
            std::cmp::Ordering::Equal => "pays exactly",
            std::cmp::Ordering::Less => "pays part of",
            std::cmp::Ordering::Greater => "pays, and more than,",
        };
        return Allocated::Record {
            allocation: Allocation::First(open_named.iter().map(|i| i.id).collect()),
            reason: format!("{how} invoice {numbers} named in the purpose"),
        };
    }
    let exact: Vec<&OpenInvoice> = invoices
        .iter()
        .filter(|i| is_open(i) && i.open == amount)
        .collect();
    if let [one] = exact.as_slice() {
        return Allocated::Record {
            allocation: Allocation::First(vec![one.id]),
            reason: format!("the amount is what invoice {} owes", one.number),
        };
    }
    Allocated::Record {
        allocation: Allocation::Oldest,
        reason: if invoices.iter().any(is_open) {
            "no invoice named: settles the oldest open invoices first".into()
        } else {
            "nothing open: all of it is credit".into()
        },
    }
}

/// Whether `named` is `invoice`'s number (a part not written matches any).
fn names(named: &NamedInvoice, invoice: &OpenInvoice) -> bool {
    let number = &invoice.number;
    number.seq == named.seq
        && named.year.is_none_or(|y| y == number.year)
        && named
            .series
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(number.series.as_str()))
}

fn written(named: &NamedInvoice) -> String {
    match (&named.series, named.year) {
        (Some(s), Some(y)) => format!("{s}-{y}-{:06}", named.seq),
        (None, Some(y)) => format!("{y}-{}", named.seq),
        _ => format!("№ {}", named.seq),
    }
}

/// The invoice ids of an allocation, for the review list's candidates.
pub fn invoices_of(allocation: &Allocation) -> Vec<InvoiceId> {
    match allocation {
        Allocation::Oldest => Vec::new(),
        Allocation::First(ids) => ids.clone(),
        Allocation::Exactly(parts) => parts.iter().map(|(id, _)| *id).collect(),
    }
}

#[cfg(test)]
mod tests;
