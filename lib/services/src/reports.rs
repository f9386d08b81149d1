//! A customer's statement of account for any dates — the concept's "full report of the
//! services rendered and the payments made" — composed from the ledger by
//! [`kopek_domain::account_statement::compose`], in the formats people open: the composed
//! statement (JSON views are the API's), CSV and XLSX.

use chrono::{Datelike, NaiveDate};
use kopek_domain::account_statement::{
    self, AccountStatement, Cell, StatementError, StatementInput,
};
use kopek_domain::accounts::{DocumentLanguage, Organisation, Principal, Scope};
use kopek_domain::ids::OrgId;
use kopek_domain::ledger::Entry;

use crate::access::org_of;
use crate::{Context, Error, Result};

/// A customer's statement of account, with whose it is.
#[derive(Debug, Clone)]
pub struct StatementOf {
    pub statement: AccountStatement,
    /// The customer's legal name.
    pub customer: String,
    /// The customer's document language (the default of the files).
    pub language: DocumentLanguage,
}

/// Reports on customers' accounts.
#[derive(Clone)]
pub struct Reports {
    ctx: Context,
}

impl Reports {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// The statement of account of a customer from `from` to `to` (`invoices:read`;
    /// customers their own, staff name one). `to` defaults to today, `from` to the first of
    /// January of `to`'s year. One currency: the customer's.
    pub async fn account_statement(
        &self,
        caller: &Principal,
        org: Option<OrgId>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<StatementOf> {
        caller.require_scope(Scope::InvoicesRead)?;
        let org = org_of(caller, org)?;
        let organisation = self
            .ctx
            .store
            .organisation(org)
            .await?
            .ok_or(Error::NotFound)?;
        self.statement_of(&organisation, from, to).await
    }

    /// The statement of account of `organisation` from `from` to `to` (defaults as
    /// [`Self::account_statement`]'s), for a use case that checked its caller already (or has
    /// none: a report the documents function makes).
    pub(crate) async fn statement_of(
        &self,
        organisation: &Organisation,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<StatementOf> {
        let org = organisation.id;
        let store = &self.ctx.store;
        let to = to.unwrap_or_else(|| self.ctx.today());
        let from = from
            .or_else(|| NaiveDate::from_ymd_opt(to.year(), 1, 1))
            .ok_or_else(|| Error::invalid("to", "is out of range"))?;
        let entries = store.ledger_entries::<Entry>(org).await?;
        let invoices: Vec<_> = store
            .invoices_of_org_all(org)
            .await?
            .into_iter()
            .map(|i| i.invoice)
            .collect();
        let credit_notes = store.credit_notes_of_org(org).await?;
        let payments = store.payments_of(org).await?;
        let refunds = store.refunds_of(org).await?;
        let statement = account_statement::compose(&StatementInput {
            org,
            currency: organisation.currency,
            from,
            to,
            entries: &entries,
            invoices: &invoices,
            credit_notes: &credit_notes,
            payments: &payments,
            refunds: &refunds,
        })
        .map_err(|e| match e {
            StatementError::Invalid { field, reason } => Error::invalid(field, reason),
            other => Error::internal(other),
        })?;
        Ok(StatementOf {
            statement,
            customer: organisation.legal_name.to_string(),
            language: organisation.language,
        })
    }
}

/// The statement as a spreadsheet: [`AccountStatement::table`], amounts as numbers with two
/// decimals (exact in a double at these magnitudes; the CSV keeps the text).
pub fn xlsx(statement: &AccountStatement, language: DocumentLanguage) -> Result<Vec<u8>> {
    use rust_decimal::prelude::ToPrimitive;
    let fail = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("the statement: {e}"));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("statement").map_err(fail)?;
    let money = rust_xlsxwriter::Format::new().set_num_format("#,##0.00");
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (r, row) in statement.table(language).iter().enumerate() {
        let r = u32::try_from(r).map_err(Error::internal)?;
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).map_err(Error::internal)?;
            match cell {
                Cell::Text(text) if r == 0 => {
                    sheet
                        .write_string_with_format(r, c, text, &bold)
                        .map_err(fail)?;
                }
                Cell::Text(text) => {
                    sheet.write_string(r, c, text).map_err(fail)?;
                }
                Cell::Amount(amount) => {
                    let value = amount.amount().to_f64().ok_or_else(|| {
                        Error::Internal(format!("the statement: {amount} is no number"))
                    })?;
                    sheet
                        .write_number_with_format(r, c, value, &money)
                        .map_err(fail)?;
                }
                Cell::Empty => {}
            }
        }
    }
    sheet.set_column_width(3, 60).map_err(fail)?;
    book.save_to_buffer().map_err(fail)
}
