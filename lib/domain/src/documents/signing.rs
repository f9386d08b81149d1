//! A manager's signing of a period's documents: one action over hundreds or thousands of
//! documents, run as a job whose progress anyone on the staff can watch.
//!
//! A signing covers either every document of the period not signed yet, or a selection the
//! manager listed, each with the SHA-256 they saw ([`Listed`]): a document whose bytes are no
//! longer those is refused, never signed. The job moves page by page ([`Signing::advance`]);
//! a page run twice (a redelivered step) counts each document once, because a document this
//! signing signed already counts as `signed`, one another signing signed as `already`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{DocumentId, SigningId, UserId};
use crate::period::BillingPeriod;

/// The most documents one selection may name.
pub const MAX_SELECTION: usize = 1000;

/// A document as the manager listed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listed {
    pub id: DocumentId,
    /// The SHA-256 the manager saw (lowercase hex).
    pub sha256: String,
}

/// Where a signing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigningStatus {
    Running,
    Done,
}

impl SigningStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
        }
    }
}

/// A document the signing refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    pub document: DocumentId,
    pub reason: String,
}

/// What one page of a signing did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub signed: u64,
    pub already: u64,
    pub refused: Vec<Refusal>,
}

/// A signing job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    pub id: SigningId,
    pub period: BillingPeriod,
    pub requested_by: UserId,
    pub requested_at: DateTime<Utc>,
    /// The documents chosen, as listed; `None`: every document of the period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Vec<Listed>>,
    pub status: SigningStatus,
    /// Documents it covers (the selection, or the period's when it started).
    pub total: u64,
    /// Documents it signed.
    pub signed: u64,
    /// Documents found signed by another signing.
    pub already: u64,
    pub refused: Vec<Refusal>,
    /// Where the next page starts (a page key or a position in the selection); `None`
    /// before the first page and once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Pages done.
    pub pages: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// Why a signing cannot be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningInputError {
    #[error("a selection names at most {MAX_SELECTION} documents, not {0}")]
    TooMany(usize),
    #[error("a selection names at least one document")]
    Empty,
    #[error("document {0} is named twice")]
    Twice(DocumentId),
    #[error("`{0}` is no SHA-256 (64 lowercase hex digits)")]
    NotSha256(String),
}

impl Signing {
    /// A new signing of `period`, by `by`, of `selection` or (`None`) the period's
    /// `period_total` documents.
    pub fn start(
        id: SigningId,
        period: BillingPeriod,
        by: UserId,
        at: DateTime<Utc>,
        selection: Option<Vec<Listed>>,
        period_total: u64,
    ) -> Result<Self, (usize, SigningInputError)> {
        if let Some(listed) = &selection {
            if listed.is_empty() {
                return Err((0, SigningInputError::Empty));
            }
            if listed.len() > MAX_SELECTION {
                return Err((MAX_SELECTION, SigningInputError::TooMany(listed.len())));
            }
            let mut seen = std::collections::BTreeSet::new();
            for (i, l) in listed.iter().enumerate() {
                let hex = l.sha256.len() == 64
                    && l.sha256
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !hex {
                    return Err((i, SigningInputError::NotSha256(l.sha256.clone())));
                }
                if !seen.insert(l.id) {
                    return Err((i, SigningInputError::Twice(l.id)));
                }
            }
        }
        Ok(Self {
            id,
            period,
            requested_by: by,
            requested_at: at,
            total: selection.as_ref().map_or(period_total, |s| s.len() as u64),
            selection,
            status: SigningStatus::Running,
            signed: 0,
            already: 0,
            refused: Vec::new(),
            cursor: None,
            pages: 0,
            finished_at: None,
        })
    }

    /// The signing after one page: its counts added, at `next` (`None`: done at `now`).
    pub fn advance(&self, step: Step, next: Option<String>, now: DateTime<Utc>) -> Self {
        let mut refused = self.refused.clone();
        refused.extend(step.refused);
        Self {
            signed: self.signed + step.signed,
            already: self.already + step.already,
            refused,
            pages: self.pages + 1,
            status: if next.is_some() {
                SigningStatus::Running
            } else {
                SigningStatus::Done
            },
            finished_at: if next.is_some() { None } else { Some(now) },
            cursor: next,
            ..self.clone()
        }
    }

    /// Documents handled so far.
    pub fn handled(&self) -> u64 {
        self.signed + self.already + self.refused.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(n: usize) -> Vec<Listed> {
        (0..n)
            .map(|_| Listed {
                id: DocumentId::new(),
                sha256: "ab".repeat(32),
            })
            .collect()
    }

    fn start(selection: Option<Vec<Listed>>) -> Result<Signing, (usize, SigningInputError)> {
        Signing::start(
            SigningId::new(),
            BillingPeriod::new(2026, 11).expect("a period"),
            UserId::new(),
            Utc::now(),
            selection,
            7,
        )
    }

    #[test]
    fn a_selection_is_checked_and_named_by_position() {
        assert_eq!(start(None).expect("all").total, 7);
        assert_eq!(start(Some(listed(3))).expect("three").total, 3);
        assert!(matches!(
            start(Some(vec![])),
            Err((0, SigningInputError::Empty))
        ));
        assert!(matches!(
            start(Some(listed(MAX_SELECTION + 1))),
            Err((_, SigningInputError::TooMany(_)))
        ));
        let mut twice = listed(2);
        twice[1].id = twice[0].id;
        assert!(matches!(
            start(Some(twice)),
            Err((1, SigningInputError::Twice(_)))
        ));
        let mut upper = listed(2);
        upper[1].sha256 = "AB".repeat(32);
        assert!(matches!(
            start(Some(upper)),
            Err((1, SigningInputError::NotSha256(_)))
        ));
    }

    #[test]
    fn pages_add_up_and_the_last_one_finishes_it() {
        let s = start(None).expect("started");
        let now = Utc::now();
        let s = s.advance(
            Step {
                signed: 4,
                already: 1,
                refused: vec![],
            },
            Some("page-2".into()),
            now,
        );
        assert_eq!(
            (s.status, s.handled(), s.pages),
            (SigningStatus::Running, 5, 1)
        );
        let s = s.advance(
            Step {
                signed: 1,
                already: 0,
                refused: vec![Refusal {
                    document: DocumentId::new(),
                    reason: "changed".into(),
                }],
            },
            None,
            now,
        );
        assert_eq!(
            (s.status, s.handled(), s.signed),
            (SigningStatus::Done, 7, 5)
        );
        assert_eq!(s.finished_at, Some(now));
        assert_eq!(s.cursor, None);
    }
}
