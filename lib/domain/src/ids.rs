//! Prefixed, sortable identifiers.
//!
//! Every id is a ULID behind a short type prefix (`org_01J…`), so an id names its kind in logs
//! and URLs, sorts by creation time, and cannot be confused with another kind's id: an
//! `OrgId` is parsed only from a string that starts with `org_`.

use std::fmt;
use std::str::FromStr;

/// An id string that does not have the expected prefix or is not a valid ULID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id (expected `{prefix}` followed by 26 characters)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub prefix: &'static str,
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(ulid::Ulid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id, ordered after every id made earlier on this machine.
            pub fn new() -> Self {
                Self(ulid::Ulid::new())
            }

            /// When the id was made (millisecond precision).
            pub fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
                let ms = i64::try_from(self.0.timestamp_ms()).unwrap_or(i64::MAX);
                chrono::DateTime::from_timestamp_millis(ms).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
            }

            /// An id from a known timestamp and randomness, for deterministic tests.
            pub fn from_ulid(ulid: ulid::Ulid) -> Self {
                Self(ulid)
            }

            /// The ULID behind the prefix.
            pub fn ulid(&self) -> ulid::Ulid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = InvalidId { kind: $kind, prefix: $prefix };
                let rest = s.strip_prefix($prefix).ok_or(err.clone())?;
                if rest.len() != 26 {
                    return Err(err);
                }
                ulid::Ulid::from_string(rest).map(Self).map_err(|_| err)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// A customer organisation.
    OrgId, "org_", "organisation"
);
impl OrgId {
    /// Where this customer falls among `n` buckets (0 to n − 1), the same every time and
    /// spread evenly: the first 8 bytes of the SHA-256 of its id, modulo `n`. What spreads
    /// customers over invoice series and over the shards of a period's close.
    pub fn spread(&self, n: u64) -> u64 {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.to_string().as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % n.max(1)
    }
}

prefixed_id!(
    /// A person who signs in: a customer's user or a member of the provider's staff.
    UserId, "usr_", "user"
);
prefixed_id!(
    /// A machine client's API key.
    ApiKeyId, "key_", "API key"
);
prefixed_id!(
    /// A signed-in session (one per sign-in, ended by sign-out).
    SessionId, "ses_", "session"
);
prefixed_id!(
    /// A customer's order of one or more lines.
    OrderId, "ord_", "order"
);
prefixed_id!(
    /// The job for one order line, in the queue of its work type.
    WorkOrderId, "wo_", "work order"
);
prefixed_id!(
    /// Work orders of one work type taken by one engineer.
    BatchId, "bat_", "batch"
);
prefixed_id!(
    /// A customer's subscription to a recurring service.
    SubscriptionId, "sub_", "subscription"
);
prefixed_id!(
    /// A billable charge for a billing period.
    ChargeId, "chg_", "charge"
);
prefixed_id!(
    /// A domain event in the outbox.
    EventId, "evt_", "event"
);
prefixed_id!(
    /// An invoice issued for a customer's billing period.
    InvoiceId, "inv_", "invoice"
);
prefixed_id!(
    /// A credit note correcting an issued invoice.
    CreditNoteId, "crn_", "credit note"
);
prefixed_id!(
    /// A balanced entry of the ledger.
    EntryId, "jrn_", "ledger entry"
);
prefixed_id!(
    /// A payment received from a customer.
    PaymentId, "pay_", "payment"
);
prefixed_id!(
    /// A closing document (an invoice's printed invoice or act, a credit note's document):
    /// made from its source's id, so the same job always names the same document.
    DocumentId, "doc_", "document"
);
prefixed_id!(
    /// A manager's signing of a period's documents, run as a job.
    SigningId, "sgn_", "signing"
);
prefixed_id!(
    /// A customer's package of a period's signed documents.
    PackageId, "pkg_", "package"
);
prefixed_id!(
    /// An archive of a period's packages for accountants.
    ArchiveId, "arc_", "archive"
);
prefixed_id!(
    /// Money sent back to a customer from its credit.
    RefundId, "rfd_", "refund"
);
prefixed_id!(
    /// A bank statement uploaded for import.
    ImportId, "imp_", "statement import"
);
prefixed_id!(
    /// A bank statement put into S3 through a presigned link, before it is imported.
    UploadId, "upl_", "statement upload"
);
prefixed_id!(
    /// A report made as a PDF for a customer and a date range (a reconciliation statement,
    /// a statement of account).
    ReportId, "rep_", "report"
);
prefixed_id!(
    /// A webhook endpoint a CRM registered.
    WebhookId, "whk_", "webhook endpoint"
);
prefixed_id!(
    /// One event's delivery to one webhook endpoint (all its attempts).
    DeliveryId, "dlv_", "webhook delivery"
);
prefixed_id!(
    /// One record of the audit log.
    AuditId, "aud_", "audit record"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_round_trips_through_its_string_form() {
        let id = OrgId::new();
        let text = id.to_string();
        assert!(text.starts_with("org_"));
        assert_eq!(text.len(), 30);
        assert_eq!(text.parse::<OrgId>(), Ok(id));
    }

    #[test]
    fn an_id_of_another_kind_is_refused() {
        let user = UserId::new().to_string();
        let err = user.parse::<OrgId>().unwrap_err();
        assert_eq!(err.prefix, "org_");
    }

    #[test]
    fn garbage_after_the_prefix_is_refused() {
        assert!("org_".parse::<OrgId>().is_err());
        assert!("org_!!!!!!!!!!!!!!!!!!!!!!!!!!".parse::<OrgId>().is_err());
        assert!("org_01ARZ3NDEKTSV4RRFFQ69G5FAVX".parse::<OrgId>().is_err());
    }

    #[test]
    fn ids_made_later_sort_later() {
        let a = UserId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = UserId::new();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }
}
