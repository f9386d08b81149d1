//! Bank statements, read into one shape whatever the bank wrote: the `1CClientBankExchange`
//! text format of Russian banks ([`exchange`]) and ISO 20022 `camt.053` XML ([`camt`]) both
//! become a [`Statement`] — the balances of each account and every line moved on them, with
//! both parties — which [`statement`] reads from a file's bytes. Which payments a purpose
//! names is [`purpose`]; which line is whose payment is [`matching`].

pub mod camt;
pub mod exchange;
pub mod imports;
pub mod matching;
pub mod purpose;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::money::Currency;

/// Why a file is refused: its 1-based line, the key or element there (if any) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {reason}", key.as_ref().map(|k| format!(", {k}")).unwrap_or_default())]
pub struct StatementError {
    pub line: usize,
    pub key: Option<String>,
    pub reason: String,
}

/// The format a statement came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementFormat {
    /// `1CClientBankExchange` 1.02 / 1.03.
    OneC,
    /// ISO 20022 `camt.053` (bank-to-customer statement).
    Camt053,
}

/// The balances of one account over the statement's dates, as the bank stated them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balances {
    /// Where they are written.
    pub line: usize,
    /// The account: 20 digits or an IBAN.
    pub account: String,
    /// `None` where the format does not say (1CClientBankExchange: roubles).
    pub currency: Option<Currency>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub opening: Decimal,
    pub credited: Decimal,
    pub debited: Decimal,
    pub closing: Decimal,
}

impl Balances {
    /// Whether opening + credited − debited = closing.
    pub fn add_up(&self) -> bool {
        self.opening + self.credited - self.debited == self.closing
    }
}

/// One party of a line: who paid, or who was paid.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    pub name: String,
    /// The account: 20 digits or an IBAN.
    pub account: String,
    /// A Russian INN.
    pub inn: Option<String>,
    pub kpp: Option<String>,
    /// A VAT or other tax id outside Russia (camt.053).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
}

/// One payment on the statement, between two parties; whether it is a credit or a debit of
/// the provider is the provider's to say (by its own accounts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// Where it is written: its section's or entry's first line.
    pub line: usize,
    /// The bank document's number (payment order number; camt.053: the end-to-end or
    /// account-servicer reference).
    pub number: String,
    /// The bank document's date.
    pub date: NaiveDate,
    /// Positive, at most two decimal places.
    pub amount: Decimal,
    /// `None` where the format does not say (1CClientBankExchange: roubles).
    pub currency: Option<Currency>,
    pub payer: Party,
    pub payee: Party,
    /// When the money reached the payee, where stated.
    pub received_on: Option<NaiveDate>,
    /// When it left the payer, where stated.
    pub written_off_on: Option<NaiveDate>,
    /// What it is for, as the payer wrote it.
    pub purpose: String,
}

/// A statement in one shape, whatever its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub format: StatementFormat,
    /// The accounts covered, with their balances.
    pub balances: Vec<Balances>,
    pub lines: Vec<StatementLine>,
}

/// Reads a statement file: `camt.053` when it is XML, `1CClientBankExchange` otherwise.
pub fn statement(bytes: &[u8]) -> Result<Statement, StatementError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF))
        .unwrap_or(bytes.len());
    if bytes[start..].starts_with(b"<") {
        camt::parse(bytes)
    } else {
        exchange::parse(bytes).map(Statement::from)
    }
}

impl From<exchange::Exchange> for Statement {
    fn from(exchange: exchange::Exchange) -> Self {
        let balances = exchange.accounts;
        let lines = exchange
            .documents
            .into_iter()
            .map(|d| StatementLine {
                line: d.line,
                number: d.number,
                date: d.date,
                amount: d.amount,
                currency: None,
                payer: Party {
                    name: d.payer_name,
                    account: d.payer_account,
                    inn: d.payer_inn,
                    kpp: d.payer_kpp,
                    tax_id: None,
                },
                payee: Party {
                    name: d.payee_name,
                    account: d.payee_account,
                    inn: d.payee_inn,
                    kpp: None,
                    tax_id: None,
                },
                received_on: d.received_on,
                written_off_on: d.written_off_on,
                purpose: d.purpose,
            })
            .collect();
        Self {
            format: StatementFormat::OneC,
            balances,
            lines,
        }
    }
}
