//! The provider's own templates of closing documents: uploaded by an admin, checked by the
//! documents function (the only place the typesetting engine runs) against the sample sheet
//! of their kind, then used for every document of the kind made afterwards — or refused
//! with the compiler's message and line, changing nothing.
//!
//! An upload answers at once with its status `checking`; `GET
//! /v1/billing/templates/{kind}/{sha256}` shows `accepted`, or `refused` with the error, once
//! the documents function has compiled it (a job on `DocumentsQueue`, usually within
//! seconds). Uploading the same source again finds that upload. Removing a kind's template
//! brings the built-in one back. Documents made before keep their bytes: a template changes
//! what is made next, never what was filed.

use kopek_domain::accounts::{Principal, Role, Scope};
use kopek_domain::documents::SheetKind;
use kopek_domain::documents::template::{
    ActiveTemplate, ActiveTemplates, Template, TemplateError, TemplateStatus,
};

use super::{DocumentJob, Documents};
use crate::access::{BILLING_STAFF, subject_text};
use crate::{Error, Result};

impl Documents {
    /// Uploads `source` as `kind`'s template (admins) and queues its check; the same source
    /// uploaded before is that upload, as it stands. Refused naming `source` when it is
    /// empty or too large.
    pub async fn upload_template(
        &self,
        caller: &Principal,
        kind: SheetKind,
        source: String,
    ) -> Result<Template> {
        caller.require_role(&[Role::Admin])?;
        caller.require_scope(Scope::InvoicesRead)?;
        let upload = Template::upload(kind, source, subject_text(caller), self.ctx.now())
            .map_err(|e| Error::invalid(e.field, e.reason))?;
        let filed = self.ctx.store.file_template(&upload).await?;
        if filed.status == TemplateStatus::Checking {
            self.queue(&[DocumentJob::Template {
                kind,
                sha256: filed.sha256.clone(),
            }])
            .await?;
        }
        tracing::info!(kind = kind.as_str(), sha256 = %filed.sha256, "template uploaded");
        Ok(filed)
    }

    /// Checks an upload (the documents function): compiled against the samples of its kind;
    /// accepted (and made the kind's active template) or refused with the first error. A
    /// checked upload is left as it is.
    pub async fn check_template(&self, kind: SheetKind, sha256: &str) -> Result<()> {
        let Some(upload) = self.ctx.store.template(kind, sha256).await? else {
            return Err(Error::invalid(
                "template",
                format!("no upload {sha256} of {}", kind.as_str()),
            ));
        };
        if upload.status != TemplateStatus::Checking {
            return Ok(());
        }
        let typesetter = self.typesetter()?;
        let outcome: std::result::Result<(), TemplateError> = Template::samples(kind)
            .iter()
            .try_for_each(|sample| typesetter.sheet_with(&upload.source, sample).map(drop));
        let checked = upload.checked(outcome, self.ctx.now());
        if checked.status == TemplateStatus::Accepted {
            // Active first: a crash before the outcome is saved checks it again, and
            // activating the same template twice changes nothing.
            let stored = self.ctx.store.active_templates().await?;
            let mut active = stored.active;
            active.activate(&checked);
            self.ctx
                .store
                .save_active_templates(&active, stored.rev)
                .await?;
        }
        self.ctx.store.save_template(&checked).await?;
        tracing::info!(
            kind = kind.as_str(),
            sha256,
            status = checked.status.as_str(),
            "template checked"
        );
        Ok(())
    }

    /// An upload of `kind` by its SHA-256, with its status and error (billing staff).
    pub async fn template(
        &self,
        caller: &Principal,
        kind: SheetKind,
        sha256: &str,
    ) -> Result<Template> {
        caller.require_role(BILLING_STAFF)?;
        self.ctx
            .store
            .template(kind, sha256)
            .await?
            .ok_or(Error::NotFound)
    }

    /// `kind`'s active template, if the provider has one of its own (billing staff).
    pub async fn active_template(
        &self,
        caller: &Principal,
        kind: SheetKind,
    ) -> Result<Option<ActiveTemplate>> {
        caller.require_role(BILLING_STAFF)?;
        Ok(self
            .ctx
            .store
            .active_templates()
            .await?
            .active
            .of(kind)
            .cloned())
    }

    /// Brings back the built-in template of `kind` (admins); not found when it had none of
    /// its own.
    pub async fn remove_template(&self, caller: &Principal, kind: SheetKind) -> Result<()> {
        caller.require_role(&[Role::Admin])?;
        caller.require_scope(Scope::InvoicesRead)?;
        let stored = self.ctx.store.active_templates().await?;
        let mut active = stored.active;
        if !active.remove(kind) {
            return Err(Error::NotFound);
        }
        self.ctx
            .store
            .save_active_templates(&active, stored.rev)
            .await?;
        tracing::info!(
            kind = kind.as_str(),
            "template removed: the built-in one serves"
        );
        Ok(())
    }

    /// The active templates documents are made with now.
    pub(super) async fn templates_in_force(&self) -> Result<ActiveTemplates> {
        Ok(self.ctx.store.active_templates().await?.active)
    }
}
