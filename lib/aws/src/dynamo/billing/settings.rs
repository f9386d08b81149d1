//! A46: the provider's billing settings.

use kopek_domain::invoicing::BillingSettings;
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
        match expected_rev {
            Some(rev) => self.put_at_rev(item, rev, "billing settings").await,
            None if self.put_new(item).await? => Ok(1),
            None => Err(StoreError::Conflict(
                "the billing settings were saved meanwhile; retry".into(),
            )),
        }
    }
}
