//! A46: the provider's billing settings; A64: its requisites (what documents print about it).
//! Each is one item under `SETTINGS`, saved whole over the revision read.

use kopek_domain::invoicing::{BillingSettings, ProviderRequisites};
use serde::{Deserialize, Serialize};

use crate::dynamo::{Store, StoreError, keys, to_item};

/// The billing settings with their revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSettings {
    pub settings: BillingSettings,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SettingsItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    settings: BillingSettings,
    rev: u64,
}

impl Store {
    /// A46: the provider's billing settings, if saved.
    pub async fn billing_settings(&self) -> Result<Option<StoredSettings>, StoreError> {
        Ok(self
            .get::<SettingsItem>(keys::SETTINGS, keys::SETTINGS_SK, true)
            .await?
            .map(|i| StoredSettings {
                settings: i.settings,
                rev: i.rev,
            }))
    }

    /// A46: saves the billing settings: new (`expected_rev = None`) or over revision
    /// `expected_rev`. Returns the new revision.
    pub async fn put_billing_settings(
        &self,
        settings: &BillingSettings,
        expected_rev: Option<u64>,
    ) -> Result<u64, StoreError> {
        let rev = expected_rev.unwrap_or(0);
        let item = to_item(&SettingsItem {
            pk: keys::SETTINGS.into(),
            sk: keys::SETTINGS_SK.into(),
            kind: "billing_settings".into(),
            settings: settings.clone(),
            rev: rev + 1,
        })?;
        self.put_revision(item, expected_rev, "billing settings")
            .await
    }

    /// A64: the provider's requisites, if saved.
    pub async fn provider_requisites(&self) -> Result<Option<StoredRequisites>, StoreError> {
        Ok(self
            .get::<RequisitesItem>(keys::SETTINGS, keys::REQUISITES_SK, true)
            .await?
            .map(|i| StoredRequisites {
                requisites: i.requisites,
                rev: i.rev,
            }))
    }

    /// A64: saves the provider's requisites: new (`expected_rev = None`) or over revision
    /// `expected_rev`. Returns the new revision.
    pub async fn put_provider_requisites(
        &self,
        requisites: &ProviderRequisites,
        expected_rev: Option<u64>,
    ) -> Result<u64, StoreError> {
        let item = to_item(&RequisitesItem {
            pk: keys::SETTINGS.into(),
            sk: keys::REQUISITES_SK.into(),
            kind: "provider_requisites".into(),
            requisites: requisites.clone(),
            rev: expected_rev.unwrap_or(0) + 1,
        })?;
        self.put_revision(item, expected_rev, "provider's requisites")
            .await
    }

    /// Writes a whole settings item: new, or over revision `expected_rev`.
    pub(crate) async fn put_revision(
        &self,
        item: crate::dynamo::Item,
        expected_rev: Option<u64>,
        what: &str,
    ) -> Result<u64, StoreError> {
        match expected_rev {
            Some(rev) => self.put_at_rev(item, rev, what).await,
            None if self.put_new(item).await? => Ok(1),
            None => Err(StoreError::Conflict(format!(
                "the {what} were saved meanwhile; retry"
            ))),
        }
    }
}

/// The provider's requisites with their revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRequisites {
    pub requisites: ProviderRequisites,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct RequisitesItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    requisites: ProviderRequisites,
    rev: u64,
}
