//! The period close's states: a period's close is `closing` until every customer's job is
//! done or skipped, then `closed`; each customer's job is `pending` until its invoice is issued
//! (`done`) or there was nothing to bill (`skipped`), and `failed` (with the reason) while its
//! data cannot be invoiced. How a close runs is `kopek_services::close`.

use serde::{Deserialize, Serialize};

use crate::ids::OrgId;

/// How many shards a period's customer jobs and their counters are spread over, so that no
/// partition and no counter is written by every customer: each shard holds the jobs of the
/// customers [`job_shard`] puts there and one tally of them.
pub const JOB_SHARDS: u8 = 32;

/// The shard of a period's close that holds `org`'s job and counts it (0 to
/// [`JOB_SHARDS`] − 1).
pub fn job_shard(org: OrgId) -> u8 {
    org.spread(u64::from(JOB_SHARDS)) as u8
}

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
    fn customers_spread_over_every_shard_and_stay_in_theirs() {
        let mut seen = [0u32; JOB_SHARDS as usize];
        for _ in 0..3200 {
            let org = OrgId::new();
            let shard = job_shard(org);
            assert_eq!(job_shard(org), shard);
            seen[usize::from(shard)] += 1;
        }
        // 100 expected each; five standard deviations either side.
        assert!(seen.iter().all(|n| (50..=150).contains(n)), "{seen:?}");
        let fixed: OrgId = "org_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(fixed.spread(1), 0);
        assert_eq!(fixed.spread(0), 0, "no buckets: the first");
    }

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
