//! A provider's own template for one kind of sheet (`invoice`, `act`, `credit_note`, `upd`):
//! Typst source that lays out the same [`InvoiceSheet`](super::InvoiceSheet) the built-in
//! template does (read from `sys.inputs.sheet` as JSON).
//!
//! **Checked before it is used.** An upload is `checking` until the documents function —
//! the only place the typesetting engine runs — compiles it against the sample sheet of its
//! kind in every language the kind is printed in ([`Template::samples`]); then it is
//! `accepted` and becomes the kind's active template, or `refused` with the compiler's
//! message and the line it points at ([`TemplateError`]). A refused upload changes nothing:
//! documents keep the active template (or the built-in one).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{InvoiceSheet, SheetKind};
use crate::catalog::Lang;

/// The largest template source, in bytes: it travels in a JSON body the API caps at 64 KiB,
/// and the active templates of every kind share one stored item, which DynamoDB caps at
/// 400 KB.
pub const MAX_TEMPLATE_BYTES: usize = 48 * 1024;

/// Where an uploaded template stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateStatus {
    /// Uploaded; the documents function has not compiled it yet.
    Checking,
    /// Compiled against the samples: the kind's documents use it.
    Accepted,
    /// Did not compile: see its error.
    Refused,
}

impl TemplateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Checking => "checking",
            Self::Accepted => "accepted",
            Self::Refused => "refused",
        }
    }
}

/// Why a template does not compile: the compiler's message and the 1-based line of the
/// template it points at (where it points into the template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateError {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// An uploaded template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub kind: SheetKind,
    /// SHA-256 of the source, lowercase hex: the upload's identity.
    pub sha256: String,
    pub source: String,
    pub status: TemplateStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TemplateError>,
    /// Who uploaded it (`usr_…`).
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<DateTime<Utc>>,
}

/// Why an upload is refused before it is checked, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct UploadRefused {
    pub field: &'static str,
    pub reason: String,
}

impl Template {
    /// An upload of `source` for `kind`, to be checked: refused naming `source` when it is
    /// empty, larger than [`MAX_TEMPLATE_BYTES`] or holds a NUL.
    pub fn upload(
        kind: SheetKind,
        source: String,
        uploaded_by: String,
        now: DateTime<Utc>,
    ) -> Result<Self, UploadRefused> {
        let refuse = |reason: String| UploadRefused {
            field: "source",
            reason,
        };
        if source.trim().is_empty() {
            return Err(refuse("must not be empty".into()));
        }
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(refuse(format!(
                "is {} bytes; a template has at most {MAX_TEMPLATE_BYTES}",
                source.len()
            )));
        }
        if source.contains('\0') {
            return Err(refuse("must not contain NUL characters".into()));
        }
        Ok(Self {
            kind,
            sha256: hex(&Sha256::digest(source.as_bytes())),
            source,
            status: TemplateStatus::Checking,
            error: None,
            uploaded_by,
            uploaded_at: now,
            checked_at: None,
        })
    }

    /// The sample sheets it must compile against: its kind in each language the kind is
    /// printed in (the UPD only in Russian).
    pub fn samples(kind: SheetKind) -> Vec<InvoiceSheet> {
        let languages: &[Lang] = match kind {
            SheetKind::Upd => &[Lang::Ru],
            _ => &[Lang::Ru, Lang::En],
        };
        languages
            .iter()
            .map(|lang| InvoiceSheet::sample(kind, *lang))
            .collect()
    }

    /// The outcome of its check at `now`.
    pub fn checked(self, outcome: Result<(), TemplateError>, now: DateTime<Utc>) -> Self {
        let (status, error) = match outcome {
            Ok(()) => (TemplateStatus::Accepted, None),
            Err(e) => (TemplateStatus::Refused, Some(e)),
        };
        Self {
            status,
            error,
            checked_at: Some(now),
            ..self
        }
    }
}

/// The active template of each kind that has one; the built-in template serves the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveTemplates {
    #[serde(default)]
    pub templates: Vec<ActiveTemplate>,
}

/// A kind's active template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveTemplate {
    pub kind: SheetKind,
    pub sha256: String,
    pub source: String,
    pub accepted_at: DateTime<Utc>,
}

impl ActiveTemplates {
    /// The active template of `kind`, if one was accepted.
    pub fn of(&self, kind: SheetKind) -> Option<&ActiveTemplate> {
        self.templates.iter().find(|t| t.kind == kind)
    }

    /// `template` (accepted) made the active one of its kind.
    pub fn activate(&mut self, template: &Template) {
        self.templates.retain(|t| t.kind != template.kind);
        self.templates.push(ActiveTemplate {
            kind: template.kind,
            sha256: template.sha256.clone(),
            source: template.source.clone(),
            accepted_at: template.checked_at.unwrap_or(template.uploaded_at),
        });
        self.templates.sort_by_key(|t| t.kind.as_str());
    }

    /// Back to the built-in template for `kind`; `false` if it had none of its own.
    pub fn remove(&mut self, kind: SheetKind) -> bool {
        let before = self.templates.len();
        self.templates.retain(|t| t.kind != kind);
        self.templates.len() != before
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap()
    }

    #[test]
    fn an_upload_is_checked_for_size_and_content_and_named_by_its_hash() {
        let t = Template::upload(SheetKind::Act, "= Hello".into(), "usr_1".into(), now()).unwrap();
        assert_eq!(t.status, TemplateStatus::Checking);
        assert_eq!(t.sha256.len(), 64);
        for bad in [
            String::new(),
            "  \n".into(),
            "a\0b".into(),
            "x".repeat(MAX_TEMPLATE_BYTES + 1),
        ] {
            let refused = Template::upload(SheetKind::Act, bad, "usr_1".into(), now()).unwrap_err();
            assert_eq!(refused.field, "source");
        }
    }

    #[test]
    fn an_accepted_template_becomes_its_kinds_active_one_and_can_be_removed() {
        let t = Template::upload(SheetKind::Act, "= A".into(), "usr_1".into(), now()).unwrap();
        let accepted = t.clone().checked(Ok(()), now());
        assert_eq!(accepted.status, TemplateStatus::Accepted);
        let refused = t.checked(
            Err(TemplateError {
                message: "unknown variable: x".into(),
                line: Some(3),
            }),
            now(),
        );
        assert_eq!(refused.status, TemplateStatus::Refused);
        assert_eq!(
            refused.error.unwrap().to_string(),
            "line 3: unknown variable: x"
        );

        let mut active = ActiveTemplates::default();
        active.activate(&accepted);
        let newer = Template::upload(SheetKind::Act, "= B".into(), "usr_1".into(), now())
            .unwrap()
            .checked(Ok(()), now());
        active.activate(&newer);
        assert_eq!(active.templates.len(), 1, "one per kind");
        assert_eq!(active.of(SheetKind::Act).unwrap().source, "= B");
        assert!(active.of(SheetKind::Invoice).is_none());
        assert!(active.remove(SheetKind::Act));
        assert!(!active.remove(SheetKind::Act));
    }

    #[test]
    fn the_upd_is_checked_in_russian_and_the_rest_in_both_languages() {
        assert_eq!(Template::samples(SheetKind::Upd).len(), 1);
        assert_eq!(Template::samples(SheetKind::Invoice).len(), 2);
    }
}
