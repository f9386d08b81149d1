//! A75–A76: the provider's own templates of closing documents, under the `SETTINGS`
//! partition beside its requisites.
//!
//! | # | Access pattern | Operation | Key | Cost |
//! |---|----------------|-----------|-----|------|
//! | A75 | An uploaded template: file once, read (the check; the admin's status), save its outcome | `PutItem` if absent / `GetItem` (consistent) / `PutItem` | `SETTINGS` / `TEMPLATE#{kind}#{sha256}` | 1 WCU per KB of source (≤ 64) |
//! | A76 | The active templates of every kind: read once per document job, activate, remove | `GetItem` / `PutItem` if `rev = :rev` (or absent) | `SETTINGS` / `TEMPLATES` | 0.5 RCU per 4 KB; 1 WCU per KB |

use kopek_domain::documents::SheetKind;
use kopek_domain::documents::template::{ActiveTemplates, Template};
use serde::{Deserialize, Serialize};

use crate::dynamo::{Store, StoreError, keys, to_item};

#[derive(Debug, Serialize, Deserialize)]
struct TemplateItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    template: Template,
    /// 1 while it is checked, 2 once its outcome is saved.
    rev: u64,
}

impl TemplateItem {
    fn new(template: &Template, rev: u64) -> Self {
        Self {
            pk: keys::SETTINGS.into(),
            sk: keys::template(template.kind.as_str(), &template.sha256),
            kind: "template".into(),
            template: template.clone(),
            rev,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ActiveItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    active: ActiveTemplates,
    rev: u64,
}

/// The active templates with their revision (0: none ever saved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredTemplates {
    pub active: ActiveTemplates,
    pub rev: u64,
}

impl Store {
    /// A75: files an upload unless the same source was uploaded for the kind before; then
    /// that upload as it stands.
    pub async fn file_template(&self, template: &Template) -> Result<Template, StoreError> {
        if self
            .put_new(to_item(&TemplateItem::new(template, 1))?)
            .await?
        {
            return Ok(template.clone());
        }
        self.template(template.kind, &template.sha256)
            .await?
            .ok_or_else(|| StoreError::Unexpected("an uploaded template vanished".into()))
    }

    /// A75: an upload of `kind` by its SHA-256.
    pub async fn template(
        &self,
        kind: SheetKind,
        sha256: &str,
    ) -> Result<Option<Template>, StoreError> {
        Ok(self
            .get::<TemplateItem>(keys::SETTINGS, &keys::template(kind.as_str(), sha256), true)
            .await?
            .map(|i| i.template))
    }

    /// A75: saves an upload's outcome, once: a second check (a redelivered job) finds it
    /// saved and changes nothing.
    pub async fn save_template(&self, template: &Template) -> Result<(), StoreError> {
        match self
            .put_at_rev(to_item(&TemplateItem::new(template, 2))?, 1, "template")
            .await
        {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A76: the active templates (none saved: none, revision 0).
    pub async fn active_templates(&self) -> Result<StoredTemplates, StoreError> {
        Ok(self
            .get::<ActiveItem>(keys::SETTINGS, keys::TEMPLATES_SK, true)
            .await?
            .map(|i| StoredTemplates {
                active: i.active,
                rev: i.rev,
            })
            .unwrap_or_default())
    }

    /// A76: saves the active templates over revision `rev` (0: none saved yet).
    pub async fn save_active_templates(
        &self,
        active: &ActiveTemplates,
        rev: u64,
    ) -> Result<u64, StoreError> {
        let item = to_item(&ActiveItem {
            pk: keys::SETTINGS.into(),
            sk: keys::TEMPLATES_SK.into(),
            kind: "templates".into(),
            active: active.clone(),
            rev: rev + 1,
        })?;
        self.put_revision(item, (rev > 0).then_some(rev), "active templates")
            .await
    }
}
