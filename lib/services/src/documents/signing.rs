//! Batch signing: a manager signs a period's documents (or a selection) in one action; the
//! documents function signs them page by page with the KMS key, as a job with progress.
//!
//! **Start** ([`Documents::start_signing`], managers and admins, signed in as a person): the
//! period must be closed; the job is filed and its first step queued on `DocumentsQueue`.
//! **A step** ([`Documents::sign_step`]) reads the job, signs one page of [`SIGN_PAGE`]
//! documents from where it stands, saves the job's progress over its revision and queues the
//! next step. Per document: one signed already counts once (as `signed` when this signing did
//! it, `already` when another did); its bytes are read from the bucket and must still hash to
//! the SHA-256 on record (and, for a selection, to the one the manager listed), else it is
//! refused, named with the reason; then one KMS `Sign` makes a detached CMS signature
//! ([`kopek_aws::signing`]), filed beside the PDF under a key naming the signing, and the
//! document is saved signed over its revision — so two signings racing sign it once.
//!
//! A crash anywhere leaves the job at its last saved page: SQS redelivers the step, which
//! resumes from there, and documents signed meanwhile count as this signing's. The first
//! step ever makes the key's self-signed certificate (two KMS calls), named after the
//! provider's requisites; every later signature reuses it.

use base64::Engine;
use kopek_aws::dynamo::StoreError;
use kopek_aws::dynamo::documents::{StoredCertificate, StoredDocument};
use kopek_aws::objects::sha256_hex;
use kopek_aws::signing::{KmsSigner, SigningCertificate, SigningError};
use kopek_domain::accounts::{Principal, Role};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::documents::filed::signature_key;
use kopek_domain::documents::signing::{Listed, Refusal, Signing, SigningStatus, Step};
use kopek_domain::documents::{DocumentStatus, FiledObject, SignatureRecord};
use kopek_domain::ids::SigningId;
use kopek_domain::orders::UserOrKey;
use kopek_domain::period::BillingPeriod;

use super::{DocumentJob, Documents};
use crate::access::user_of;
use crate::{Error, PageKey, Result};

/// Documents signed per step (one SQS message): each costs a read of the PDF, one KMS
/// `Sign`, the signature's write and the document's.
pub const SIGN_PAGE: usize = 50;

/// Who may sign.
pub(super) const SIGNERS: &[Role] = &[Role::Manager, Role::Admin];

impl From<SigningError> for Error {
    fn from(e: SigningError) -> Self {
        match e {
            SigningError::Kms(store) => Error::Store(store),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl Documents {
    pub(super) fn signer(&self) -> Result<&KmsSigner> {
        self.ctx.signer.as_ref().ok_or_else(|| {
            Error::Internal("this function has no signing key (KOPEK_SIGNING_KEY_ID)".into())
        })
    }

    /// Starts signing `period`'s documents: every one not signed yet, or `selection` as
    /// listed (see the module docs). Managers and admins, signed in.
    pub async fn start_signing(
        &self,
        caller: &Principal,
        period: BillingPeriod,
        selection: Option<Vec<Listed>>,
    ) -> Result<Signing> {
        caller.require_role(SIGNERS)?;
        let by = user_of(caller)?;
        self.closed(period).await?;
        let total: u64 = self.count(period).await?.values().map(|t| t.count).sum();
        if selection.is_none() && total == 0 {
            return Err(Error::conflict_on(
                "no_documents",
                "period",
                format!("{period} has no documents to sign yet"),
            ));
        }
        let signing = Signing::start(
            SigningId::new(),
            period,
            by,
            self.ctx.now(),
            selection,
            total,
        )
        .map_err(|(i, e)| Error::invalid(format!("documents[{i}]"), e.to_string()))?;
        self.ctx.store.start_signing(&signing).await?;
        self.queue_step(signing.id).await?;
        Ok(signing)
    }

    async fn queue_step(&self, signing: SigningId) -> Result<()> {
        self.queue(&[DocumentJob::Sign { signing }]).await
    }

    /// A signing job and its progress (billing staff).
    pub async fn signing(&self, caller: &Principal, id: SigningId) -> Result<Signing> {
        caller.require_role(crate::access::BILLING_STAFF)?;
        Ok(self
            .ctx
            .store
            .signing(id)
            .await?
            .ok_or(Error::NotFound)?
            .signing)
    }

    /// The certificate documents are signed under (anyone who reads documents, to verify
    /// them); not found until the first signing made it.
    pub async fn certificate(&self, caller: &Principal) -> Result<SigningCertificate> {
        caller.require_scope(kopek_domain::accounts::Scope::InvoicesRead)?;
        let stored = self
            .ctx
            .store
            .signing_certificate()
            .await?
            .ok_or(Error::NotFound)?;
        decode_certificate(&stored)
    }

    /// Replaces the key's certificate by one the provider had issued for it (admins): the
    /// signatures made from then on carry it. Refused naming `pem` when it does not parse,
    /// certifies another key, or is not valid now; a conflict (`no_certificate`) before the
    /// first signing made the key's own.
    pub async fn upload_certificate(
        &self,
        caller: &Principal,
        pem: &str,
    ) -> Result<SigningCertificate> {
        caller.require_role(&[kopek_domain::accounts::Role::Admin])?;
        caller.require_scope(kopek_domain::accounts::Scope::InvoicesRead)?;
        let uploaded = SigningCertificate::from_pem(pem)
            .map_err(|e| Error::invalid("pem", format!("is no X.509 certificate in PEM: {e}")))?;
        let store = &self.ctx.store;
        let filed = store.signing_certificate().await?.ok_or_else(|| {
            Error::conflict_on(
                "no_certificate",
                "pem",
                "the key's certificate is made at the first signing: sign once, then replace it",
            )
        })?;
        let current = decode_certificate(&filed)?;
        if uploaded.public_key()? != current.public_key()? {
            return Err(Error::invalid(
                "pem",
                "certifies another key: it must be issued for the documents' signing key \
                 (the public key of GET /v1/billing/signing-certificate)",
            ));
        }
        let (not_before, not_after) = uploaded.validity()?;
        let now = self.ctx.now();
        if now < not_before || now > not_after {
            return Err(Error::invalid(
                "pem",
                format!("is valid from {not_before} to {not_after}, not now"),
            ));
        }
        let stored = StoredCertificate {
            key_id: filed.key_id.clone(),
            der_base64: base64::engine::general_purpose::STANDARD.encode(&uploaded.der),
            sha256: uploaded.sha256.clone(),
        };
        if !store
            .replace_signing_certificate(&filed.sha256, &stored)
            .await?
        {
            return Err(Error::conflict_on(
                "conflict",
                "pem",
                "the certificate was replaced meanwhile; read it again",
            ));
        }
        tracing::info!(sha256 = %uploaded.sha256, "signing certificate replaced by the provider's");
        Ok(uploaded)
    }

    /// The key's certificate: the one filed for it, or a new self-signed one.
    pub(super) async fn certificate_for_signing(&self) -> Result<SigningCertificate> {
        let signer = self.signer()?;
        let store = &self.ctx.store;
        if let Some(stored) = store.signing_certificate().await?
            && stored.key_id == signer.key_id()
        {
            return decode_certificate(&stored);
        }
        let requisites = store.provider_requisites().await?.ok_or_else(|| {
            Error::conflict_on(
                "requisites_missing",
                "requisites",
                "the provider's requisites name the certificate's subject: set them first",
            )
        })?;
        let name = requisites.requisites.legal_name().en();
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || " .-&'".contains(*c))
            .collect();
        let subject = format!("CN={} documents,O={},C=RU", clean.trim(), clean.trim());
        let made = signer
            .self_signed_certificate(&subject, self.ctx.now())
            .await?;
        let stored = StoredCertificate {
            key_id: signer.key_id().to_owned(),
            der_base64: base64::engine::general_purpose::STANDARD.encode(&made.der),
            sha256: made.sha256.clone(),
        };
        if store.file_signing_certificate(&stored).await? {
            return Ok(made);
        }
        // Another step filed one first: use that one.
        let filed = store.signing_certificate().await?.ok_or_else(|| {
            Error::Store(StoreError::Transient("the certificate vanished".into()))
        })?;
        decode_certificate(&filed)
    }

    /// One step of a signing (see the module docs).
    pub async fn sign_step(&self, id: SigningId) -> Result<()> {
        let store = &self.ctx.store;
        let Some(stored) = store.signing(id).await? else {
            return Err(Error::invalid("signing", format!("no signing {id}")));
        };
        let signing = stored.signing;
        if signing.status == SigningStatus::Done {
            return Ok(());
        }
        let certificate = self.certificate_for_signing().await?;
        let (page, next) = self.page_of(&signing).await?;
        let mut step = Step::default();
        for entry in page {
            match entry {
                Entry::Found(document, listed) => {
                    self.sign_one(
                        *document,
                        listed.as_deref(),
                        &signing,
                        &certificate,
                        &mut step,
                    )
                    .await?
                }
                Entry::Missing(document) => step.refused.push(Refusal {
                    document,
                    reason: format!("not a document of {}", signing.period),
                }),
            }
        }
        let advanced = signing.advance(step, next, self.ctx.now());
        match store.save_signing(&advanced, stored.rev).await {
            Ok(_) => {}
            // Another delivery of this step saved it first and goes on from there.
            Err(StoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        if advanced.status == SigningStatus::Running {
            self.queue_step(id).await?;
        }
        Ok(())
    }

    /// The documents of the signing's next page (each with the SHA-256 listed for it, for a
    /// selection), and where the page after starts.
    async fn page_of(&self, signing: &Signing) -> Result<(Vec<Entry>, Option<String>)> {
        let store = &self.ctx.store;
        match &signing.selection {
            Some(selection) => {
                let from: usize = signing
                    .cursor
                    .as_deref()
                    .map_or(Ok(0), str::parse)
                    .map_err(|_| Error::Internal("a signing's cursor is corrupt".into()))?;
                let to = (from + SIGN_PAGE).min(selection.len());
                let mut page = Vec::new();
                for Listed { id, sha256 } in &selection[from..to] {
                    let found = store
                        .document_by_id(*id)
                        .await?
                        .filter(|d| d.document.period == signing.period);
                    page.push(match found {
                        Some(document) => Entry::Found(Box::new(document), Some(sha256.clone())),
                        None => Entry::Missing(*id),
                    });
                }
                Ok((page, (to < selection.len()).then(|| to.to_string())))
            }
            None => {
                let start = signing
                    .cursor
                    .as_deref()
                    .map(PageKey::from_plain)
                    .transpose()?;
                let page = store
                    .documents_of_period(signing.period, SIGN_PAGE as i32, start)
                    .await?;
                Ok((
                    page.items
                        .into_iter()
                        .map(|d| Entry::Found(Box::new(d), None))
                        .collect(),
                    page.next.map(|k| k.to_plain()),
                ))
            }
        }
    }

    async fn sign_one(
        &self,
        stored: StoredDocument,
        listed: Option<&str>,
        signing: &Signing,
        certificate: &SigningCertificate,
        step: &mut Step,
    ) -> Result<()> {
        let StoredDocument { document, rev } = stored;
        if document.status == DocumentStatus::Signed {
            match &document.signature {
                Some(s) if s.signing == signing.id => step.signed += 1,
                _ => step.already += 1,
            }
            return Ok(());
        }
        let objects = self.objects()?;
        let bytes = objects.read(&document.file.key).await?;
        if let Err(refused) = document.check_unchanged(listed, &sha256_hex(&bytes)) {
            step.refused.push(Refusal {
                document: document.id,
                reason: refused.to_string(),
            });
            return Ok(());
        }
        let now = self.ctx.now();
        let signature = self
            .signer()?
            .detached_signature(&bytes, certificate, now)
            .await?;
        let key = signature_key(&document.file.key, signing.id);
        let object = FiledObject {
            key: key.clone(),
            sha256: sha256_hex(&signature),
            size: signature.len() as u64,
        };
        objects
            .file(&key, signature, "application/pkcs7-signature")
            .await?;
        let signed = document
            .sign(SignatureRecord {
                object,
                signed_by: signing.requested_by,
                signed_at: now,
                signing: signing.id,
                certificate_sha256: certificate.sha256.clone(),
            })
            .map_err(|e| Error::Internal(e.to_string()))?;
        let told = DomainEvent::new(
            signed.org,
            UserOrKey::User(signing.requested_by),
            now,
            EventKind::DocumentSigned {
                document: signed.id,
                doc_type: signed.doc_type,
                number: signed.number.clone(),
                period: signed.period,
            },
        );
        match self
            .ctx
            .store
            .save_document_telling(&signed, rev, &told)
            .await
        {
            Ok(_) => step.signed += 1,
            // Signed by another signing meanwhile: once is enough.
            Err(StoreError::Conflict(_)) => step.already += 1,
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

/// One document of a signing's page: found (with the SHA-256 listed for it, for a
/// selection), or a listed id that names no document of the period.
enum Entry {
    Found(Box<StoredDocument>, Option<String>),
    Missing(kopek_domain::ids::DocumentId),
}

fn decode_certificate(stored: &StoredCertificate) -> Result<SigningCertificate> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(&stored.der_base64)
        .map_err(|e| Error::Internal(format!("the filed certificate is corrupt: {e}")))?;
    Ok(SigningCertificate::from_der(der)?)
}
