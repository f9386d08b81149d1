//! Failed sign-in counters (access pattern A13), one item per subject and fixed window.
//! The policy (how many failures, how long a window) is the domain's; this only counts, and
//! checks a limit in the same conditional write that counts an attempt.

use super::{Store, StoreError, capacity, epoch, key, keys};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use chrono::{DateTime, Utc};

/// Whose failures are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A normalised e-mail address.
    Account(&'a str),
    /// A client address.
    Address(&'a str),
}

impl Subject<'_> {
    fn pk(&self) -> String {
        match self {
            Subject::Account(s) => keys::throttle("ACCOUNT", s),
            Subject::Address(s) => keys::throttle("ADDRESS", s),
        }
    }
}

impl Store {
    /// Takes one sign-in attempt for `subject` in the window that starts at `window_start`,
    /// if fewer than `max` are counted there; `false` if the limit is reached. The check and
    /// the count are one conditional write, so attempts made in parallel cannot all pass a
    /// limit read before any of them was counted. The counter expires at `window_end`.
    pub async fn take_sign_in_attempt(
        &self,
        subject: Subject<'_>,
        window_start: DateTime<Utc>,
        window_end: DateTime<Utc>,
        max: u32,
    ) -> Result<bool, StoreError> {
        let update = self
            .client()
            .update_item()
            .update_expression("ADD failures :one SET expires_at = :exp, #type = :type")
            .condition_expression("attribute_not_exists(failures) OR failures < :max")
            .expression_attribute_names("#type", "type")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":max", AttributeValue::N(max.to_string()))
            .expression_attribute_values(":exp", AttributeValue::N(epoch(window_end).to_string()))
            .expression_attribute_values(":type", AttributeValue::S("throttle".into()));
        self.count_if(update, subject, window_start).await
    }

    /// Gives back an attempt taken with [`Store::take_sign_in_attempt`]: it succeeded, or
    /// another subject's limit refused it. Never counts below zero, and writes nothing when
    /// the counter is gone (cleared, or expired).
    pub async fn give_back_sign_in_attempt(
        &self,
        subject: Subject<'_>,
        window_start: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let update = self
            .client()
            .update_item()
            .update_expression("ADD failures :minus_one")
            .condition_expression("failures > :zero")
            .expression_attribute_values(":minus_one", AttributeValue::N("-1".into()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()));
        self.count_if(update, subject, window_start).await.map(drop)
    }

    /// Sends a conditional counter update to `subject`'s counter: `true` if it was written,
    /// `false` if its condition refused it (which still costs a write unit).
    async fn count_if(
        &self,
        update: UpdateItemFluentBuilder,
        subject: Subject<'_>,
        window_start: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sent = update
            .table_name(self.table())
            .set_key(Some(key(&subject.pk(), &keys::window(epoch(window_start)))))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match sent.map_err(StoreError::from_sdk) {
            Ok(out) => {
                self.record(out.consumed_capacity());
                Ok(true)
            }
            Err(StoreError::Conflict(_)) => {
                self.record_computed(None, capacity::write(0, false));
                Ok(false)
            }
            Err(other) => Err(other),
        }
    }

    /// Forgets an account's failures after a successful sign-in.
    pub async fn clear_failed_sign_ins(
        &self,
        subject: Subject<'_>,
        window_start: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let out = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(&subject.pk(), &keys::window(epoch(window_start)))))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.record(out.consumed_capacity());
        Ok(())
    }
}
