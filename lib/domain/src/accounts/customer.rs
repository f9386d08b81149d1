//! A customer as a CRM keeps it: the record `PUT /v1/customers/by-ref/{reference}` carries,
//! checked field by field, and what it does to the organisation that reference names —
//! creates it, changes what differs, or nothing at all when nothing differs (so the same
//! record sent twice changes nothing). The currency is fixed once the customer has been
//! invoiced: a record that would change it then is refused, naming `currency`.

use chrono::{DateTime, Utc};

use super::organisation::LegalDetails;
use super::{
    AccountsError, BillingAddress, DocumentLanguage, Email, Kpp, LegalName, OrgStatus,
    Organisation, PaymentTerms, TaxId,
};
use crate::ids::OrgId;
use crate::money::Currency;

/// A CRM's record as received, before any rule is checked.
#[derive(Debug, Clone)]
pub struct CustomerForm {
    pub legal_name: String,
    pub tax_id: String,
    pub kpp: Option<String>,
    pub billing_email: String,
    pub billing_address: String,
    pub currency: Currency,
    pub language: DocumentLanguage,
    /// The customer's own payment terms in days; `None`: the provider's.
    pub payment_terms_days: Option<u16>,
}

/// A CRM's record, every field checked; errors name the form's field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    legal_name: LegalName,
    tax_id: TaxId,
    kpp: Option<Kpp>,
    billing_email: Email,
    billing_address: BillingAddress,
    currency: Currency,
    language: DocumentLanguage,
    payment_terms: Option<PaymentTerms>,
}

impl TryFrom<CustomerForm> for CustomerRecord {
    type Error = AccountsError;

    fn try_from(form: CustomerForm) -> Result<Self, Self::Error> {
        let details = LegalDetails::parse(
            &form.legal_name,
            &form.tax_id,
            form.kpp.as_deref(),
            &form.billing_email,
            &form.billing_address,
        )?;
        Ok(Self {
            legal_name: details.legal_name,
            kpp: details.kpp,
            tax_id: details.tax_id,
            billing_email: details.billing_email,
            billing_address: details.billing_address,
            currency: form.currency,
            language: form.language,
            payment_terms: form
                .payment_terms_days
                .map(PaymentTerms::days)
                .transpose()?,
        })
    }
}

/// What a record does to the organisation its reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upsert {
    /// Nothing differs: nothing is written.
    Unchanged,
    /// These fields differ; the organisation as it becomes.
    Changed {
        organisation: Box<Organisation>,
        fields: Vec<&'static str>,
    },
}

impl CustomerRecord {
    /// A new active organisation from the record.
    pub fn open(&self, now: DateTime<Utc>) -> Organisation {
        Organisation {
            id: OrgId::new(),
            legal_name: self.legal_name.clone(),
            tax_id: self.tax_id.clone(),
            billing_email: self.billing_email.clone(),
            billing_address: self.billing_address.clone(),
            currency: self.currency,
            language: self.language,
            status: OrgStatus::Active,
            created_at: now,
            payment_terms: self.payment_terms,
            kpp: self.kpp.clone(),
            contract: None,
            series_index: None,
        }
    }

    /// What the record does to `current`; `invoiced` says whether the customer has an
    /// invoice, which fixes its currency. Status, contract and id are not the CRM's to set.
    pub fn apply(&self, current: &Organisation, invoiced: bool) -> Result<Upsert, AccountsError> {
        if self.currency != current.currency && invoiced {
            return Err(AccountsError::invalid(
                "currency",
                format!(
                    "the customer is invoiced in {}: its currency cannot change any more",
                    current.currency
                ),
            ));
        }
        let mut next = current.clone();
        let mut fields = Vec::new();
        macro_rules! take {
            ($field:ident, $value:expr) => {
                if next.$field != $value {
                    next.$field = $value;
                    fields.push(stringify!($field));
                }
            };
        }
        take!(legal_name, self.legal_name.clone());
        take!(tax_id, self.tax_id.clone());
        take!(kpp, self.kpp.clone());
        take!(billing_email, self.billing_email.clone());
        take!(billing_address, self.billing_address.clone());
        take!(currency, self.currency);
        take!(language, self.language);
        take!(payment_terms, self.payment_terms);
        Ok(if fields.is_empty() {
            Upsert::Unchanged
        } else {
            Upsert::Changed {
                organisation: Box::new(next),
                fields,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> CustomerForm {
        CustomerForm {
            legal_name: "ООО «Ромашка»".into(),
            tax_id: "7707083893".into(),
            kpp: Some("770701001".into()),
            billing_email: "billing@romashka.ru".into(),
            billing_address: "101000, Москва, ул. Мясницкая, 1".into(),
            currency: Currency::RUB,
            language: DocumentLanguage::Ru,
            payment_terms_days: Some(14),
        }
    }

    #[test]
    fn a_record_opens_an_organisation_and_the_same_record_changes_nothing() {
        let record = CustomerRecord::try_from(form()).expect("a record");
        let org = record.open(Utc::now());
        assert!(org.is_active());
        assert_eq!(org.payment_terms.map(PaymentTerms::get), Some(14));
        assert_eq!(record.apply(&org, true), Ok(Upsert::Unchanged));
    }

    #[test]
    fn a_changed_record_names_what_it_changes() {
        let org = CustomerRecord::try_from(form())
            .expect("a record")
            .open(Utc::now());
        let mut changed = form();
        changed.billing_email = "accounts@romashka.ru".into();
        changed.language = DocumentLanguage::En;
        changed.payment_terms_days = None;
        let record = CustomerRecord::try_from(changed).expect("a record");
        match record.apply(&org, true).expect("applied") {
            Upsert::Changed {
                organisation,
                fields,
            } => {
                assert_eq!(fields, ["billing_email", "language", "payment_terms"]);
                assert_eq!(organisation.id, org.id);
                assert_eq!(organisation.billing_email.as_str(), "accounts@romashka.ru");
            }
            Upsert::Unchanged => panic!("it changed"),
        }
    }

    #[test]
    fn the_currency_is_fixed_by_the_first_invoice() {
        let org = CustomerRecord::try_from(form())
            .expect("a record")
            .open(Utc::now());
        let mut euros = form();
        euros.currency = Currency::EUR;
        let record = CustomerRecord::try_from(euros).expect("a record");
        let refused = record.apply(&org, true).expect_err("refused");
        assert_eq!(refused.field(), Some("currency"));
        assert!(matches!(
            record.apply(&org, false),
            Ok(Upsert::Changed { fields, .. }) if fields == ["currency"]
        ));
    }

    #[test]
    fn bad_fields_are_named() {
        for (edit, field) in [
            (
                (|f: &mut CustomerForm| f.tax_id = "7707083890".into()) as fn(&mut CustomerForm),
                "tax_id",
            ),
            (|f| f.billing_email = "nope".into(), "billing_email"),
            (|f| f.legal_name = " ".into(), "legal_name"),
            (|f| f.kpp = Some("12".into()), "kpp"),
            (|f| f.payment_terms_days = Some(1000), "payment_terms_days"),
        ] {
            let mut f = form();
            edit(&mut f);
            let err = CustomerRecord::try_from(f).expect_err(field);
            assert_eq!(err.field(), Some(field), "{err}");
        }
    }
}
