//! Subscriptions to recurring services (access patterns A35–A37).
//!
//! A subscription is one item in its customer's partition, `SUB#{subscription}`, holding every
//! segment (quantity or service from a date). Each change is written with its event in one
//! transaction, on the condition that nobody changed the subscription since it was read.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use kopek_domain::charges::DomainEvent;
use kopek_domain::ids::{OrgId, SubscriptionId};
use kopek_domain::subscriptions::Subscription;
use serde::{Deserialize, Serialize};

use super::expr::{conditional_put, put};
use super::orders::put_event;
use super::{Page, PageKey, QuerySpec, Store, StoreError, keys, to_item};

#[derive(Debug, Serialize, Deserialize)]
struct SubscriptionItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    subscription: Subscription,
    rev: u64,
}

/// A subscription as stored, with its revision.
#[derive(Debug, Clone)]
pub struct StoredSubscription {
    pub subscription: Subscription,
    pub rev: u64,
}

impl From<SubscriptionItem> for StoredSubscription {
    fn from(i: SubscriptionItem) -> Self {
        Self {
            subscription: i.subscription,
            rev: i.rev,
        }
    }
}

fn item(subscription: &Subscription, rev: u64) -> Result<super::Item, StoreError> {
    to_item(&SubscriptionItem {
        pk: keys::org(&subscription.org()),
        sk: keys::subscription(&subscription.id()),
        kind: "subscription".into(),
        subscription: subscription.clone(),
        rev,
    })
}

impl Store {
    /// A35: a new subscription and its event.
    pub async fn create_subscription(
        &self,
        subscription: &Subscription,
        event: &DomainEvent,
    ) -> Result<(), StoreError> {
        let items = vec![
            put(
                self,
                item(subscription, 1)?,
                Some("attribute_not_exists(PK)"),
            )?,
            put_event(self, event)?,
        ];
        self.transact(items, &[]).await
    }

    /// A36: a subscription (strongly consistent).
    pub async fn subscription(
        &self,
        org: OrgId,
        id: SubscriptionId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        Ok(self
            .get::<SubscriptionItem>(&keys::org(&org), &keys::subscription(&id), true)
            .await?
            .map(StoredSubscription::from))
    }

    /// A36: an organisation's subscriptions, oldest first.
    pub async fn list_subscriptions(
        &self,
        org: OrgId,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredSubscription>, StoreError> {
        let pk = keys::org(&org);
        let q = QuerySpec {
            index: None,
            pk: &pk,
            sk_prefix: Some("SUB#"),
            limit,
            forward: true,
        };
        Ok(self
            .query_page::<SubscriptionItem>(q, start)
            .await?
            .map(StoredSubscription::from))
    }

    /// A37: a changed subscription and its event, if it is still at `rev`.
    pub async fn save_subscription(
        &self,
        subscription: &Subscription,
        rev: u64,
        event: &DomainEvent,
    ) -> Result<(), StoreError> {
        let items = vec![
            conditional_put(
                self,
                item(subscription, rev + 1)?,
                Some("rev = :rev"),
                HashMap::from([(":rev".to_owned(), AttributeValue::N(rev.to_string()))]),
            )?,
            put_event(self, event)?,
        ];
        self.transact(
            items,
            &[(
                0,
                StoreError::Conflict("the subscription changed meanwhile; retry".into()),
            )],
        )
        .await
    }
}

impl Store {
    /// A36, every page: all of a customer's subscriptions, oldest first.
    pub async fn subscriptions_all(&self, org: OrgId) -> Result<Vec<Subscription>, StoreError> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let page = self.list_subscriptions(org, 1000, start).await?;
            all.extend(page.items.into_iter().map(|s| s.subscription));
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(all),
            }
        }
    }
}
