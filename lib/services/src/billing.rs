//! The provider's billing settings, and what a customer owes from the ledger.

use chrono::NaiveDate;
use kopek_aws::dynamo::StoreError;
use kopek_domain::accounts::{MAX_PAYMENT_TERMS_DAYS, Principal, Role, Scope};
use kopek_domain::ids::OrgId;
use kopek_domain::invoicing::{
    BillingSettings, InvoiceSeries, InvoicingError, ProviderRequisites, RequisitesForm,
    SeriesCount, TaxMode, ZeroInvoicePolicy,
};
use kopek_domain::ledger::{self, Entry};
use kopek_domain::money::{Currency, Money};

use crate::access::{BILLING_STAFF, org_of};
use crate::{Context, Error, Result};

/// Payment terms when no billing settings are saved.
pub const DEFAULT_PAYMENT_TERMS_DAYS: u16 = 14;

/// The saved billing settings, or the defaults (tax-exclusive prices, no zero invoices,
/// 14 days to pay, the configured series): what the close and credit notes use.
pub(crate) async fn settings_in_force(ctx: &Context) -> Result<BillingSettings, StoreError> {
    Ok(ctx
        .store
        .billing_settings()
        .await?
        .map(|s| s.settings)
        .unwrap_or_else(|| BillingSettings {
            series: ctx.settings.invoice_series.clone(),
            series_count: SeriesCount::ONE,
            tax_mode: TaxMode::Exclusive,
            zero_invoices: ZeroInvoicePolicy::Skip,
            payment_terms_days: DEFAULT_PAYMENT_TERMS_DAYS,
            bank_accounts: Vec::new(),
        }))
}

/// Billing settings with the revision to send with a change (0 while never saved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsRead {
    pub settings: BillingSettings,
    pub rev: u64,
}

/// New billing settings, replacing the old whole, over the revision read. The series is
/// checked after the caller is (an unauthorised caller learns nothing from its input).
#[derive(Debug, Clone)]
pub struct SaveSettings {
    pub series: String,
    /// How many series invoices are numbered in (1 to 99).
    pub series_count: u8,
    pub tax_mode: TaxMode,
    pub zero_invoices: ZeroInvoicePolicy,
    pub payment_terms_days: u16,
    /// Further own accounts statements may show.
    pub bank_accounts: Vec<String>,
    /// The `rev` read; `None` (or 0) while never saved.
    pub rev: Option<u64>,
}

/// The provider's requisites (`None` until an admin saves them) with the revision to send
/// with a change (0 while never saved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequisitesRead {
    pub requisites: Option<ProviderRequisites>,
    pub rev: u64,
}

/// New requisites, replacing the old whole, over the revision read.
#[derive(Debug, Clone)]
pub struct SaveRequisites {
    pub requisites: RequisitesForm,
    /// The `rev` read; `None` (or 0) while never saved.
    pub rev: Option<u64>,
}

/// A customer's balance on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub org: OrgId,
    pub on: NaiveDate,
    pub currency: Currency,
    /// Positive: the customer owes it; negative: the provider owes the customer.
    pub balance: Money,
    /// The ledger entries booked on or before `on`.
    pub entries: usize,
    /// Now (whatever `on` says): credit not yet drawn down by an invoice.
    pub credit: Money,
}

/// A customer's ledger entries, oldest first.
#[derive(Debug, Clone)]
pub struct Ledger {
    pub org: OrgId,
    pub currency: Currency,
    pub entries: Vec<Entry>,
}

/// Settings, balances and the ledger.
#[derive(Clone)]
pub struct Billing {
    ctx: Context,
}

impl Billing {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// The billing settings in force (the defaults until saved), for billing staff.
    pub async fn settings(&self, caller: &Principal) -> Result<SettingsRead> {
        caller.require_role(BILLING_STAFF)?;
        caller.require_scope(Scope::InvoicesRead)?;
        let rev = self
            .ctx
            .store
            .billing_settings()
            .await?
            .map_or(0, |saved| saved.rev);
        Ok(SettingsRead {
            settings: settings_in_force(&self.ctx).await?,
            rev,
        })
    }

    /// Saves the billing settings (admins); refused naming `rev` when they changed since
    /// they were read. Later closes and credit notes use them.
    pub async fn save_settings(
        &self,
        caller: &Principal,
        save: SaveSettings,
    ) -> Result<SettingsRead> {
        caller.require_role(&[Role::Admin])?;
        caller.require_scope(Scope::InvoicesRead)?;
        let series = InvoiceSeries::new(&save.series)?;
        let series_count = SeriesCount::new(save.series_count)?;
        if save.payment_terms_days > MAX_PAYMENT_TERMS_DAYS {
            return Err(Error::invalid(
                "payment_terms_days",
                format!("must be from 0 to {MAX_PAYMENT_TERMS_DAYS} days"),
            ));
        }
        let bank_accounts = bank_accounts(save.bank_accounts)?;
        let settings = BillingSettings {
            series,
            series_count,
            tax_mode: save.tax_mode,
            zero_invoices: save.zero_invoices,
            payment_terms_days: save.payment_terms_days,
            bank_accounts,
        };
        let expected = save.rev.filter(|rev| *rev > 0);
        let rev = self
            .ctx
            .store
            .put_billing_settings(&settings, expected)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(what) => Error::conflict_on("conflict", "rev", what),
                other => other.into(),
            })?;
        tracing::info!(rev, "billing settings saved");
        Ok(SettingsRead { settings, rev })
    }

    /// The provider's requisites, as documents will print them (billing staff).
    pub async fn requisites(&self, caller: &Principal) -> Result<RequisitesRead> {
        caller.require_role(BILLING_STAFF)?;
        caller.require_scope(Scope::InvoicesRead)?;
        let saved = self.ctx.store.provider_requisites().await?;
        Ok(RequisitesRead {
            rev: saved.as_ref().map_or(0, |s| s.rev),
            requisites: saved.map(|s| s.requisites),
        })
    }

    /// Saves the provider's requisites (admins), every field checked (the INN and the bank
    /// account by their check digits); a wrong field is named under `requisites.`, and a
    /// change since they were read is refused naming `rev`. Documents made later print them.
    pub async fn save_requisites(
        &self,
        caller: &Principal,
        save: SaveRequisites,
    ) -> Result<RequisitesRead> {
        caller.require_role(&[Role::Admin])?;
        caller.require_scope(Scope::InvoicesRead)?;
        let requisites = ProviderRequisites::new(save.requisites).map_err(|e| match e {
            InvoicingError::Invalid { field, reason } => {
                Error::invalid(format!("requisites.{field}"), reason)
            }
            other => other.into(),
        })?;
        let expected = save.rev.filter(|rev| *rev > 0);
        let rev = self
            .ctx
            .store
            .put_provider_requisites(&requisites, expected)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(what) => Error::conflict_on("conflict", "rev", what),
                other => other.into(),
            })?;
        tracing::info!(rev, "provider requisites saved");
        Ok(RequisitesRead {
            requisites: Some(requisites),
            rev,
        })
    }

    /// A customer's ledger entries (`invoices:read`; customers their own, staff name one).
    pub async fn ledger(&self, caller: &Principal, org: Option<OrgId>) -> Result<Ledger> {
        caller.require_scope(Scope::InvoicesRead)?;
        let org = org_of(caller, org)?;
        let organisation = self
            .ctx
            .store
            .organisation(org)
            .await?
            .ok_or(Error::NotFound)?;
        let entries = self.ctx.store.ledger_entries::<Entry>(org).await?;
        Ok(Ledger {
            org,
            currency: organisation.currency,
            entries,
        })
    }

    /// What a customer owes at the end of `on` (default: today): invoices less credit notes
    /// and payments, from the ledger; and its credit not yet drawn down.
    pub async fn balance(
        &self,
        caller: &Principal,
        org: Option<OrgId>,
        on: Option<NaiveDate>,
    ) -> Result<Balance> {
        let ledger = self.ledger(caller, org).await?;
        let on = on.unwrap_or_else(|| self.ctx.today());
        let balance = ledger::customer_balance(&ledger.entries, ledger.org, on, ledger.currency)
            .map_err(Error::internal)?;
        let credit = self.ctx.store.credit(ledger.org, ledger.currency).await?;
        Ok(Balance {
            org: ledger.org,
            on,
            currency: ledger.currency,
            balance,
            entries: ledger.entries.iter().filter(|e| e.on() <= on).count(),
            credit: credit.amount,
        })
    }
}

/// The most further accounts the settings hold.
pub const MAX_BANK_ACCOUNTS: usize = 20;

/// Further own accounts, checked: 20 digits or an IBAN (2 letters, 2 digits, up to 30 letters
/// or digits), spaces dropped, each once.
fn bank_accounts(accounts: Vec<String>) -> Result<Vec<String>> {
    if accounts.len() > MAX_BANK_ACCOUNTS {
        return Err(Error::invalid(
            "bank_accounts",
            format!("at most {MAX_BANK_ACCOUNTS} accounts"),
        ));
    }
    let mut checked: Vec<String> = Vec::new();
    for (i, account) in accounts.iter().enumerate() {
        let Some(key) = kopek_domain::bank::matching::checked_account(account) else {
            return Err(Error::invalid(
                format!("bank_accounts[{i}]"),
                "must be an account of 20 digits or an IBAN",
            ));
        };
        if !checked.contains(&key) {
            checked.push(key);
        }
    }
    Ok(checked)
}
