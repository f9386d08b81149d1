//! The provider's requisites: what its closing documents print about it, edited by admins as
//! a billing setting.
//!
//! Every field is checked the way an accountant would: the INN by its check digits
//! ([`TaxId`]), the KPP by its shape, the BIC and the accounts by the Bank of Russia's control
//! key (a settlement account against the last three digits of the BIC, the correspondent
//! account against "0" and the BIC's 5th and 6th digits: weights 7, 1, 3 repeated, the last
//! digits of the products summed, the sum a multiple of ten). A legal entity's INN (10 digits)
//! needs a KPP; a sole proprietor's (12 digits) has none. Names, addresses and positions are
//! in both document languages.
//!
//! Documents are never rendered with blanks: [`ProviderRequisites::for_documents`] refuses a
//! provider without requisites, naming the setting to fill in.

use serde::{Deserialize, Serialize};

use super::InvoicingError;
use crate::accounts::{
    BillingAddress, Contract, DocumentLanguage, Kpp, LegalName, Organisation, TaxId, TaxIdKind,
};
use crate::catalog::LocalizedText;

/// Whether `account` (20 digits) passes the Bank of Russia's control key with `prefix` (3
/// digits).
fn control_key_holds(prefix: &str, account: &str) -> bool {
    const WEIGHTS: [u32; 3] = [7, 1, 3];
    let digits: Vec<u32> = prefix
        .chars()
        .chain(account.chars())
        .filter_map(|c| c.to_digit(10))
        .collect();
    digits.len() == 23
        && digits
            .iter()
            .enumerate()
            .map(|(i, d)| d * WEIGHTS[i % 3] % 10)
            .sum::<u32>()
            % 10
            == 0
}

fn digits_of(field: &str, text: &str, len: usize, what: &str) -> Result<String, InvoicingError> {
    let text = text.trim();
    if text.len() != len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvoicingError::invalid(
            field,
            format!("{what} is {len} digits"),
        ));
    }
    Ok(text.to_owned())
}

/// The provider's bank account, as documents print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankAccount {
    /// The bank's name in both document languages, e.g. «ПАО Сбербанк» / "Sberbank".
    pub bank_name: LocalizedText,
    /// The bank's BIC: 9 digits.
    pub bic: String,
    /// The settlement account: 20 digits.
    pub account: String,
    /// The bank's correspondent account: 20 digits, `30101…`.
    pub correspondent_account: String,
}

impl BankAccount {
    /// Checks every field; errors name `bank.<field>`.
    pub fn checked(self) -> Result<Self, InvoicingError> {
        let bic = digits_of("bank.bic", &self.bic, 9, "a BIC")?;
        let account = digits_of("bank.account", &self.account, 20, "an account")?;
        let correspondent = digits_of(
            "bank.correspondent_account",
            &self.correspondent_account,
            20,
            "an account",
        )?;
        if !control_key_holds(&bic[6..9], &account) {
            return Err(InvoicingError::invalid(
                "bank.account",
                "the account's control key does not match the BIC: a digit is wrong",
            ));
        }
        if !correspondent.starts_with("30101")
            || !control_key_holds(&format!("0{}", &bic[4..6]), &correspondent)
        {
            return Err(InvoicingError::invalid(
                "bank.correspondent_account",
                "a correspondent account starts 30101 and its control key matches the BIC",
            ));
        }
        Ok(Self {
            bank_name: self.bank_name,
            bic,
            account,
            correspondent_account: correspondent,
        })
    }
}

/// Someone who signs the provider's documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signatory {
    /// As printed beside the signature, e.g. «Иванов И. И.» / "I. Ivanov".
    pub name: LocalizedText,
    /// E.g. «Генеральный директор» / "General Director".
    pub position: LocalizedText,
}

/// The provider's requisites as an admin writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequisitesForm {
    pub legal_name: LocalizedText,
    pub tax_id: String,
    /// Required with a legal entity's INN (10 digits); none for a sole proprietor.
    #[serde(default)]
    pub kpp: Option<String>,
    pub address: LocalizedText,
    pub bank: BankAccount,
    /// Signs acts and invoices as the head of the provider.
    pub director: Signatory,
    /// Signs invoices as the chief accountant, where there is one.
    #[serde(default)]
    pub chief_accountant: Option<Signatory>,
    /// Whether the provider charges VAT (then its documents include the UPD).
    pub vat_payer: bool,
}

/// The provider's requisites, every field checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RequisitesForm", into = "RequisitesForm")]
pub struct ProviderRequisites {
    form: RequisitesForm,
    tax_id: TaxId,
    kpp: Option<Kpp>,
}

impl TryFrom<RequisitesForm> for ProviderRequisites {
    type Error = InvoicingError;

    fn try_from(form: RequisitesForm) -> Result<Self, Self::Error> {
        Self::new(form)
    }
}

impl From<ProviderRequisites> for RequisitesForm {
    fn from(r: ProviderRequisites) -> Self {
        r.form
    }
}

impl ProviderRequisites {
    /// Checks `form`; the error names the field (`tax_id`, `kpp`, `bank.account`, …).
    pub fn new(form: RequisitesForm) -> Result<Self, InvoicingError> {
        let tax_id = TaxId::parse(&form.tax_id)
            .map_err(|e| InvoicingError::invalid("tax_id", e.to_string()))?;
        let kpp = match (tax_id.kind(), form.kpp.as_deref()) {
            (TaxIdKind::InnLegalEntity, None) => {
                return Err(InvoicingError::invalid(
                    "kpp",
                    "a legal entity (10-digit INN) has a KPP",
                ));
            }
            (TaxIdKind::InnIndividual, Some(_)) => {
                return Err(InvoicingError::invalid(
                    "kpp",
                    "a sole proprietor (12-digit INN) has no KPP",
                ));
            }
            (_, Some(kpp)) => {
                Some(Kpp::parse(kpp).map_err(|e| InvoicingError::invalid("kpp", e.to_string()))?)
            }
            (_, None) => None,
        };
        let bank = form.bank.clone().checked()?;
        let form = RequisitesForm {
            tax_id: tax_id.as_str().to_owned(),
            kpp: kpp.as_ref().map(|k| k.as_str().to_owned()),
            bank,
            ..form
        };
        Ok(Self { form, tax_id, kpp })
    }

    /// The requisites documents need, or the refusal naming the setting to fill in.
    pub fn for_documents(saved: Option<&Self>) -> Result<&Self, InvoicingError> {
        saved.ok_or_else(|| {
            InvoicingError::invalid(
                "requisites",
                "the provider's requisites are not set: an admin fills them in at PUT \
                 /v1/billing/requisites before documents are made",
            )
        })
    }

    pub fn legal_name(&self) -> &LocalizedText {
        &self.form.legal_name
    }

    pub fn tax_id(&self) -> &TaxId {
        &self.tax_id
    }

    pub fn kpp(&self) -> Option<&Kpp> {
        self.kpp.as_ref()
    }

    pub fn address(&self) -> &LocalizedText {
        &self.form.address
    }

    pub fn bank(&self) -> &BankAccount {
        &self.form.bank
    }

    pub fn director(&self) -> &Signatory {
        &self.form.director
    }

    pub fn chief_accountant(&self) -> Option<&Signatory> {
        self.form.chief_accountant.as_ref()
    }

    pub fn vat_payer(&self) -> bool {
        self.form.vat_payer
    }

    /// The form they were made from, in canonical form.
    pub fn form(&self) -> &RequisitesForm {
        &self.form
    }
}

/// The customer as an invoice names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Buyer {
    pub legal_name: LegalName,
    pub tax_id: TaxId,
    /// A Russian legal entity's KPP, where the customer gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpp: Option<Kpp>,
    pub address: BillingAddress,
    /// The language its documents are written in.
    pub language: DocumentLanguage,
    /// The contract the invoice is issued under, where one is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<Contract>,
}

impl Buyer {
    pub fn of(organisation: &Organisation) -> Self {
        Self {
            legal_name: organisation.legal_name.clone(),
            tax_id: organisation.tax_id.clone(),
            kpp: organisation.kpp.clone(),
            address: organisation.billing_address.clone(),
            language: organisation.language,
            contract: organisation.contract.clone(),
        }
    }
}

/// Who an invoice is between, as they were on the day it was issued: its documents print
/// these, never what the settings or the customer's profile say later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parties {
    /// The provider; `None` when its requisites were not set yet (its documents are then
    /// refused until they are, see [`ProviderRequisites::for_documents`]).
    pub seller: Option<ProviderRequisites>,
    pub buyer: Buyer,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> RequisitesForm {
        super::super::fixtures::requisites_form()
    }

    fn refused_on(form: RequisitesForm) -> String {
        match ProviderRequisites::new(form) {
            Err(InvoicingError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn real_requisites_are_taken_and_read_back_through_serde() {
        let requisites = ProviderRequisites::new(form()).unwrap();
        assert_eq!(requisites.kpp().map(Kpp::as_str), Some("770801001"));
        let json = serde_json::to_value(&requisites).unwrap();
        let back: ProviderRequisites = serde_json::from_value(json).unwrap();
        assert_eq!(back, requisites);
    }

    #[test]
    fn every_wrong_field_is_named() {
        let mut f = form();
        f.tax_id = "7708123451".into();
        assert_eq!(refused_on(f), "tax_id", "a wrong INN check digit");
        let mut f = form();
        f.kpp = None;
        assert_eq!(refused_on(f), "kpp", "a legal entity without a KPP");
        let mut f = form();
        f.kpp = Some("77080100".into());
        assert_eq!(refused_on(f), "kpp");
        let mut f = form();
        f.bank.bic = "04452522".into();
        assert_eq!(refused_on(f), "bank.bic");
        let mut f = form();
        f.bank.account = "40702810938000000002".into();
        assert_eq!(refused_on(f), "bank.account", "one digit off");
        let mut f = form();
        f.bank.correspondent_account = "30101810400000000226".into();
        assert_eq!(refused_on(f), "bank.correspondent_account");
        let mut f = form();
        f.bank.correspondent_account = "40702810938000000001".into();
        assert_eq!(
            refused_on(f),
            "bank.correspondent_account",
            "not a 30101 account"
        );
    }

    #[test]
    fn a_sole_proprietor_has_no_kpp() {
        let mut f = form();
        f.tax_id = crate::accounts::TaxId::inn_completing("5012345678")
            .unwrap()
            .to_string();
        assert_eq!(refused_on(f.clone()), "kpp");
        f.kpp = None;
        assert!(ProviderRequisites::new(f).unwrap().kpp().is_none());
    }

    #[test]
    fn documents_are_refused_without_requisites_naming_the_setting() {
        match ProviderRequisites::for_documents(None) {
            Err(InvoicingError::Invalid { field, reason }) => {
                assert_eq!(field, "requisites");
                assert!(reason.contains("/v1/billing/requisites"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let saved = ProviderRequisites::new(form()).unwrap();
        assert!(ProviderRequisites::for_documents(Some(&saved)).is_ok());
    }
}
