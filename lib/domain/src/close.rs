//! The period close's states: a period's close is `closing` until every customer's job is
//! done or skipped, then `closed`; each customer's job is `pending` until its invoice is issued
//! (`done`) or there was nothing to bill (`skipped`), and `failed` (with the reason) while its
//! data cannot be invoiced. How a close runs is `kopek_services::close`.

use serde::{Deserialize, Serialize};

/// The state of a period's close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodStatus {
    Closing,
    Closed,
}

impl PeriodStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodStatus::Closing => "closing",
            PeriodStatus::Closed => "closed",
        }
    }
}

/// The state of one customer's job in a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Done,
    Skipped,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Done => "done",
            JobStatus::Skipped => "skipped",
            JobStatus::Failed => "failed",
        }
    }

    /// Whether the job still has to be done (pending, or failed and to be retried).
    pub fn is_open(self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_have_a_stable_text_and_wire_form() {
        for (status, text) in [
            (PeriodStatus::Closing, "closing"),
            (PeriodStatus::Closed, "closed"),
        ] {
            assert_eq!(status.as_str(), text);
            assert_eq!(serde_json::to_value(status).unwrap(), text);
        }
        for (status, text, open) in [
            (JobStatus::Pending, "pending", true),
            (JobStatus::Done, "done", false),
            (JobStatus::Skipped, "skipped", false),
            (JobStatus::Failed, "failed", true),
        ] {
            assert_eq!(status.as_str(), text);
            assert_eq!(serde_json::to_value(status).unwrap(), text);
            assert_eq!(status.is_open(), open, "{text}");
        }
    }
}
