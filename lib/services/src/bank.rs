//! Bank statements: an accountant uploads a file, which is kept unchanged in S3 under its
//! SHA-256 and then read ([`kopek_domain::bank::statement`]: 1CClientBankExchange or
//! camt.053); the import is counted ([`StatementImport::of`]) and its payments queued in
//! chunks on `BankQueue`, where the `bank-import` function matches each
//! ([`kopek_domain::bank::matching`]) and records it through
//! [`crate::payments::Payments::record_as`] — the same use case as `POST
//! /v1/billing/payments` — or leaves it for review. Accountants work through the review
//! list: assign a line to a customer (confirming a candidate, or another customer), with
//! an optional split over its invoices, or dismiss it.

use kopek_aws::dynamo::bank::StatementUpload;
use kopek_aws::dynamo::bank::{Filed, LineWrite};
use kopek_aws::dynamo::{Page, PageKey};
use kopek_aws::objects::Download;
use kopek_domain::accounts::{Principal, Role, Scope};
use kopek_domain::bank::imports::{
    ImportLine, Outcome, Report, ReviewCandidate, StatementImport, fingerprint, received_on,
    recorded_by_hand, reference_of,
};
use kopek_domain::bank::matching::{
    Allocated, Candidate, Customer, Payer, account_key, allocate, checked_account, who_paid,
};
use kopek_domain::bank::{self, StatementLine};
use kopek_domain::ids::{ImportId, InvoiceId, OrgId, UploadId};
use kopek_domain::money::{Currency, Money};
use kopek_domain::orders::UserOrKey;
use kopek_domain::payments::{Allocation, BankSource, NewPayment, OpenInvoice, PaymentReference};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::access::actor;
use crate::billing::settings_in_force;
use crate::payments::{FromLine, Recorded};
use crate::{Context, Error, Result};

/// The largest statement file taken (a year of a busy account is a few megabytes).
pub const MAX_FILE_BYTES: usize = bank::exchange::MAX_FILE_BYTES;

/// One job of `BankQueue`: a chunk of an import's payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankJob {
    pub import: ImportId,
    pub chunk: usize,
}

/// What handling a chunk did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkDone {
    pub recorded: usize,
    pub review: usize,
    pub duplicates: usize,
    /// Lines that had their outcome already (the chunk was handled before).
    pub already: usize,
}

/// An accountant's decision on a line under review.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// Record it as `org`'s payment: settling the oldest first, or exactly `split`.
    Assign {
        org: OrgId,
        split: Option<Vec<(InvoiceId, Decimal)>>,
    },
    /// Not a customer's payment: left out, with why.
    Dismiss { reason: String },
}

/// Bank statements.
#[derive(Clone)]
pub struct Bank {
    ctx: Context,
}

/// How long after its link expired an upload may still be imported.
pub const UPLOAD_KEPT: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The most payer accounts one customer may have confirmed at once.
pub const MAX_PAYER_ACCOUNTS: usize = 50;

impl Bank {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    fn require_accountant(caller: &Principal) -> Result<()> {
        caller.require_role(&[Role::Admin, Role::Accountant])?;
        caller.require_scope(Scope::PaymentsWrite)?;
        Ok(())
    }

    /// The provider's own accounts: the requisites' settlement account and the settings'
    /// further accounts.
    async fn own_accounts(&self) -> Result<Vec<String>> {
        let mut own = settings_in_force(&self.ctx).await?.bank_accounts;
        if let Some(saved) = self.ctx.store.provider_requisites().await? {
            own.push(account_key(&saved.requisites.form().bank.account));
        }
        Ok(own)
    }

    /// Uploads a statement (admins and accountants with `payments:write`): files it in S3
    /// under its SHA-256, reads it — a broken file is refused naming its line and key, and
    /// nothing is recorded — counts it, and queues its payments for matching.
    pub async fn upload(
        &self,
        caller: &Principal,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<StatementImport> {
        Self::require_accountant(caller)?;
        if bytes.is_empty() {
            return Err(Error::invalid("file", "the file is empty"));
        }
        if bytes.len() > MAX_FILE_BYTES {
            return Err(Error::invalid("file", "the file is larger than 32 MiB"));
        }
        let file_name: String = file_name
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let objects = self.objects()?;
        let queue = self.queue()?;
        let sha256 = kopek_aws::objects::sha256_hex(&bytes);
        let size = bytes.len();
        objects
            .file(
                &statement_key(&sha256),
                bytes.clone(),
                "application/octet-stream",
            )
            .await?;
        let statement = bank::statement(&bytes).map_err(|e| {
            Error::invalid(
                "file",
                format!(
                    "line {}{}: {}",
                    e.line,
                    e.key.map(|k| format!(", {k}")).unwrap_or_default(),
                    e.reason
                ),
            )
        })?;
        let own = self.own_accounts().await?;
        if own.is_empty() {
            return Err(Error::conflict_on(
                "no_own_accounts",
                "bank_accounts",
                "the provider has no account yet: save its requisites (or bank_accounts in the billing settings) first",
            ));
        }
        let import = StatementImport::of(
            ImportId::new(),
            if file_name.is_empty() {
                "statement".into()
            } else {
                file_name
            },
            sha256,
            size,
            &statement,
            &own,
            Currency::RUB,
            actor(caller),
            self.ctx.now(),
        );
        self.ctx.store.put_import(&import).await?;
        let jobs = (0..import.chunks)
            .map(|chunk| {
                serde_json::to_string(&BankJob {
                    import: import.id,
                    chunk,
                })
                .map_err(Error::internal)
            })
            .collect::<Result<Vec<_>>>()?;
        queue.send_messages(&jobs, 0).await?;
        tracing::info!(import = %import.id, lines = import.lines_read, chunks = import.chunks, "statement uploaded");
        Ok(import)
    }

    /// A link to put a statement file too large for a request body straight into S3 (one
    /// `PUT` of its bytes, within 15 minutes), then import it with [`Self::import_upload`]
    /// (admins, accountants).
    pub async fn upload_link(
        &self,
        caller: &Principal,
        file_name: &str,
    ) -> Result<(StatementUpload, Download)> {
        Self::require_accountant(caller)?;
        let id = UploadId::new();
        let key = format!("statements/uploads/{id}");
        let link = self
            .objects()?
            .upload_link(&key, self.ctx.now(), kopek_aws::objects::MAX_PRESIGN)
            .await?;
        let upload = StatementUpload {
            id,
            by: crate::access::subject_text(caller),
            file_name: file_name
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect(),
            key,
            link_expires_at: link.expires_at,
        };
        if !self.ctx.store.put_upload(&upload).await? {
            return Err(Error::internal("a new upload id was taken"));
        }
        Ok((upload, link))
    }

    /// Imports a file put through an [`Self::upload_link`] as [`Self::upload`] does
    /// (admins, accountants). Refused while nothing was put (409 `not_uploaded`), when the
    /// file was put after the link expired or is asked for over an hour after that (409
    /// `upload_expired`), or is over [`MAX_FILE_BYTES`]; an upload is imported once.
    pub async fn import_upload(&self, caller: &Principal, id: UploadId) -> Result<StatementImport> {
        Self::require_accountant(caller)?;
        let store = &self.ctx.store;
        let upload = store.upload(id).await?.ok_or(Error::NotFound)?;
        let expired = || {
            Error::conflict_on(
                "upload_expired",
                "upload_id",
                "the upload link expired before the file was put or imported: ask for a new link",
            )
        };
        if self.ctx.now() > upload.link_expires_at + UPLOAD_KEPT {
            return Err(expired());
        }
        let objects = self.objects()?;
        let Some((size, put_at)) = objects.head(&upload.key).await? else {
            return Err(Error::conflict_on(
                "not_uploaded",
                "upload_id",
                "nothing was put through the link yet: PUT the file's bytes to its url first",
            ));
        };
        // S3 refuses a PUT through an expired link; the emulator does not, so it is checked
        // here too.
        if put_at > upload.link_expires_at {
            return Err(expired());
        }
        if usize::try_from(size).is_ok_and(|size| size > MAX_FILE_BYTES) {
            return Err(Error::invalid("file", "the file is larger than 32 MiB"));
        }
        let bytes = objects.read(&upload.key).await?;
        let import = self.upload(caller, &upload.file_name, bytes).await?;
        if !store.take_upload(id).await? {
            tracing::warn!(%id, "an upload was imported twice at once; its payments count once");
        }
        // Kept under its SHA-256 by the import; the upload's own copy goes.
        if let Err(e) = objects.delete(&upload.key).await {
            tracing::warn!(%id, error = %e, "the uploaded copy was not deleted");
        }
        Ok(import)
    }

    fn objects(&self) -> Result<&kopek_aws::objects::Objects> {
        self.ctx
            .objects
            .as_ref()
            .ok_or_else(|| Error::internal("this function has no documents bucket"))
    }

    fn queue(&self) -> Result<&kopek_aws::queue::Queue> {
        self.ctx
            .bank_queue
            .as_ref()
            .ok_or_else(|| Error::internal("this function has no bank queue"))
    }

    /// Handles one chunk of an import (the `bank-import` function): each payment matched,
    /// then recorded, left for review, or found a duplicate. A chunk handled again finds its
    /// lines done and writes nothing.
    pub async fn handle(&self, job: &BankJob) -> Result<ChunkDone> {
        let store = &self.ctx.store;
        let import = store
            .import(job.import)
            .await?
            .ok_or_else(|| Error::invalid("import", format!("no import {}", job.import)))?;
        let bytes = self.objects()?.read(&statement_key(&import.sha256)).await?;
        let statement = bank::statement(&bytes).map_err(Error::internal)?;
        let own = self.own_accounts().await?;
        let mut done = ChunkDone::default();
        for line in StatementImport::chunk(&statement, &own, job.chunk) {
            if store.import_line(import.id, line.line).await?.is_some() {
                done.already += 1;
                continue;
            }
            match self.import_line(&import, line).await? {
                LineDone::Recorded => done.recorded += 1,
                LineDone::Review => done.review += 1,
                LineDone::Duplicate => done.duplicates += 1,
                LineDone::Already => done.already += 1,
            }
        }
        tracing::info!(import = %import.id, chunk = job.chunk, recorded = done.recorded, review = done.review, duplicates = done.duplicates, "statement chunk handled");
        Ok(done)
    }

    async fn import_line(
        &self,
        import: &StatementImport,
        line: &StatementLine,
    ) -> Result<LineDone> {
        let store = &self.ctx.store;
        let print = fingerprint(line);
        let amount = Money::new(line.amount, line.currency.unwrap_or(Currency::RUB));
        if let Some(claim) = store.bank_line_claim(&print).await? {
            let outcome = Outcome::Duplicate {
                reason: format!(
                    "the same payment is line {} of import {}",
                    claim.line, claim.import
                ),
                payment: None,
            };
            return self.file(import, line, outcome, None).await;
        }
        let payer = self.who_paid(line).await?;
        let candidate = match payer {
            Payer::Confident(candidate) => candidate,
            Payer::Ambiguous(candidates) => {
                let reason = "several customers have the payer's tax id".to_owned();
                return self.review(import, line, reason, candidates).await;
            }
            Payer::Unknown => {
                let reason = "no customer has the payer's tax id or account".to_owned();
                return self.review(import, line, reason, Vec::new()).await;
            }
        };
        let org = candidate.org;
        let Some(organisation) = store.organisation(org).await? else {
            return self
                .review(import, line, "the customer is gone".into(), Vec::new())
                .await;
        };
        let mut payments = store.hand_payments_on(org, line.date).await?;
        if received_on(line) != line.date {
            payments.extend(store.hand_payments_on(org, received_on(line)).await?);
        }
        if let Some(by_hand) = recorded_by_hand(line, &payments) {
            let outcome = Outcome::Duplicate {
                reason: format!(
                    "recorded by hand as {} on {}",
                    by_hand.reference, by_hand.received_on
                ),
                payment: Some(by_hand.id),
            };
            return self.file(import, line, outcome, Some(&print)).await;
        }
        let invoices: Vec<OpenInvoice> = store
            .invoices_of_org_all(org)
            .await?
            .iter()
            .map(|i| OpenInvoice::of(&i.invoice))
            .collect();
        match allocate(line, amount, organisation.currency, &invoices) {
            Allocated::Review { reason } => {
                self.review(
                    import,
                    line,
                    format!("{}; {reason}", candidate.reason),
                    vec![candidate],
                )
                .await
            }
            Allocated::Record { allocation, reason } => {
                let reason = format!("{}; {reason}", candidate.reason);
                self.record(import, line, org, allocation, reason, None, Some(&print))
                    .await
            }
        }
    }

    /// The customer that paid `line`: by tax id (A3b), or by an account confirmed before
    /// (A80).
    async fn who_paid(&self, line: &StatementLine) -> Result<Payer> {
        let store = &self.ctx.store;
        let mut customers = Vec::new();
        for tax_id in [line.payer.inn.as_deref(), line.payer.tax_id.as_deref()]
            .into_iter()
            .flatten()
        {
            let key: String = tax_id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_uppercase();
            if key.is_empty() {
                continue;
            }
            for org in store.organisations_by_tax_id(&key).await? {
                customers.push(customer_of(&org));
            }
        }
        let account = account_key(&line.payer.account);
        let known = if account.is_empty() {
            None
        } else {
            store.payer_account(&account).await?
        };
        if let Some(org) = known
            && !customers.iter().any(|c: &Customer| c.org == org)
            && let Some(found) = store.organisation(org).await?
        {
            customers.push(customer_of(&found));
        }
        Ok(who_paid(line, &customers, |a| {
            (a == account).then_some(known).flatten()
        }))
    }

    /// Files `line` for review, with each candidate's open invoices.
    async fn review(
        &self,
        import: &StatementImport,
        line: &StatementLine,
        reason: String,
        candidates: Vec<Candidate>,
    ) -> Result<LineDone> {
        let mut with_invoices = Vec::new();
        for customer in candidates {
            let open_invoices = self.open_invoices(customer.org).await?;
            with_invoices.push(ReviewCandidate {
                customer,
                open_invoices,
            });
        }
        let outcome = Outcome::Review {
            reason,
            candidates: with_invoices,
        };
        self.file(import, line, outcome, Some(&fingerprint(line)))
            .await
    }

    async fn open_invoices(
        &self,
        org: OrgId,
    ) -> Result<Vec<(InvoiceId, kopek_domain::invoicing::InvoiceNumber, Money)>> {
        let mut open: Vec<OpenInvoice> = self
            .ctx
            .store
            .invoices_of_org_all(org)
            .await?
            .iter()
            .map(|i| OpenInvoice::of(&i.invoice))
            .filter(|i| i.open.amount() > Decimal::ZERO)
            .collect();
        open.sort_by_key(|i| (i.issued_on, i.number.seq));
        Ok(open.into_iter().map(|i| (i.id, i.number, i.open)).collect())
    }

    /// Files a line without a payment (A78, with its claim: A79).
    async fn file(
        &self,
        import: &StatementImport,
        line: &StatementLine,
        outcome: Outcome,
        claim: Option<&str>,
    ) -> Result<LineDone> {
        let done = match &outcome {
            Outcome::Review { .. } => LineDone::Review,
            _ => LineDone::Duplicate,
        };
        let filed = ImportLine::of(import.id, line, Currency::RUB, outcome);
        match self.ctx.store.file_line(&filed, claim).await? {
            Filed::Filed => Ok(done),
            Filed::LineExists => Ok(LineDone::Already),
            // Claimed meanwhile by another import's line: a duplicate of it.
            Filed::Claimed => {
                let claim = claim.unwrap_or_default();
                let by = self.ctx.store.bank_line_claim(claim).await?;
                let outcome = Outcome::Duplicate {
                    reason: by.map_or("the same payment was read meanwhile".into(), |c| {
                        format!("the same payment is line {} of import {}", c.line, c.import)
                    }),
                    payment: None,
                };
                Box::pin(self.file(import, line, outcome, None)).await
            }
        }
    }

    /// Records `line` as `org`'s payment through the payments service, writing the line's
    /// outcome with it: claimed now (`claim`) or resolved from review (`resolve`).
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        import: &StatementImport,
        line: &StatementLine,
        org: OrgId,
        allocation: Allocation,
        reason: String,
        resolve: Option<(UserOrKey, u64)>,
        claim: Option<&str>,
    ) -> Result<LineDone> {
        let amount = Money::new(line.amount, line.currency.unwrap_or(Currency::RUB));
        let new = NewPayment {
            amount,
            received_on: received_on(line),
            reference: PaymentReference::try_from(reference_of(line))?,
            allocation,
            source: Some(BankSource {
                import: import.id,
                line: line.line,
                number: line.number.clone(),
                date: line.date,
                payer_name: line.payer.name.clone(),
                payer_account: line.payer.account.clone(),
                purpose: line.purpose.clone(),
            }),
        };
        let payments = crate::payments::Payments::new(self.ctx.clone());
        let resolved_by = resolve.as_ref().map(|(by, _)| by.clone());
        let by = resolved_by
            .clone()
            .unwrap_or_else(|| import.uploaded_by.clone());
        let id = kopek_domain::ids::PaymentId::new();
        let filed = ImportLine::of(
            import.id,
            line,
            Currency::RUB,
            Outcome::Recorded {
                org,
                payment: id,
                reason,
                resolved_by,
            },
        );
        let write = match (&resolve, claim) {
            (Some((_, rev)), _) => LineWrite::Resolve {
                line: &filed,
                rev: *rev,
            },
            (None, Some(fingerprint)) => LineWrite::New {
                line: &filed,
                fingerprint,
            },
            (None, None) => return Err(Error::internal("a statement payment without its claim")),
        };
        let recorded = match payments.record_as(by, org, new, id, Some(write)).await? {
            FromLine::Recorded(recorded) => *recorded,
            FromLine::LineTaken => return Ok(LineDone::Already),
        };
        match recorded {
            Recorded::New(_) => Ok(LineDone::Recorded),
            Recorded::Before(earlier) => {
                let outcome = Outcome::Duplicate {
                    reason: format!("recorded before as {}", earlier.reference),
                    payment: Some(earlier.id),
                };
                match resolve {
                    Some((_, rev)) => {
                        let dup = ImportLine::of(import.id, line, Currency::RUB, outcome);
                        self.ctx.store.resolve_line(&dup, rev).await?;
                        Ok(LineDone::Duplicate)
                    }
                    None => self.file(import, line, outcome, claim).await,
                }
            }
        }
    }

    /// An import's report: its counts and every payment's outcome (billing staff).
    pub async fn report(&self, caller: &Principal, id: ImportId) -> Result<Report> {
        caller.require_role(crate::access::BILLING_STAFF)?;
        caller.require_scope(Scope::InvoicesRead)?;
        let import = self.ctx.store.import(id).await?.ok_or(Error::NotFound)?;
        let lines = self.ctx.store.import_lines(id).await?;
        Ok(Report { import, lines })
    }

    /// Imports, newest first (billing staff).
    pub async fn imports(
        &self,
        caller: &Principal,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StatementImport>> {
        caller.require_role(crate::access::BILLING_STAFF)?;
        caller.require_scope(Scope::InvoicesRead)?;
        Ok(self.ctx.store.imports(limit, start).await?)
    }

    /// The payer accounts confirmed for `org`: payments from them match the customer at once
    /// (billing staff name any customer; a customer reads its own).
    pub async fn payer_accounts(
        &self,
        caller: &Principal,
        org: Option<OrgId>,
    ) -> Result<(OrgId, Vec<String>)> {
        let org = crate::access::org_of(caller, org)?;
        if caller.org().is_none() {
            caller.require_role(crate::access::BILLING_STAFF)?;
        }
        caller.require_scope(Scope::InvoicesRead)?;
        Ok((org, self.ctx.store.payer_accounts_of(org).await?))
    }

    /// Sets the payer accounts confirmed for `org` to `accounts` (each 20 digits or an IBAN,
    /// errors naming `accounts[n]`; at most [`MAX_PAYER_ACCOUNTS`]), as resolving a reviewed
    /// line confirms one: later statement lines from them match the customer without review.
    /// Accounts left out are forgotten; an account confirmed for another customer moves to
    /// this one (the latest confirmation wins). Admins and accountants.
    pub async fn set_payer_accounts(
        &self,
        caller: &Principal,
        org: OrgId,
        accounts: &[String],
    ) -> Result<(OrgId, Vec<String>)> {
        Self::require_accountant(caller)?;
        if accounts.len() > MAX_PAYER_ACCOUNTS {
            return Err(Error::invalid(
                "accounts",
                format!("at most {MAX_PAYER_ACCOUNTS} accounts"),
            ));
        }
        let mut wanted: Vec<String> = Vec::with_capacity(accounts.len());
        for (i, account) in accounts.iter().enumerate() {
            let key = checked_account(account).ok_or_else(|| {
                Error::invalid(
                    format!("accounts[{i}]"),
                    "must be an account of 20 digits or an IBAN",
                )
            })?;
            if !wanted.contains(&key) {
                wanted.push(key);
            }
        }
        let store = &self.ctx.store;
        store
            .organisation(org)
            .await?
            .ok_or_else(|| Error::invalid("org_id", "no such organisation"))?;
        let had = store.payer_accounts_of(org).await?;
        for account in wanted.iter().filter(|a| !had.contains(a)) {
            store.remember_payer_account(account, org).await?;
        }
        for account in had.iter().filter(|a| !wanted.contains(a)) {
            store.forget_payer_account(account, org).await?;
        }
        tracing::info!(%org, accounts = wanted.len(), "payer accounts set");
        Ok((org, store.payer_accounts_of(org).await?))
    }

    /// The lines waiting for review, oldest import first (billing staff).
    pub async fn review_list(
        &self,
        caller: &Principal,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<ImportLine>> {
        caller.require_role(crate::access::BILLING_STAFF)?;
        caller.require_scope(Scope::InvoicesRead)?;
        Ok(self.ctx.store.review_lines(limit, start).await?)
    }

    /// Resolves a line under review (admins and accountants): assigned to a customer —
    /// recorded through the payments service, and the payer's account remembered for that
    /// customer — or dismissed. A line no longer under review is refused naming `status`.
    pub async fn resolve(
        &self,
        caller: &Principal,
        id: ImportId,
        line_no: usize,
        resolution: Resolution,
    ) -> Result<ImportLine> {
        Self::require_accountant(caller)?;
        let store = &self.ctx.store;
        let import = store.import(id).await?.ok_or(Error::NotFound)?;
        let stored = store
            .import_line(id, line_no)
            .await?
            .ok_or(Error::NotFound)?;
        if !stored.line.in_review() {
            return Err(Error::conflict_on(
                "not_in_review",
                "status",
                "the line is not waiting for review",
            ));
        }
        let line = statement_line_of(&stored.line);
        match resolution {
            Resolution::Dismiss { reason } => {
                let reason = reason.trim().to_owned();
                if reason.is_empty() || reason.chars().count() > 500 {
                    return Err(Error::invalid("reason", "must be 1 to 500 characters"));
                }
                let dismissed = ImportLine {
                    outcome: Outcome::Dismissed {
                        reason,
                        by: actor(caller),
                    },
                    ..stored.line.clone()
                };
                if !store.resolve_line(&dismissed, stored.rev).await? {
                    return Err(Error::conflict_on(
                        "conflict",
                        "status",
                        "the line changed meanwhile",
                    ));
                }
            }
            Resolution::Assign { org, split } => {
                if store.organisation(org).await?.is_none() {
                    return Err(Error::invalid("org_id", "no such organisation"));
                }
                let allocation = match split {
                    Some(parts) if !parts.is_empty() => Allocation::Exactly(parts),
                    Some(_) => {
                        return Err(Error::invalid("split", "must name at least one invoice"));
                    }
                    None => Allocation::Oldest,
                };
                let reason = "assigned by an accountant".to_owned();
                let done = self
                    .record(
                        &import,
                        &line,
                        org,
                        allocation,
                        reason,
                        Some((actor(caller), stored.rev)),
                        None,
                    )
                    .await?;
                if done == LineDone::Already {
                    return Err(Error::conflict_on(
                        "conflict",
                        "status",
                        "the line changed meanwhile",
                    ));
                }
                let account = account_key(&line.payer.account);
                if !account.is_empty() {
                    store.remember_payer_account(&account, org).await?;
                }
            }
        }
        let after = store
            .import_line(id, line_no)
            .await?
            .ok_or(Error::NotFound)?;
        tracing::info!(import = %id, line = line_no, "statement line resolved");
        Ok(after.line)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineDone {
    Recorded,
    Review,
    Duplicate,
    Already,
}

/// Where a statement file is kept: under its SHA-256.
fn statement_key(sha256: &str) -> String {
    format!("statements/{sha256}")
}

fn customer_of(org: &kopek_domain::accounts::Organisation) -> Customer {
    Customer {
        org: org.id,
        name: org.legal_name.to_string(),
        tax_id: org.tax_id.as_str().to_owned(),
        kpp: org.kpp.as_ref().map(|k| k.as_str().to_owned()),
        currency: org.currency,
    }
}

/// The statement line an import line was read from.
fn statement_line_of(line: &ImportLine) -> StatementLine {
    StatementLine {
        line: line.line,
        number: line.number.clone(),
        date: line.date,
        amount: line.amount.amount(),
        currency: Some(line.amount.currency()),
        payer: line.payer.clone(),
        payee: bank::Party::default(),
        received_on: Some(line.received_on),
        written_off_on: None,
        purpose: line.purpose.clone(),
    }
}
