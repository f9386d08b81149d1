//! Customer organisations and how one is registered.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{
    AccountsError, BillingAddress, DocumentLanguage, Email, LegalName, Password, PasswordHash,
    PersonName, TaxId, User,
};
use crate::ids::{OrgId, UserId};
use crate::money::Currency;

/// Whether an organisation may use the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    Active,
    /// Blocked by staff (e.g. unpaid invoices): its users and keys are refused. A
    /// [`Principal`](super::Principal) does not see its organisation's status, so the
    /// services that authenticate users and keys check [`Organisation::is_active`].
    Blocked,
}

/// The longest payment terms there are, in days.
pub const MAX_PAYMENT_TERMS_DAYS: u16 = 365;

/// Payment terms: how many days an invoice gives to pay, from its issue date to its due date;
/// 0 (due on issue) to [`MAX_PAYMENT_TERMS_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct PaymentTerms(u16);

impl PaymentTerms {
    /// Terms of `days` days, if within 0 ..= [`MAX_PAYMENT_TERMS_DAYS`].
    pub fn days(days: u16) -> Result<Self, AccountsError> {
        if days <= MAX_PAYMENT_TERMS_DAYS {
            Ok(Self(days))
        } else {
            Err(AccountsError::Invalid {
                field: "payment_terms_days",
                reason: format!("must be from 0 to {MAX_PAYMENT_TERMS_DAYS} days"),
            })
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for PaymentTerms {
    type Error = AccountsError;

    fn try_from(days: u16) -> Result<Self, Self::Error> {
        Self::days(days)
    }
}

impl From<PaymentTerms> for u16 {
    fn from(terms: PaymentTerms) -> u16 {
        terms.0
    }
}

/// The contract a customer's documents are issued under: its number (1–64 characters) and the
/// day it was signed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub number: String,
    pub signed_on: chrono::NaiveDate,
}

impl Contract {
    /// A contract, if its number is 1 to 64 characters on one line (trimmed).
    pub fn new(number: &str, signed_on: chrono::NaiveDate) -> Result<Self, AccountsError> {
        let number = number.trim();
        let count = number.chars().count();
        if count == 0 || count > 64 || number.chars().any(char::is_control) {
            return Err(AccountsError::invalid(
                "contract.number",
                "must be 1 to 64 characters on one line",
            ));
        }
        Ok(Self {
            number: number.to_owned(),
            signed_on,
        })
    }
}

/// A customer organisation: who is billed, where, in what currency and language.
///
/// Fields are public: each is already a validated type and every combination is a valid
/// organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: OrgId,
    pub legal_name: LegalName,
    pub tax_id: TaxId,
    pub billing_email: Email,
    pub billing_address: BillingAddress,
    pub currency: Currency,
    pub language: DocumentLanguage,
    pub status: OrgStatus,
    pub created_at: DateTime<Utc>,
    /// The customer's own payment terms, agreed in its contract; `None`: the provider's
    /// (billing settings).
    pub payment_terms: Option<PaymentTerms>,
    /// A Russian legal entity's KPP, which its documents print beside the INN.
    pub kpp: Option<super::Kpp>,
    /// The contract its documents are issued under, once staff record it.
    pub contract: Option<Contract>,
    /// The subdivision of the invoice series its invoices are numbered in (1 to 99), once
    /// its first invoice placed it there (see `BillingSettings::series_for`); `None` while
    /// it has none (one series).
    pub series_index: Option<u8>,
}

impl Organisation {
    pub fn is_active(&self) -> bool {
        self.status == OrgStatus::Active
    }

    pub fn block(&mut self) -> Result<(), AccountsError> {
        self.set_status(OrgStatus::Active, OrgStatus::Blocked)
    }

    pub fn unblock(&mut self) -> Result<(), AccountsError> {
        self.set_status(OrgStatus::Blocked, OrgStatus::Active)
    }

    fn set_status(&mut self, from: OrgStatus, to: OrgStatus) -> Result<(), AccountsError> {
        if self.status != from {
            return Err(AccountsError::InvalidState {
                reason: format!("the organisation is already {to:?}").to_lowercase(),
            });
        }
        self.status = to;
        Ok(())
    }
}

/// A registration as received, before any rule is checked: what the HTTP layer fills from
/// the request body. Its `Debug` hides the password.
pub struct RegistrationForm {
    pub legal_name: String,
    pub tax_id: String,
    pub billing_email: String,
    pub billing_address: String,
    pub currency: Currency,
    pub language: DocumentLanguage,
    /// The KPP, for a Russian legal entity that states it (its documents print it).
    pub kpp: Option<String>,
    pub user_name: String,
    pub user_email: String,
    pub password: String,
}

impl fmt::Debug for RegistrationForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationForm")
            .field("legal_name", &self.legal_name)
            .field("tax_id", &self.tax_id)
            .field("billing_email", &self.billing_email)
            .field("currency", &self.currency)
            .field("language", &self.language)
            .field("user_email", &self.user_email)
            .field("password", &"***")
            .finish_non_exhaustive()
    }
}

/// A self-service registration: a new organisation and its first user, every field checked.
///
/// Built from a [`RegistrationForm`] with `try_from`; errors name the form's field
/// (`billing_email`, `user_email`, `password`…). The password is checked against the user's
/// e-mail, which is why the two are validated together.
#[derive(Debug)]
pub struct Registration {
    legal_name: LegalName,
    tax_id: TaxId,
    billing_email: Email,
    billing_address: BillingAddress,
    currency: Currency,
    language: DocumentLanguage,
    kpp: Option<super::Kpp>,
    user_name: PersonName,
    user_email: Email,
    password: Password,
}

/// An organisation's legal details as a form gives them, each checked and named where it
/// fails: what a registration and a CRM's record share.
pub(crate) struct LegalDetails {
    pub legal_name: LegalName,
    pub tax_id: TaxId,
    pub kpp: Option<super::Kpp>,
    pub billing_email: Email,
    pub billing_address: BillingAddress,
}

impl LegalDetails {
    pub(crate) fn parse(
        legal_name: &str,
        tax_id: &str,
        kpp: Option<&str>,
        billing_email: &str,
        billing_address: &str,
    ) -> Result<Self, AccountsError> {
        let tax_id = TaxId::parse(tax_id)?;
        Ok(Self {
            legal_name: LegalName::parse(legal_name)?,
            kpp: kpp.map(|k| super::Kpp::of(k, &tax_id)).transpose()?,
            tax_id,
            billing_email: Email::parse(billing_email).map_err(|e| e.in_field("billing_email"))?,
            billing_address: BillingAddress::parse(billing_address)?,
        })
    }
}

impl TryFrom<RegistrationForm> for Registration {
    type Error = AccountsError;

    fn try_from(form: RegistrationForm) -> Result<Self, Self::Error> {
        let user_email = Email::parse(&form.user_email).map_err(|e| e.in_field("user_email"))?;
        let LegalDetails {
            legal_name,
            tax_id,
            kpp,
            billing_email,
            billing_address,
        } = LegalDetails::parse(
            &form.legal_name,
            &form.tax_id,
            form.kpp.as_deref(),
            &form.billing_email,
            &form.billing_address,
        )?;
        Ok(Self {
            legal_name,
            kpp,
            tax_id,
            billing_email,
            billing_address,
            currency: form.currency,
            language: form.language,
            user_name: PersonName::parse(&form.user_name).map_err(|e| e.in_field("user_name"))?,
            password: Password::new(&form.password, &user_email)?,
            user_email,
        })
    }
}

/// What a registration creates: the organisation, its first user (an active customer) and
/// that user's password hash, to be stored together.
#[derive(Debug)]
pub struct NewAccount {
    pub organisation: Organisation,
    pub owner: User,
    pub password_hash: PasswordHash,
}

impl Registration {
    pub fn legal_name(&self) -> &LegalName {
        &self.legal_name
    }

    pub fn tax_id(&self) -> &TaxId {
        &self.tax_id
    }

    pub fn billing_email(&self) -> &Email {
        &self.billing_email
    }

    pub fn billing_address(&self) -> &BillingAddress {
        &self.billing_address
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn language(&self) -> DocumentLanguage {
        self.language
    }

    pub fn user_name(&self) -> &PersonName {
        &self.user_name
    }

    pub fn user_email(&self) -> &Email {
        &self.user_email
    }

    /// Creates the organisation and its first user with new ids, and hashes the password
    /// (Argon2id: tens of milliseconds of CPU).
    pub fn open(self, now: DateTime<Utc>) -> NewAccount {
        let org_id = OrgId::new();
        let password_hash = self.password.hash();
        let owner =
            User::active_customer(UserId::new(), org_id, self.user_email, self.user_name, now);
        let organisation = Organisation {
            id: org_id,
            legal_name: self.legal_name,
            tax_id: self.tax_id,
            billing_email: self.billing_email,
            billing_address: self.billing_address,
            currency: self.currency,
            language: self.language,
            status: OrgStatus::Active,
            created_at: now,
            payment_terms: None,
            kpp: self.kpp,
            contract: None,
            series_index: None,
        };
        NewAccount {
            organisation,
            owner,
            password_hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Role, UserStatus};
    use chrono::TimeZone;

    fn form() -> RegistrationForm {
        RegistrationForm {
            legal_name: " ПАО Сбербанк ".into(),
            tax_id: "7707083893".into(),
            billing_email: "Billing@Sberbank.ru".into(),
            billing_address: "117997, Москва, ул. Вавилова, 19".into(),
            currency: Currency::RUB,
            language: DocumentLanguage::Ru,
            kpp: None,
            user_name: "Мария Иванова".into(),
            user_email: "Maria.Ivanova@Sberbank.ru".into(),
            password: "correct horse battery staple".into(),
        }
    }

    fn field_of(form: RegistrationForm) -> Option<&'static str> {
        Registration::try_from(form).unwrap_err().field()
    }

    #[test]
    fn a_valid_registration_opens_an_active_organisation_and_its_first_user() {
        let now = Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
        let registration = Registration::try_from(form()).unwrap();
        assert_eq!(registration.legal_name().as_str(), "ПАО Сбербанк");
        let account = registration.open(now);
        let org = &account.organisation;
        assert_eq!(org.status, OrgStatus::Active);
        assert_eq!(org.currency, Currency::RUB);
        assert_eq!(org.created_at, now);
        assert_eq!(account.owner.org(), Some(org.id));
        assert_eq!(account.owner.role(), Role::Customer);
        assert_eq!(account.owner.status(), UserStatus::Active);
        assert_eq!(
            account.owner.email().normalized(),
            "maria.ivanova@sberbank.ru"
        );
        assert!(account.password_hash.verify("correct horse battery staple"));
    }

    /// Spoils one field of a valid form.
    type Spoil = fn(&mut RegistrationForm);

    #[test]
    fn each_invalid_registration_field_is_named() {
        let cases: [(Spoil, &str); 7] = [
            (|f| f.legal_name = "X".into(), "legal_name"),
            (|f| f.tax_id = "7707083894".into(), "tax_id"),
            (|f| f.billing_email = "billing".into(), "billing_email"),
            (|f| f.billing_address = "Msk".into(), "billing_address"),
            (|f| f.user_name = " ".into(), "user_name"),
            (|f| f.user_email = "maria@".into(), "user_email"),
            (|f| f.password = "x-maria.ivanova-x".into(), "password"),
        ];
        for (break_it, field) in cases {
            let mut broken = form();
            break_it(&mut broken);
            assert_eq!(field_of(broken), Some(field));
        }
    }

    #[test]
    fn a_registration_form_never_prints_the_password() {
        let printed = format!("{:?}", form());
        assert!(!printed.contains("correct horse"));
        let printed = format!("{:?}", Registration::try_from(form()).unwrap());
        assert!(!printed.contains("correct horse"));
    }

    #[test]
    fn payment_terms_are_zero_to_a_year() {
        assert_eq!(PaymentTerms::days(0).unwrap().get(), 0);
        assert_eq!(PaymentTerms::days(365).unwrap().get(), 365);
        let err = PaymentTerms::days(366).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("payment_terms_days: must be from 0 to 365"),
            "{err}"
        );
        // Stored as a number, and read back only if it keeps the rule.
        assert_eq!(serde_json::to_string(&PaymentTerms(30)).unwrap(), "30");
        assert!(serde_json::from_str::<PaymentTerms>("400").is_err());
    }

    #[test]
    fn an_organisation_is_blocked_and_unblocked_once_each() {
        let mut org = Organisation {
            id: OrgId::new(),
            legal_name: LegalName::parse("Acme Ltd").unwrap(),
            tax_id: TaxId::parse("DE123456789").unwrap(),
            billing_email: Email::parse("ap@acme.example").unwrap(),
            billing_address: BillingAddress::parse("1 Main St, Berlin").unwrap(),
            currency: Currency::EUR,
            language: DocumentLanguage::En,
            status: OrgStatus::Active,
            created_at: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
            payment_terms: None,
            kpp: None,
            contract: None,
            series_index: None,
        };
        org.block().unwrap();
        assert!(!org.is_active());
        assert!(matches!(
            org.block(),
            Err(AccountsError::InvalidState { .. })
        ));
        org.unblock().unwrap();
        assert!(org.is_active());
        assert!(matches!(
            org.unblock(),
            Err(AccountsError::InvalidState { .. })
        ));
    }
}
