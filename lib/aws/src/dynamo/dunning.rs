//! A85–A86: dunning — the provider's policy, and each customer's settings and state.
//!
//! | # | Access pattern | Operation | Key | Cost |
//! |---|----------------|-----------|-----|------|
//! | A85 | The provider's dunning policy: read by every run and order, saved by admins | `GetItem` / `PutItem` if `rev = :rev` (or absent) | `SETTINGS` / `DUNNING` | 1 WCU |
//! | A86 | A customer's dunning (settings: policy, off, a manager's hold; state: the episode, steps taken, blocked, suspended, the days suspended): read by the daily run, by every order, by the customer, by the period close (its suspended days); saved only when it changed — with a late fee's charge item (`CHARGE#{period}#{chg}`) in one transaction when the step charges one | `GetItem` (consistent) / `PutItem` if `rev = :rev` (or absent); `TransactWriteItems` with the charge | `ORG#{org}` / `DUNNING` | 1 WCU (≈ 1 KB); 4 WCU with a charge |

use kopek_domain::charges::{Charge, DomainEvent};
use kopek_domain::dunning::{CustomerDunning, DunningPolicy, DunningState};
use kopek_domain::ids::OrgId;
use serde::{Deserialize, Serialize};

use crate::dynamo::expr::put_over_rev;
use crate::dynamo::orders::put_charge;
use crate::dynamo::{Store, StoreError, keys, to_item};

#[derive(Debug, Serialize, Deserialize)]
struct PolicyItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    policy: DunningPolicy,
    rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct CustomerItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    dunning: StoredDunning,
}

/// The provider's policy with its revision (0: never saved, the default applies).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredPolicy {
    pub policy: DunningPolicy,
    pub rev: u64,
}

/// A customer's dunning with its revision (0: never written).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoredDunning {
    pub settings: CustomerDunning,
    pub state: DunningState,
    pub rev: u64,
}

impl Store {
    /// A85: the provider's dunning policy; the written default while never saved.
    pub async fn dunning_policy(&self) -> Result<StoredPolicy, StoreError> {
        Ok(self
            .get::<PolicyItem>(keys::SETTINGS, keys::DUNNING_SK, true)
            .await?
            .map(|i| StoredPolicy {
                policy: i.policy,
                rev: i.rev,
            })
            .unwrap_or_default())
    }

    /// A85: saves the policy over the revision read; the new revision, or a conflict.
    pub async fn save_dunning_policy(
        &self,
        policy: &DunningPolicy,
        rev: u64,
    ) -> Result<u64, StoreError> {
        let item = to_item(&PolicyItem {
            pk: keys::SETTINGS.into(),
            sk: keys::DUNNING_SK.into(),
            kind: "dunning_policy".into(),
            policy: policy.clone(),
            rev: rev + 1,
        })?;
        self.put_over(item, rev, "dunning policy").await
    }

    /// A86: a customer's dunning (strongly consistent); the defaults while never written.
    pub async fn dunning(&self, org: OrgId) -> Result<StoredDunning, StoreError> {
        Ok(self
            .get::<CustomerItem>(&keys::org(&org), keys::DUNNING_SK, true)
            .await?
            .map(|i| i.dunning)
            .unwrap_or_default())
    }

    /// A86: saves a customer's dunning over the revision read (`dunning.rev`); the new
    /// revision, or a conflict when it changed meanwhile.
    pub async fn save_dunning(
        &self,
        org: OrgId,
        dunning: &StoredDunning,
    ) -> Result<u64, StoreError> {
        self.save_dunning_charging(org, dunning, None, &[]).await
    }

    /// A86 with a charge and events: saves a customer's dunning as [`Self::save_dunning`]
    /// and records the late fee `charge` and the `events` (steps reached, suspension,
    /// restore) in the same transaction — all or nothing, so a fee is charged and a step
    /// told exactly once with the run that decided it.
    pub async fn save_dunning_charging(
        &self,
        org: OrgId,
        dunning: &StoredDunning,
        charge: Option<&Charge>,
        events: &[DomainEvent],
    ) -> Result<u64, StoreError> {
        let rev = dunning.rev;
        let item = to_item(&CustomerItem {
            pk: keys::org(&org),
            sk: keys::DUNNING_SK.into(),
            kind: "dunning".into(),
            dunning: StoredDunning {
                rev: rev + 1,
                ..dunning.clone()
            },
        })?;
        let what = "customer's dunning";
        if charge.is_none() && events.is_empty() {
            return self.put_over(item, rev, what).await;
        }
        let mut actions = vec![put_over_rev(self, item, rev)?];
        if let Some(charge) = charge {
            actions.push(put_charge(self, charge)?);
        }
        for event in events {
            actions.push(super::orders::put_event(self, event)?);
        }
        self.transact(
            actions,
            &[(
                0,
                StoreError::Conflict(format!("the {what} changed meanwhile; retry")),
            )],
        )
        .await?;
        Ok(rev + 1)
    }

    /// Puts `item` (carrying `rev + 1`) if the stored one is at `rev`, or absent when `rev`
    /// is 0.
    async fn put_over(
        &self,
        item: crate::dynamo::Item,
        rev: u64,
        what: &str,
    ) -> Result<u64, StoreError> {
        if rev == 0 {
            return if self.put_new(item).await? {
                Ok(1)
            } else {
                Err(StoreError::Conflict(format!(
                    "the {what} changed meanwhile; retry"
                )))
            };
        }
        self.put_at_rev(item, rev, what).await
    }
}
