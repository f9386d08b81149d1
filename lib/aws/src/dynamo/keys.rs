//! Every key of the table and its indexes: pure functions and constants, each asserted in the
//! tests below, so a key string never changes by accident (stored items would be orphaned).
//!
//! Grouped as the access-pattern tables group them: accounts and catalog (A1–A18), orders,
//! work and subscriptions (A19–A37), usage (A38–A45), the close and billing (A46–A63), webhooks and the events feed (A89–A92),
//! the audit log (A93–A97).

use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::catalog::ServiceCode;
use kopek_domain::documents::DocumentType;
use kopek_domain::ids::{
    ApiKeyId, ArchiveId, AuditId, BatchId, ChargeId, CreditNoteId, DeliveryId, DocumentId, EventId,
    ImportId, InvoiceId, OrderId, OrgId, PackageId, PaymentId, ReportId, SessionId, SigningId,
    SubscriptionId, UploadId, UserId, WebhookId,
};
use kopek_domain::invoicing::{DocumentKind, InvoiceSeries};
use kopek_domain::payments::PaymentReference;
use kopek_domain::period::BillingPeriod;
use kopek_domain::usage::EventKey;
use sha2::{Digest, Sha256};

/// The first global secondary index (listings), and the second (open batches, a period's
/// invoices).
pub const GSI1: &str = "GSI1";
pub const GSI2: &str = "GSI2";
/// Keys only: the organisations of each job shard, for planning (A3c).
pub const GSI3: &str = "GSI3";

// -- Accounts and catalog (A1–A18) ---------------------------------------------------------

/// GSI1: every organisation.
pub const ORGS: &str = "ORGS";
/// GSI3: the organisations whose close jobs fall in job shard `shard` (A3c).
pub fn org_shard(shard: u8) -> String {
    format!("ORGSHARD#{shard:02}")
}
/// GSI1: the provider's staff users and keys.
pub const STAFF: &str = "STAFF";
/// The sort keys of items alone in their partition.
pub const ORG_SK: &str = "ORG";
pub const USER_SK: &str = "USER";
pub const EMAIL_SK: &str = "EMAIL";
pub const INVITE_SK: &str = "INVITE";
pub const API_KEY_SK: &str = "APIKEY";
pub const SERVICE_SK: &str = "SERVICE";
pub const IDEMPOTENCY_SK: &str = "IDEM";

pub fn org(id: &OrgId) -> String {
    format!("ORG#{id}")
}
pub fn user(id: &UserId) -> String {
    format!("USER#{id}")
}
pub fn email(normalized: &str) -> String {
    format!("EMAIL#{normalized}")
}
pub fn session(id: &SessionId) -> String {
    format!("SESSION#{id}")
}
pub fn invitation(token_hash: &str) -> String {
    format!("INVITE#{token_hash}")
}
/// A password reset (A88): `RESET#{sha256(token)}`.
pub fn password_reset(token_hash: &str) -> String {
    format!("RESET#{token_hash}")
}
pub fn api_key(id: &ApiKeyId) -> String {
    format!("APIKEY#{id}")
}
/// The GSI1 partition that lists an owner's users and keys: an organisation or the staff.
pub fn owner(org: Option<&OrgId>) -> String {
    org.map(self::org).unwrap_or_else(|| STAFF.to_owned())
}
pub fn service(code: &str) -> String {
    format!("SERVICE#{code}")
}
pub fn catalog(status: &str) -> String {
    format!("CATALOG#{status}")
}
pub fn throttle(kind: &str, subject: &str) -> String {
    format!("THROTTLE#{kind}#{subject}")
}
pub fn window(start: i64) -> String {
    format!("WINDOW#{start}")
}
pub fn idempotency(caller: &str, key: &str) -> String {
    format!("IDEM#{caller}#{key}")
}

// -- Orders, work and subscriptions (A19–A37) ---------------------------------------------

/// GSI1: the events not yet published, in [`OUTBOX_SHARDS`] partitions.
pub const OUTBOX: &str = "OUTBOX";
/// How many partitions the outbox is spread over: an organisation's events all go to one
/// (its [`outbox`] shard), so that no partition takes every event and each object's events
/// stay in one order.
pub const OUTBOX_SHARDS: u8 = 16;
/// GSI1: the outbox shard of `org`'s events.
pub fn outbox(org: &OrgId) -> String {
    format!("{OUTBOX}#{:02}", org.spread(u64::from(OUTBOX_SHARDS)))
}
/// GSI1: outbox shard `shard`.
pub fn outbox_shard(shard: u8) -> String {
    format!("{OUTBOX}#{shard:02}")
}
/// GSI2: batches still open, by the time they go stale.
pub const OPEN_BATCHES: &str = "OPENBATCHES";
pub const BATCH_SK: &str = "BATCH";

/// An order's own item; its lines' keys start with it.
pub fn order(id: &OrderId) -> String {
    format!("ORDER#{id}")
}
pub fn order_line(id: &OrderId, line_no: u16) -> String {
    format!("ORDER#{id}#L{line_no:03}")
}
/// The GSI1 partition of every order placed in the month of the order id's timestamp.
pub fn orders_of_month(id: &OrderId) -> String {
    format!("ORDERS#{}", id.created_at().format("%Y-%m"))
}
/// The GSI1 partition of the work orders waiting for a work type.
pub fn queue(work_type: &str) -> String {
    format!("QUEUE#{work_type}")
}
/// A waiting line's place in its queue (GSI1SK): by order (ULIDs sort by time), then by
/// line, so the oldest comes first and an order's lines stay together.
pub fn queue_position(order: &OrderId, line_no: u16) -> String {
    format!("{order}#L{line_no:03}")
}
pub fn batch(id: &BatchId) -> String {
    format!("BATCH#{id}")
}
pub fn engineer(id: &UserId) -> String {
    format!("ENGINEER#{id}")
}
pub fn charge(period: &BillingPeriod, id: &ChargeId) -> String {
    format!("CHARGE#{period}#{id}")
}
pub fn charges_of(period: &BillingPeriod) -> String {
    format!("CHARGE#{period}#")
}
pub fn history(subject: &str, id: &EventId) -> String {
    format!("HISTORY#{subject}#{id}")
}
pub fn history_of(subject: &str) -> String {
    format!("HISTORY#{subject}#")
}
pub fn subscription(id: &SubscriptionId) -> String {
    format!("SUB#{id}")
}

// -- Usage (A38–A45) ------------------------------------------------------------------------

pub const REJECTED_USAGE_SK: &str = "USAGEREJ";
pub const EXTERNAL_REF_SK: &str = "EXTREF";
/// The prefix of the ingestion health counters' sort keys, one per meter.
pub const HEALTH_METERS: &str = "METER#";

/// One of the partitions a customer's usage of a meter in a period is spread over.
pub fn usage_partition(
    org: &OrgId,
    meter: &ServiceCode,
    period: BillingPeriod,
    shard: u8,
) -> String {
    format!("USAGE#{org}#{}#{period}#{shard}", meter.as_str())
}
pub fn usage_event(id: &EventKey) -> String {
    format!("E#{id}")
}
/// GSI1: late events of a meter billed in a later period than they happened in.
pub fn late_usage(org: &OrgId, meter: &ServiceCode, billed_in: BillingPeriod) -> String {
    format!("USAGELATE#{org}#{}#{billed_in}", meter.as_str())
}
/// That a customer used a meter in a period (SK in the customer's partition).
pub fn meter_used(period: BillingPeriod, meter: &ServiceCode) -> String {
    format!("USAGEMETER#{period}#{}", meter.as_str())
}
pub fn meters_used(period: BillingPeriod) -> String {
    format!("USAGEMETER#{period}#")
}
pub fn rejected_usage(id: &str) -> String {
    format!("USAGEREJ#{id}")
}
/// GSI1: the rejected events received in a period.
pub fn rejected_usage_of(period: BillingPeriod) -> String {
    format!("USAGEREJ#{period}")
}
pub fn usage_health(period: BillingPeriod) -> String {
    format!("USAGEHEALTH#{period}")
}
pub fn health_meter(meter: &str) -> String {
    format!("{HEALTH_METERS}{meter}")
}
pub fn external_ref(reference: &str) -> String {
    format!("EXTREF#{reference}")
}

// -- The close and billing (A46–A63) ------------------------------------------------------

/// The provider's billing settings: `SETTINGS` / [`SETTINGS_SK`].
pub const SETTINGS: &str = "SETTINGS";
pub const SETTINGS_SK: &str = "BILLING";
/// The provider's requisites: `SETTINGS` / [`REQUISITES_SK`].
pub const REQUISITES_SK: &str = "REQUISITES";
/// A period's own item in its partition.
pub const PERIOD_SK: &str = "PERIOD";
/// GSI1: every period close, by period.
pub const PERIODS: &str = "PERIODS";
/// The prefix of a period's jobs.
pub const JOBS: &str = "JOB#";
/// A shard's tally of its jobs, in the shard's partition.
pub const TALLY_SK: &str = "TALLY";
pub const SEQUENCE_SK: &str = "SEQ";
/// A customer's `closed_through` item (A44), in its partition.
pub const ORG_BILLING: &str = "BILLING";
/// The prefix of a customer's invoices.
pub const INVOICES: &str = "INVOICE#";
/// The prefix of a customer's ledger entries.
pub const LEDGER: &str = "LEDGER#";
/// GSI1SK of an invoice and a credit note, each alone in its GSI1 partition.
pub const INVOICE_SK: &str = "INVOICE";
pub const CREDIT_SK: &str = "CREDIT";
/// A customer's credit (A61).
pub const CREDIT_BALANCE: &str = "CREDITBALANCE";
/// The prefix of a customer's payments.
pub const PAYMENTS: &str = "PAYMENT#";

pub fn period(period: BillingPeriod) -> String {
    format!("PERIOD#{period}")
}
pub fn job(org: &OrgId) -> String {
    format!("JOB#{org}")
}
/// One shard of a period's close: the jobs of its customers and their tally
/// (`kopek_domain::close::job_shard`).
pub fn period_shard(period: BillingPeriod, shard: u8) -> String {
    format!("PERIOD#{period}#J{shard:02}")
}
/// The shard a [`period_shard`] key names, if it is one of `period`'s.
pub fn shard_of(period: BillingPeriod, pk: &str) -> Option<u8> {
    let rest = pk.strip_prefix(&format!("PERIOD#{period}#J"))?;
    (rest.len() == 2).then(|| rest.parse().ok()).flatten()
}
pub fn sequence(series: &InvoiceSeries, kind: DocumentKind, year: i32) -> String {
    let kind = match kind {
        DocumentKind::Invoice => "INV",
        DocumentKind::CreditNote => "CN",
    };
    format!("SEQ#{}#{kind}#{year}", series.as_str())
}
/// A customer's invoice of a period (SK in the customer's partition).
pub fn invoice(period: BillingPeriod) -> String {
    format!("INVOICE#{period}")
}
/// GSI1: an invoice by id.
pub fn invoice_id(id: &InvoiceId) -> String {
    format!("INVOICE#{id}")
}
/// GSI2: a period's invoices, by customer.
pub fn invoices_of_period(period: BillingPeriod, shard: u8) -> String {
    format!("INVOICES#{period}#{shard:02}")
}
/// The shard an [`invoices_of_period`] key names, if it is one of `period`'s.
pub fn invoice_shard_of(period: BillingPeriod, pk: &str) -> Option<u8> {
    let rest = pk.strip_prefix(&format!("INVOICES#{period}#"))?;
    (rest.len() == 2).then(|| rest.parse().ok()).flatten()
}
/// A credit note, next to the other notes of its invoice.
pub fn credit_note(invoice: &InvoiceId, id: &CreditNoteId) -> String {
    format!("CREDIT#{invoice}#{id}")
}
/// The prefix of a customer's credit notes (`CREDITBALANCE` has no `#`, so it is not one).
pub const CREDIT_NOTES: &str = "CREDIT#";
pub fn credit_notes_of(invoice: &InvoiceId) -> String {
    format!("CREDIT#{invoice}#")
}
/// GSI1: a credit note by id.
pub fn credit_note_id(id: &CreditNoteId) -> String {
    format!("CREDIT#{id}")
}
pub fn ledger_entry(on: NaiveDate, id: &str) -> String {
    format!("LEDGER#{on}#{id}")
}
/// A customer's payment of a reference: the reference's SHA-256, 32 hex digits (a reference
/// may hold any character, a key should not).
pub fn payment(reference: &PaymentReference) -> String {
    format!("PAYMENT#{}", reference_digest(reference))
}

/// GSI2 of a payment recorded by hand (A63): `HANDPAID#{org}#{received on}`.
pub fn hand_paid(org: &OrgId, day: NaiveDate) -> String {
    format!("HANDPAID#{org}#{day}")
}

/// GSI1 of a payment (A63): `PAYMENT#{pay}`.
pub fn payment_id(id: &PaymentId) -> String {
    format!("PAYMENT#{id}")
}

/// A customer's refund (A82): `REFUND#{sha-256 of the reference, 32 hex}`.
pub fn refund(reference: &PaymentReference) -> String {
    format!("REFUND#{}", reference_digest(reference))
}
/// The prefix of a customer's refunds.
pub const REFUNDS: &str = "REFUND#";

fn reference_digest(reference: &PaymentReference) -> String {
    let digest = Sha256::digest(reference.as_str().as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A customer's document of a period (SK in the customer's partition; A66 lists a period's).
pub fn document(period: BillingPeriod, doc_type: DocumentType, number: &str) -> String {
    format!("DOC#{period}#{}#{number}", doc_type.slug())
}
pub fn documents_of(period: BillingPeriod) -> String {
    format!("DOC#{period}#")
}
/// GSI1: a document by id.
pub fn document_id(id: &DocumentId) -> String {
    format!("DOC#{id}")
}
pub const DOCUMENT_SK: &str = "DOC";
/// A signing job (A70), and GSI1: a period's signings.
pub fn signing(id: &SigningId) -> String {
    format!("SIGNING#{id}")
}
pub const SIGNING_SK: &str = "SIGNING";
pub fn signings_of(period: BillingPeriod) -> String {
    format!("SIGNINGS#{period}")
}
/// A customer's package of a period (A72), in its partition; GSI1 by id, GSI2 by period.
pub fn package(period: BillingPeriod) -> String {
    format!("PACKAGE#{period}")
}
pub fn package_id(id: &PackageId) -> String {
    format!("PACKAGE#{id}")
}
pub const PACKAGE_SK: &str = "PACKAGE";
pub fn packages_of_period(period: BillingPeriod) -> String {
    format!("PACKAGES#{period}")
}
/// A period's archive (A74), under the period; GSI1 by id.
pub fn archive(id: &ArchiveId) -> String {
    format!("ARCHIVE#{id}")
}
pub const ARCHIVE_SK: &str = "ARCHIVE";
/// The signing certificate (A71), under `SETTINGS`.
pub const SIGNING_CERT_SK: &str = "SIGNING_CERT";
/// The active templates of every kind of sheet (A76), under `SETTINGS`.
pub const TEMPLATES_SK: &str = "TEMPLATES";

/// The sort key of an uploaded template (A75), under `SETTINGS`: `TEMPLATE#{kind}#{sha256}`.
pub fn template(kind: &str, sha256: &str) -> String {
    format!("TEMPLATE#{kind}#{sha256}")
}
/// The provider's dunning policy (A85, under `SETTINGS`) and a customer's dunning (A86,
/// under `ORG#{org}`).
pub const DUNNING_SK: &str = "DUNNING";

/// GSI2 of an organisation (A3b): `TAXID#{tax id}`.
pub fn tax_id(tax_id: &str) -> String {
    format!("TAXID#{tax_id}")
}

/// A statement import (A77) and its lines (A78): `IMPORT#{imp}`.
pub fn import(id: &ImportId) -> String {
    format!("IMPORT#{id}")
}
pub const IMPORT_SK: &str = "IMPORT";
/// GSI1: every import, newest last.
pub const IMPORTS: &str = "IMPORTS";
/// The sort key of an import's line (A78): the file's line, zero-padded so they sort.
pub fn import_line(line: usize) -> String {
    format!("LINE#{line:07}")
}
pub const IMPORT_LINES: &str = "LINE#";
/// GSI1: the lines waiting for review (A78), oldest import first.
pub const REVIEW: &str = "REVIEW";
/// A bank payment's claim (A79): `BANKLINE#{fingerprint}`.
pub fn bank_line(fingerprint: &str) -> String {
    format!("BANKLINE#{fingerprint}")
}
pub const BANK_LINE_SK: &str = "BANKLINE";
/// A payer account confirmed for a customer (A80): `PAYERACCOUNT#{account}`.
pub fn payer_account(account: &str) -> String {
    format!("PAYERACCOUNT#{account}")
}
pub const PAYER_ACCOUNT_SK: &str = "PAYERACCOUNT";

/// A statement upload (A87): `UPLOAD#{upl}`.
pub fn upload(id: &UploadId) -> String {
    format!("UPLOAD#{id}")
}
pub const UPLOAD_SK: &str = "UPLOAD";

/// The GSI1 partition of a customer's confirmed payer accounts (A80):
/// `PAYERACCOUNTS#{org}`.
pub fn payer_accounts_of(org: &OrgId) -> String {
    format!("PAYERACCOUNTS#{org}")
}

/// A customer's report file (A83), in its partition, and GSI1: the report by id.
pub fn report(id: &ReportId) -> String {
    format!("REPORT#{id}")
}
/// The prefix of a customer's report files (A84).
pub const REPORTS: &str = "REPORT#";
/// GSI1SK of a report file, alone in its GSI1 partition.
pub const REPORT_SK: &str = "REPORT";

/// GSI2: a period's documents, by customer, type and number.
pub fn documents_of_period(period: BillingPeriod) -> String {
    format!("DOCS#{period}")
}
pub fn document_in_period(org: &OrgId, doc_type: DocumentType, number: &str) -> String {
    format!("{org}#{}#{number}", doc_type.slug())
}

// -- Webhooks and the events feed (A89–A92) ------------------------------------------------

/// An endpoint's partition: the endpoint (`WEBHOOK`) and its deliveries.
pub fn webhook(id: &WebhookId) -> String {
    format!("WEBHOOK#{id}")
}
/// The sort key of the endpoint itself.
pub const WEBHOOK_SK: &str = "WEBHOOK";
/// GSI1: every endpoint.
pub const WEBHOOKS: &str = "WEBHOOKS";
/// One delivery in its endpoint's partition (ids sort by creation: newest last).
pub fn delivery(id: &DeliveryId) -> String {
    format!("DELIVERY#{id}")
}
/// The prefix of an endpoint's deliveries.
pub const DELIVERIES: &str = "DELIVERY#";
/// GSI2: deliveries waiting for a retry, by when it is due.
pub const WEBHOOK_RETRIES: &str = "WEBHOOKRETRY";
/// The sort key of a waiting delivery on [`WEBHOOK_RETRIES`]: due time, then its id.
pub fn retry_due(due: chrono::DateTime<chrono::Utc>, id: &DeliveryId) -> String {
    format!("{}#{id}", due.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
}
/// The upper bound of the retries due by `now` (every id at that millisecond included).
pub fn retry_due_by(now: chrono::DateTime<chrono::Utc>) -> String {
    format!("{}~", now.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
}
/// The events feed's position counter (`FEED` / `HEAD`).
pub const FEED_HEAD: &str = "FEED";
pub const FEED_HEAD_SK: &str = "HEAD";
/// Feed positions per partition.
pub const FEED_BUCKET: u64 = 10_000;
/// The feed partition holding position `seq`.
pub fn feed(seq: u64) -> String {
    format!("FEED#{:010}", seq / FEED_BUCKET)
}
/// A position's sort key (zero-padded, so text order is number order).
pub fn feed_position(seq: u64) -> String {
    format!("{seq:020}")
}

/// A day of the audit log (A93, A94): `AUDIT#{yyyy-mm-dd}`.
pub fn audit_day(day: NaiveDate) -> String {
    format!("AUDIT#{day}")
}
/// A record's sort key, in every index (A93–A96): its time to the microsecond, then its id,
/// so records sort by time and never collide.
pub fn audit_sk(at: DateTime<Utc>, id: &AuditId) -> String {
    format!("{}#{id}", at.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
}
/// GSI1: records about an organisation (A95).
pub fn audit_org(org: &OrgId) -> String {
    format!("AUDITORG#{org}")
}
/// GSI2: records about an object (A96).
pub fn audit_object(object: &kopek_domain::audit::ObjectRef) -> String {
    format!("AUDITOBJ#{object}")
}
/// The archive's marker (A97): the last day archived.
pub const AUDIT_MARKER: &str = "AUDIT";
pub const AUDIT_ARCHIVED_SK: &str = "ARCHIVED";

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "org_01ARZ3NDEKTSV4RRFFQ69G5FAV";

    fn org_id() -> OrgId {
        ORG.parse().unwrap()
    }

    #[test]
    fn bank_keys_are_stable() {
        let import: ImportId = "imp_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(
            self::import(&import),
            "IMPORT#imp_01ARZ3NDEKTSV4RRFFQ69G5FAV"
        );
        assert_eq!(import_line(42), "LINE#0000042");
        assert_eq!(bank_line("ab12"), "BANKLINE#ab12");
        assert_eq!(payer_account("DE89"), "PAYERACCOUNT#DE89");
        let upl: UploadId = "upl_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(upload(&upl), "UPLOAD#upl_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(
            payer_accounts_of(&org_id()),
            "PAYERACCOUNTS#org_01ARZ3NDEKTSV4RRFFQ69G5FAV"
        );
        assert_eq!(tax_id("7701234567"), "TAXID#7701234567");
        assert_eq!(DUNNING_SK, "DUNNING");
        let reference = PaymentReference::try_from("п/п 1".to_owned()).unwrap();
        assert_eq!(&refund(&reference)[..7], "REFUND#");
        assert_eq!(refund(&reference)[7..], payment(&reference)[8..]);
        let pay: PaymentId = "pay_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(payment_id(&pay), "PAYMENT#pay_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        let day = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        assert_eq!(
            hand_paid(&org_id(), day),
            format!("HANDPAID#{ORG}#2026-12-06")
        );
        assert_eq!(
            [
                IMPORT_SK,
                IMPORTS,
                IMPORT_LINES,
                REVIEW,
                BANK_LINE_SK,
                PAYER_ACCOUNT_SK
            ],
            [
                "IMPORT",
                "IMPORTS",
                "LINE#",
                "REVIEW",
                "BANKLINE",
                "PAYERACCOUNT"
            ]
        );
    }

    #[test]
    fn account_and_catalog_keys_are_stable() {
        let org = org_id();
        let user: UserId = "usr_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let session: SessionId = "ses_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let key: ApiKeyId = "key_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(self::org(&org), format!("ORG#{ORG}"));
        assert_eq!(self::user(&user), "USER#usr_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(email("a@b.ru"), "EMAIL#a@b.ru");
        assert_eq!(
            self::session(&session),
            "SESSION#ses_01ARZ3NDEKTSV4RRFFQ69G5FAV"
        );
        assert_eq!(invitation("ab12"), "INVITE#ab12");
        assert_eq!(password_reset("ab12"), "RESET#ab12");
        assert_eq!(api_key(&key), "APIKEY#key_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(owner(Some(&org)), format!("ORG#{ORG}"));
        assert_eq!(owner(None), "STAFF");
        assert_eq!(service("VPS-S"), "SERVICE#VPS-S");
        assert_eq!(catalog("active"), "CATALOG#active");
        assert_eq!(throttle("ACCOUNT", "a@b.ru"), "THROTTLE#ACCOUNT#a@b.ru");
        assert_eq!(window(1_700_000_000), "WINDOW#1700000000");
        assert_eq!(idempotency("usr_x", "k1"), "IDEM#usr_x#k1");
        assert_eq!(
            [
                ORGS, STAFF, ORG_SK, USER_SK, EMAIL_SK, INVITE_SK, API_KEY_SK, SERVICE_SK
            ],
            [
                "ORGS", "STAFF", "ORG", "USER", "EMAIL", "INVITE", "APIKEY", "SERVICE"
            ]
        );
        assert_eq!([IDEMPOTENCY_SK, GSI1, GSI2], ["IDEM", "GSI1", "GSI2"]);
    }

    #[test]
    fn order_work_and_subscription_keys_are_stable() {
        // 01ARZ3NDEK… is a ULID of 2016-07-30: the month of an order comes from its id.
        let order: OrderId = "ord_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let batch: BatchId = "bat_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let user: UserId = "usr_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let charge: ChargeId = "chg_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let event: EventId = "evt_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let sub: SubscriptionId = "sub_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let nov = BillingPeriod::new(2026, 11).unwrap();
        assert_eq!(self::order(&order), "ORDER#ord_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(
            order_line(&order, 7),
            "ORDER#ord_01ARZ3NDEKTSV4RRFFQ69G5FAV#L007"
        );
        assert!(order_line(&order, 7).starts_with(&self::order(&order)));
        assert_eq!(orders_of_month(&order), "ORDERS#2016-07");
        assert_eq!(queue("installation"), "QUEUE#installation");
        assert_eq!(
            queue_position(&order, 12),
            "ord_01ARZ3NDEKTSV4RRFFQ69G5FAV#L012"
        );
        assert_eq!(self::batch(&batch), "BATCH#bat_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(engineer(&user), "ENGINEER#usr_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(
            self::charge(&nov, &charge),
            "CHARGE#2026-11#chg_01ARZ3NDEKTSV4RRFFQ69G5FAV"
        );
        assert!(self::charge(&nov, &charge).starts_with(&charges_of(&nov)));
        assert_eq!(
            history("ord_1", &event),
            "HISTORY#ord_1#evt_01ARZ3NDEKTSV4RRFFQ69G5FAV"
        );
        assert!(history("ord_1", &event).starts_with(&history_of("ord_1")));
        assert_eq!(subscription(&sub), "SUB#sub_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(
            [OUTBOX, OPEN_BATCHES, BATCH_SK],
            ["OUTBOX", "OPENBATCHES", "BATCH"]
        );
        let org = org_id();
        assert!(outbox(&org).starts_with("OUTBOX#"));
        assert_eq!(outbox(&org), outbox(&org));
        let shard: u8 = outbox(&org)["OUTBOX#".len()..].parse().unwrap();
        assert!(shard < OUTBOX_SHARDS);
        assert_eq!(outbox_shard(shard), outbox(&org));
        assert_eq!(outbox_shard(7), "OUTBOX#07");
    }

    #[test]
    fn webhook_keys_are_stable() {
        let whk: WebhookId = "whk_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let dlv: DeliveryId = "dlv_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(webhook(&whk), "WEBHOOK#whk_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(delivery(&dlv), "DELIVERY#dlv_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert!(delivery(&dlv).starts_with(DELIVERIES));
        let due = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:05Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            retry_due(due, &dlv),
            "2026-12-07T10:00:05.000Z#dlv_01ARZ3NDEKTSV4RRFFQ69G5FAV"
        );
        assert!(retry_due(due, &dlv) < retry_due_by(due));
        assert_eq!(feed(9_999), "FEED#0000000000");
        assert_eq!(feed(10_000), "FEED#0000000001");
        assert_eq!(feed_position(42), "00000000000000000042");
        assert!(feed_position(9) < feed_position(10));
        assert_eq!(
            [
                WEBHOOK_SK,
                WEBHOOKS,
                WEBHOOK_RETRIES,
                FEED_HEAD,
                FEED_HEAD_SK
            ],
            ["WEBHOOK", "WEBHOOKS", "WEBHOOKRETRY", "FEED", "HEAD"]
        );
    }

    #[test]
    fn usage_keys_are_stable() {
        let org = org_id();
        let meter: ServiceCode = "TRAFFIC".parse().unwrap();
        let nov = BillingPeriod::new(2026, 11).unwrap();
        assert_eq!(
            usage_partition(&org, &meter, nov, 3),
            format!("USAGE#{ORG}#TRAFFIC#2026-11#3")
        );
        let id = EventKey::try_from("evt-1".to_owned()).unwrap();
        assert_eq!(usage_event(&id), "E#evt-1");
        assert_eq!(
            late_usage(&org, &meter, nov),
            format!("USAGELATE#{ORG}#TRAFFIC#2026-11")
        );
        assert_eq!(meter_used(nov, &meter), "USAGEMETER#2026-11#TRAFFIC");
        assert!(meter_used(nov, &meter).starts_with(&meters_used(nov)));
        assert_eq!(rejected_usage("rej_1"), "USAGEREJ#rej_1");
        assert_eq!(rejected_usage_of(nov), "USAGEREJ#2026-11");
        assert_eq!(usage_health(nov), "USAGEHEALTH#2026-11");
        assert_eq!(health_meter("TRAFFIC"), "METER#TRAFFIC");
        assert!(health_meter("-").starts_with(HEALTH_METERS));
        assert_eq!(external_ref("crm:1"), "EXTREF#crm:1");
        assert_eq!([REJECTED_USAGE_SK, EXTERNAL_REF_SK], ["USAGEREJ", "EXTREF"]);
    }

    #[test]
    fn close_and_billing_keys_are_stable() {
        let org = org_id();
        let inv: InvoiceId = "inv_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let crn: CreditNoteId = "crn_01ARZ3NDEKTSV4RRFFQ69G5FAW".parse().unwrap();
        let nov = BillingPeriod::new(2026, 11).unwrap();
        let series = InvoiceSeries::new("KPK").unwrap();
        assert_eq!(period(nov), "PERIOD#2026-11");
        assert_eq!(job(&org), format!("JOB#{ORG}"));
        assert!(job(&org).starts_with(JOBS));
        assert_eq!(period_shard(nov, 7), "PERIOD#2026-11#J07");
        assert_eq!(period_shard(nov, 31), "PERIOD#2026-11#J31");
        assert_eq!(shard_of(nov, &period_shard(nov, 31)), Some(31));
        let oct = BillingPeriod::new(2026, 10).unwrap();
        assert_eq!(shard_of(oct, &period_shard(nov, 3)), None);
        assert_eq!(shard_of(nov, "PERIOD#2026-11"), None);
        assert_eq!(shard_of(nov, "PERIOD#2026-11#J1"), None);
        assert_eq!(TALLY_SK, "TALLY");
        assert_eq!(
            sequence(&series, DocumentKind::Invoice, 2026),
            "SEQ#KPK#INV#2026"
        );
        assert_eq!(
            sequence(&series, DocumentKind::CreditNote, 2027),
            "SEQ#KPK#CN#2027"
        );
        assert_eq!(invoice(nov), "INVOICE#2026-11");
        assert!(invoice(nov).starts_with(INVOICES));
        assert_eq!(invoice_id(&inv), "INVOICE#inv_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(invoices_of_period(nov, 5), "INVOICES#2026-11#05");
        assert_eq!(invoice_shard_of(nov, "INVOICES#2026-11#31"), Some(31));
        assert_eq!(invoice_shard_of(nov, "INVOICES#2026-10#31"), None);
        assert_eq!(invoice_shard_of(nov, "INVOICES#2026-11"), None);
        assert_eq!(
            credit_note(&inv, &crn),
            "CREDIT#inv_01ARZ3NDEKTSV4RRFFQ69G5FAV#crn_01ARZ3NDEKTSV4RRFFQ69G5FAW"
        );
        assert!(credit_note(&inv, &crn).starts_with(&credit_notes_of(&inv)));
        assert_eq!(
            credit_note_id(&crn),
            "CREDIT#crn_01ARZ3NDEKTSV4RRFFQ69G5FAW"
        );
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(ledger_entry(day, "jrn_1"), "LEDGER#2026-12-01#jrn_1");
        assert!(ledger_entry(day, "jrn_1").starts_with(LEDGER));
        // The first 16 bytes of SHA-256("п/п 4711") in hex, as Python's hashlib computes them.
        let reference = PaymentReference::try_from("п/п 4711".to_owned()).unwrap();
        let key = payment(&reference);
        assert_eq!(key, "PAYMENT#66e3b594f2afa6820c37540f2ff4a43a");
        assert!(key.starts_with(PAYMENTS));
        let other = PaymentReference::try_from("п/п 4712".to_owned()).unwrap();
        assert_ne!(key, payment(&other));
        assert_eq!(
            [
                SETTINGS,
                SETTINGS_SK,
                REQUISITES_SK,
                PERIOD_SK,
                PERIODS,
                SEQUENCE_SK,
                ORG_BILLING
            ],
            [
                "SETTINGS",
                "BILLING",
                "REQUISITES",
                "PERIOD",
                "PERIODS",
                "SEQ",
                "BILLING"
            ]
        );
        assert_eq!(
            [INVOICE_SK, CREDIT_SK, CREDIT_BALANCE],
            ["INVOICE", "CREDIT", "CREDITBALANCE"]
        );
    }

    #[test]
    fn document_keys_are_stable() {
        let org = org_id();
        let nov = BillingPeriod::new(2026, 11).unwrap();
        let doc: DocumentId = "doc_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let key = document(nov, DocumentType::Act, "KPK-2026-000042");
        assert_eq!(key, "DOC#2026-11#act#KPK-2026-000042");
        assert!(key.starts_with(&documents_of(nov)));
        assert_eq!(document_id(&doc), "DOC#doc_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(documents_of_period(nov), "DOCS#2026-11");
        assert_eq!(
            document_in_period(&org, DocumentType::CreditNote, "KPK-CN-2026-000001"),
            format!("{ORG}#credit_note#KPK-CN-2026-000001")
        );
        assert_eq!(DOCUMENT_SK, "DOC");
        let sgn: SigningId = "sgn_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(signing(&sgn), "SIGNING#sgn_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(signings_of(nov), "SIGNINGS#2026-11");
        assert_eq!([SIGNING_SK, SIGNING_CERT_SK], ["SIGNING", "SIGNING_CERT"]);
        let pkg: PackageId = "pkg_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(package(nov), "PACKAGE#2026-11");
        assert_eq!(package_id(&pkg), "PACKAGE#pkg_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(packages_of_period(nov), "PACKAGES#2026-11");
        assert_eq!(PACKAGE_SK, "PACKAGE");
        let arc: ArchiveId = "arc_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(archive(&arc), "ARCHIVE#arc_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(ARCHIVE_SK, "ARCHIVE");
    }

    #[test]
    fn report_keys_are_stable() {
        let rep: ReportId = "rep_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(report(&rep), "REPORT#rep_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert!(report(&rep).starts_with(REPORTS));
        assert_eq!([REPORTS, REPORT_SK], ["REPORT#", "REPORT"]);
        // No other item of a customer's partition starts as a report does.
        for other in [
            INVOICES,
            LEDGER,
            PAYMENTS,
            REFUNDS,
            CREDIT_NOTES,
            CREDIT_BALANCE,
        ] {
            assert!(!other.starts_with(REPORTS), "{other}");
        }
    }

    #[test]
    fn audit_keys_are_stable_and_sort_by_time() {
        let id: AuditId = "aud_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let at: DateTime<Utc> = "2026-12-07T09:05:03.250Z".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(audit_day(day), "AUDIT#2026-12-07");
        assert_eq!(
            audit_sk(at, &id),
            "2026-12-07T09:05:03.250000Z#aud_01ARZ3NDEKTSV4RRFFQ69G5FAV"
        );
        let later: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        assert!(audit_sk(at, &id) < audit_sk(later, &id));
        let org: OrgId = "org_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(audit_org(&org), "AUDITORG#org_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        let object = kopek_domain::audit::ObjectRef::new("order", "ord_1");
        assert_eq!(audit_object(&object), "AUDITOBJ#order:ord_1");
        assert_eq!([AUDIT_MARKER, AUDIT_ARCHIVED_SK], ["AUDIT", "ARCHIVED"]);
        // The marker is no day partition.
        assert!(!AUDIT_MARKER.starts_with("AUDIT#"));
    }
}
