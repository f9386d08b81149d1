//! ISO 20022 `camt.053`: the bank-to-customer statement in XML, any version from
//! `camt.053.001.02` to `camt.053.001.13`. Elements are matched by their local name and the
//! namespace is not checked, but the root must be a `Document` holding `BkToCstmrStmt`.
//!
//! Each `Stmt` becomes one [`Balances`]: its account (`Acct/Id/IBAN`, else `Acct/Id/Othr/Id`)
//! and currency (`Acct/Ccy`, else the opening balance's), the opening (`OPBD`, else `PRCD`)
//! and closing (`CLBD`) balances, negative when `DBIT`, and what was credited and debited:
//! the bank's own `TxsSummry` totals where it states them, else the sum of its booked
//! entries. Each booked `Ntry` (status `BOOK`; pending and other entries are skipped) becomes
//! one [`StatementLine`], or one per `TxDtls` when it batches several. The statement's
//! account is the payee of a credit and the payer of a debit; `RltdPties` is the other side
//! (its name, account and `TXID` tax id). A line's number is its `EndToEndId` (unless
//! `NOTPROVIDED`), else the account servicer's reference, else the `NtryRef`; its purpose is
//! the remittance information (`Ustrd`, then the `Strd` creditor references), else
//! `AddtlTxInf`, else `AddtlNtryInf`.
//!
//! [`parse`] reads a whole file or refuses it with the first error, naming its 1-based line
//! and element ([`StatementError`]); it never panics, whatever the bytes. A file is UTF-8 of
//! at most [`MAX_FILE_BYTES`], without a DTD; amounts are unsigned decimals with at most two
//! places and at most [`MAX_AMOUNT`], in a [`Currency`] this system knows.

use chrono::NaiveDate;
use roxmltree::{Document, Node, ParsingOptions};
use rust_decimal::Decimal;

use super::exchange::{MAX_AMOUNT, MAX_FILE_BYTES};
use super::{Balances, Party, Statement, StatementError, StatementFormat, StatementLine};
use crate::money::Currency;

/// The statement in `bytes`, or the first error, naming its line and element.
pub fn parse(bytes: &[u8]) -> Result<Statement, StatementError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(error(1, None, "the file is larger than 32 MiB".into()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        error(line, None, "the file is not UTF-8 text".into())
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // An XML declaration must open the document; whitespace before it is forgiven.
    let trimmed = text.trim_start();
    let skip = if trimmed.starts_with("<?xml") {
        text.len() - trimmed.len()
    } else {
        0
    };
    let body = text.get(skip..).unwrap_or(text);
    let lines = Lines::new(text, skip);
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let document =
        Document::parse_with_options(body, options).map_err(|e| lines.xml_error(&e, body))?;
    Reader { lines }.document(&document)
}

/// Whether a balance or an entry adds to the account or takes from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Credit,
    Debit,
}

/// The dates of a booked entry.
#[derive(Debug, Clone, Copy)]
struct Dates {
    booked: NaiveDate,
    value: Option<NaiveDate>,
}

/// One line of the statement being read: its element, its entry and transaction details.
#[derive(Clone, Copy)]
struct Item<'a, 'input> {
    at: Node<'a, 'input>,
    entry: Node<'a, 'input>,
    details: Option<Node<'a, 'input>>,
    amount: Decimal,
    currency: Currency,
    direction: Direction,
    dates: Dates,
}

/// Where each line of the file starts, to name the line of a byte offset.
struct Lines {
    /// The byte offsets of every `\n`.
    newlines: Vec<usize>,
    /// The bytes before what the XML parser reads (whitespace before the declaration).
    skip: usize,
    /// The file's last line with any text on it.
    last: usize,
}

impl Lines {
    fn new(text: &str, skip: usize) -> Self {
        let newlines: Vec<usize> = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect();
        let end = text.trim_end().len();
        let last = newlines.partition_point(|n| *n < end) + 1;
        Self {
            newlines,
            skip,
            last,
        }
    }

    /// The 1-based line of a byte offset in what the XML parser read.
    fn at(&self, offset: usize) -> usize {
        let offset = self.skip.saturating_add(offset);
        self.newlines.partition_point(|n| *n < offset) + 1
    }

    /// A parser's error, on the line it names (or the last line, where the file ended early).
    fn xml_error(&self, e: &roxmltree::Error, body: &str) -> StatementError {
        use roxmltree::Error as E;
        match e {
            E::UnexpectedEndOfStream | E::UnclosedRootNode => error(
                self.last,
                None,
                "the file ends before its XML is complete".into(),
            ),
            E::NoRootNode => error(self.last, None, "the file holds no XML element".into()),
            E::DtdDetected => error(
                self.at(body.find("<!DOCTYPE").unwrap_or(0)),
                None,
                "a statement may not carry a DTD (<!DOCTYPE>)".into(),
            ),
            _ => {
                let row = usize::try_from(e.pos().row).unwrap_or(1).max(1);
                error(
                    self.at(0) + row - 1,
                    None,
                    format!("the file is not well-formed XML: {e}"),
                )
            }
        }
    }
}

/// Reads the parsed document, naming the line of every element it refuses.
struct Reader {
    lines: Lines,
}

impl Reader {
    fn document(&self, document: &Document) -> Result<Statement, StatementError> {
        let root = document.root_element();
        if !is(root, "Document") {
            return Err(self.fail(
                root,
                name(root),
                "is not a camt.053 statement: the root element must be Document".into(),
            ));
        }
        let Some(statements) = child(root, "BkToCstmrStmt") else {
            return Err(self.fail(
                root,
                "BkToCstmrStmt",
                "is missing: the Document is not a camt.053 bank-to-customer statement".into(),
            ));
        };
        let mut balances = Vec::new();
        let mut lines = Vec::new();
        for stmt in children(statements, "Stmt") {
            balances.push(self.statement(stmt, &mut lines)?);
        }
        if balances.is_empty() {
            return Err(self.fail(
                statements,
                "Stmt",
                "is missing: BkToCstmrStmt holds no statement".into(),
            ));
        }
        Ok(Statement {
            format: StatementFormat::Camt053,
            balances,
            lines,
        })
    }

    /// One `Stmt`: its balances, with its booked entries added to `out`.
    fn statement(
        &self,
        stmt: Node,
        out: &mut Vec<StatementLine>,
    ) -> Result<Balances, StatementError> {
        let acct = self.require(stmt, "Acct")?;
        let id = self.require(acct, "Id")?;
        let account = account_id(acct).ok_or_else(|| {
            self.fail(
                id,
                "Id",
                "names neither an IBAN nor another account id (Othr/Id)".into(),
            )
        })?;
        let account_currency = match child(acct, "Ccy") {
            Some(ccy) => Some(self.currency(ccy, &text(ccy))?),
            None => None,
        };
        let own = Party {
            name: child(acct, "Ownr").map(party_name).unwrap_or_default(),
            account: account.clone(),
            ..Party::default()
        };
        let period = child(stmt, "FrToDt");
        let from = match period.and_then(|p| child(p, "FrDtTm")) {
            Some(node) => Some(self.date(node)?),
            None => None,
        };
        let to = match period.and_then(|p| child(p, "ToDtTm")) {
            Some(node) => Some(self.date(node)?),
            None => None,
        };

        let (mut opening, mut previous, mut closing) = (None, None, None);
        for bal in children(stmt, "Bal") {
            let slot = match text_at(bal, &["Tp", "CdOrPrtry", "Cd"]).as_deref() {
                Some("OPBD") => &mut opening,
                Some("PRCD") => &mut previous,
                Some("CLBD") => &mut closing,
                _ => continue,
            };
            if slot.is_some() {
                continue;
            }
            let amt = self.require(bal, "Amt")?;
            let (value, currency) = self.amount(amt, false)?;
            let value = match self.indicator(bal)? {
                Direction::Debit if !value.is_zero() => -value,
                _ => value,
            };
            *slot = Some((value, currency));
        }
        let (opening, opening_currency) = opening.or(previous).ok_or_else(|| {
            self.fail(
                stmt,
                "Bal",
                "is missing: the statement states no opening balance (OPBD or PRCD)".into(),
            )
        })?;
        let (closing, _) = closing.ok_or_else(|| {
            self.fail(
                stmt,
                "Bal",
                "is missing: the statement states no closing balance (CLBD)".into(),
            )
        })?;

        let (mut credited, mut debited) = (Decimal::ZERO, Decimal::ZERO);
        for entry in children(stmt, "Ntry") {
            if !self.booked(entry)? {
                continue;
            }
            let amt = self.require(entry, "Amt")?;
            let (amount, currency) = self.amount(amt, true)?;
            let direction = self.indicator(entry)?;
            let total = match direction {
                Direction::Credit => &mut credited,
                Direction::Debit => &mut debited,
            };
            *total = total.checked_add(amount).ok_or_else(|| {
                self.fail(amt, "Amt", "the statement's total is too large".into())
            })?;
            self.entry(entry, amount, currency, direction, &own, out)?;
        }
        if let Some(summary) = child(stmt, "TxsSummry") {
            if let Some(sum) = at(summary, &["TtlCdtNtries", "Sum"]) {
                credited = self.decimal(sum, false)?;
            }
            if let Some(sum) = at(summary, &["TtlDbtNtries", "Sum"]) {
                debited = self.decimal(sum, false)?;
            }
        }

        Ok(Balances {
            line: self.line(stmt),
            account,
            currency: Some(account_currency.unwrap_or(opening_currency)),
            from,
            to,
            opening,
            credited,
            debited,
            closing,
        })
    }

    /// Whether an entry is booked (`Sts` or `Sts/Cd` is `BOOK`).
    fn booked(&self, entry: Node) -> Result<bool, StatementError> {
        let status = self.require(entry, "Sts")?;
        let code = child(status, "Cd").map_or_else(|| text(status), text);
        Ok(code == "BOOK")
    }

    /// The lines of a booked entry: one per `TxDtls` when it has several, else one.
    fn entry(
        &self,
        entry: Node,
        amount: Decimal,
        currency: Currency,
        direction: Direction,
        own: &Party,
        out: &mut Vec<StatementLine>,
    ) -> Result<(), StatementError> {
        let booking = self.require(entry, "BookgDt")?;
        let dates = Dates {
            booked: self.date_choice(booking)?,
            value: match child(entry, "ValDt") {
                Some(value) => Some(self.date_choice(value)?),
                None => None,
            },
        };
        let details: Vec<Node> = children(entry, "NtryDtls")
            .flat_map(|d| children(d, "TxDtls"))
            .collect();
        if details.len() < 2 {
            let item = Item {
                at: entry,
                entry,
                details: details.first().copied(),
                amount,
                currency,
                direction,
                dates,
            };
            out.push(self.item(item, own)?);
            return Ok(());
        }
        for tx in details {
            let amt = child(tx, "Amt")
                .or_else(|| at(tx, &["AmtDtls", "TxAmt", "Amt"]))
                .ok_or_else(|| {
                    self.fail(
                        tx,
                        "Amt",
                        "is missing from these TxDtls of an entry with several".into(),
                    )
                })?;
            let (amount, currency) = self.amount(amt, true)?;
            let direction = match child(tx, "CdtDbtInd") {
                Some(_) => self.indicator(tx)?,
                None => direction,
            };
            let item = Item {
                at: tx,
                entry,
                details: Some(tx),
                amount,
                currency,
                direction,
                dates,
            };
            out.push(self.item(item, own)?);
        }
        Ok(())
    }

    /// One statement line, between the statement's account and the related party.
    fn item(&self, item: Item, own: &Party) -> Result<StatementLine, StatementError> {
        let tx = item.details;
        let tx_text = |path: &[&str]| tx.and_then(|t| text_at(t, path));
        let number = tx_text(&["Refs", "EndToEndId"])
            .filter(|r| !r.eq_ignore_ascii_case("NOTPROVIDED"))
            .or_else(|| tx_text(&["Refs", "AcctSvcrRef"]))
            .or_else(|| text_at(item.entry, &["AcctSvcrRef"]))
            .or_else(|| text_at(item.entry, &["NtryRef"]))
            .ok_or_else(|| {
                self.fail(
                    item.at,
                    "AcctSvcrRef",
                    "is missing: the entry has no EndToEndId, AcctSvcrRef or NtryRef to \
                     number it"
                        .into(),
                )
            })?;
        let (role, role_account) = match item.direction {
            Direction::Credit => ("Dbtr", "DbtrAcct"),
            Direction::Debit => ("Cdtr", "CdtrAcct"),
        };
        let parties = tx.and_then(|t| child(t, "RltdPties"));
        let party = parties.and_then(|p| child(p, role));
        let other = Party {
            name: party.map(party_name).unwrap_or_default(),
            account: parties
                .and_then(|p| child(p, role_account))
                .and_then(account_id)
                .unwrap_or_default(),
            tax_id: party.and_then(tax_id),
            ..Party::default()
        };
        let purpose = tx
            .and_then(|t| child(t, "RmtInf"))
            .map(remittance)
            .filter(|p| !p.is_empty())
            .or_else(|| tx_text(&["AddtlTxInf"]))
            .or_else(|| text_at(item.entry, &["AddtlNtryInf"]))
            .unwrap_or_default();
        let (payer, payee, received_on, written_off_on) = match item.direction {
            Direction::Credit => (
                other,
                own.clone(),
                Some(item.dates.value.unwrap_or(item.dates.booked)),
                None,
            ),
            Direction::Debit => (own.clone(), other, None, Some(item.dates.booked)),
        };
        Ok(StatementLine {
            line: self.line(item.at),
            number,
            date: item.dates.booked,
            amount: item.amount,
            currency: Some(item.currency),
            payer,
            payee,
            received_on,
            written_off_on,
            purpose,
        })
    }

    /// The 1-based line where `node` starts.
    fn line(&self, node: Node) -> usize {
        self.lines.at(node.range().start)
    }

    fn fail(&self, node: Node, key: &str, reason: String) -> StatementError {
        error(self.line(node), Some(key), reason)
    }

    /// The child `name` of `parent`, or an error on the parent's line naming it.
    fn require<'a, 'input>(
        &self,
        parent: Node<'a, 'input>,
        name_: &str,
    ) -> Result<Node<'a, 'input>, StatementError> {
        child(parent, name_)
            .ok_or_else(|| self.fail(parent, name_, format!("is missing from {}", name(parent))))
    }

    /// The `CdtDbtInd` of `parent`.
    fn indicator(&self, parent: Node) -> Result<Direction, StatementError> {
        let node = self.require(parent, "CdtDbtInd")?;
        match text(node).as_str() {
            "CRDT" => Ok(Direction::Credit),
            "DBIT" => Ok(Direction::Debit),
            other => Err(self.fail(
                node,
                "CdtDbtInd",
                format!("`{}` is neither CRDT nor DBIT", quote(other)),
            )),
        }
    }

    /// An amount element with its `Ccy`; `positive`: above zero (a payment), else zero or more.
    fn amount(&self, amt: Node, positive: bool) -> Result<(Decimal, Currency), StatementError> {
        let value = self.decimal(amt, positive)?;
        let code = amt.attribute("Ccy").ok_or_else(|| {
            self.fail(
                amt,
                name(amt),
                "has no Ccy attribute naming its currency".into(),
            )
        })?;
        Ok((value, self.currency(amt, code.trim())?))
    }

    /// An unsigned decimal of at most two places and at most [`MAX_AMOUNT`].
    fn decimal(&self, node: Node, positive: bool) -> Result<Decimal, StatementError> {
        let value = text(node);
        let bad =
            |reason: &str| self.fail(node, name(node), format!("`{}` {reason}", quote(&value)));
        if value.starts_with('-') {
            return Err(bad(
                "is negative: a camt.053 amount is unsigned, its sign is CdtDbtInd",
            ));
        }
        let (whole, fraction) = value.split_once('.').unwrap_or((&value, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || value.ends_with('.') {
            return Err(bad("is no amount"));
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > 2 {
            return Err(bad("has more than two decimal places"));
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 13 {
            return Err(bad(&format!("is more than {MAX_AMOUNT}")));
        }
        let normalized = if fraction.is_empty() {
            format!("0{whole}")
        } else {
            format!("0{whole}.{fraction}")
        };
        let amount: Decimal = normalized.parse().map_err(|_| bad("is no amount"))?;
        if positive && amount.is_zero() {
            return Err(bad("must be above zero"));
        }
        if amount > MAX_AMOUNT {
            return Err(bad(&format!("is more than {MAX_AMOUNT}")));
        }
        Ok(amount)
    }

    /// A currency code, refused on `node`'s line when this system does not know it.
    fn currency(&self, node: Node, code: &str) -> Result<Currency, StatementError> {
        code.parse().map_err(|_| {
            let known: Vec<&str> = Currency::ALL.iter().map(|c| c.code()).collect();
            self.fail(
                node,
                name(node),
                format!(
                    "`{}` is no currency this system knows ({})",
                    quote(code),
                    known.join(", ")
                ),
            )
        })
    }

    /// The date of an ISO date or date-time element (`2026-12-05`, `2026-12-05T10:00:00+01:00`).
    fn date(&self, node: Node) -> Result<NaiveDate, StatementError> {
        let value = text(node);
        let rest_ok = |rest: &str| rest.is_empty() || rest.starts_with(['T', 'Z', '+', '-']);
        value
            .get(..10)
            .filter(|_| value.get(10..).is_some_and(rest_ok))
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| {
                self.fail(
                    node,
                    name(node),
                    format!("`{}` is no ISO date (YYYY-MM-DD)", quote(&value)),
                )
            })
    }

    /// The date of a `Dt`-or-`DtTm` choice (`BookgDt`, `ValDt`).
    fn date_choice(&self, node: Node) -> Result<NaiveDate, StatementError> {
        match child(node, "Dt").or_else(|| child(node, "DtTm")) {
            Some(date) => self.date(date),
            None => Err(self.fail(node, name(node), "has neither Dt nor DtTm".into())),
        }
    }
}

fn error(line: usize, key: Option<&str>, reason: String) -> StatementError {
    StatementError {
        line,
        key: key.map(str::to_owned),
        reason,
    }
}

/// A value quoted in an error, cut to a readable length.
fn quote(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() > MAX {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    } else {
        value.to_owned()
    }
}

/// The local name of an element.
fn name<'input>(node: Node<'_, 'input>) -> &'input str {
    node.tag_name().name()
}

fn is(node: Node, local: &str) -> bool {
    node.is_element() && name(node) == local
}

/// The first child element named `local`.
fn child<'a, 'input>(node: Node<'a, 'input>, local: &str) -> Option<Node<'a, 'input>> {
    node.children().find(|c| is(*c, local))
}

/// Every child element named `local`.
fn children<'a, 'input>(
    node: Node<'a, 'input>,
    local: &str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(move |c| is(*c, local))
}

/// The element at `path` below `node`, following the first child of each name.
fn at<'a, 'input>(node: Node<'a, 'input>, path: &[&str]) -> Option<Node<'a, 'input>> {
    path.iter().try_fold(node, |n, local| child(n, local))
}

/// An element's own text, trimmed.
fn text(node: Node) -> String {
    node.children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The non-empty text of the element at `path` below `node`.
fn text_at(node: Node, path: &[&str]) -> Option<String> {
    at(node, path).map(text).filter(|t| !t.is_empty())
}

/// An account's `Id/IBAN`, else its `Id/Othr/Id`.
fn account_id(acct: Node) -> Option<String> {
    text_at(acct, &["Id", "IBAN"]).or_else(|| text_at(acct, &["Id", "Othr", "Id"]))
}

/// A party's `Nm` (`Pty/Nm` from version 001.08).
fn party_name(party: Node) -> String {
    text_at(party, &["Nm"])
        .or_else(|| text_at(party, &["Pty", "Nm"]))
        .unwrap_or_default()
}

/// A party's organisation id of scheme `TXID`, else one without a scheme.
fn tax_id(party: Node) -> Option<String> {
    let party = child(party, "Pty").unwrap_or(party);
    let others: Vec<Node> = at(party, &["Id", "OrgId"])
        .map(|org| children(org, "Othr").collect())
        .unwrap_or_default();
    others
        .iter()
        .find(|o| text_at(**o, &["SchmeNm", "Cd"]).as_deref() == Some("TXID"))
        .or_else(|| others.iter().find(|o| child(**o, "SchmeNm").is_none()))
        .and_then(|o| text_at(*o, &["Id"]))
}

/// The remittance information: every `Ustrd`, then every `Strd/CdtrRefInf/Ref`, space-joined.
fn remittance(rmt: Node) -> String {
    let mut parts: Vec<String> = children(rmt, "Ustrd")
        .map(text)
        .filter(|t| !t.is_empty())
        .collect();
    parts.extend(children(rmt, "Strd").filter_map(|s| text_at(s, &["CdtrRefInf", "Ref"])));
    parts.join(" ")
}

#[cfg(test)]
mod tests;
