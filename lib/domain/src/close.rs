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

/// How many planning segments a close is planned in at once, each a chain of planning pages
/// of its own over the job shards `segment`, `segment + n`, `segment + 2n`, … — a divisor of
/// [`JOB_SHARDS`] (1, 2, 4, 8, 16 or 32), so every shard belongs to exactly one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct PlanSegments(u8);

impl PlanSegments {
    /// One segment per shard: planning as parallel as the shards allow.
    pub const ALL: PlanSegments = PlanSegments(JOB_SHARDS);
    /// One chain over every shard.
    pub const ONE: PlanSegments = PlanSegments(1);

    pub fn new(n: u8) -> Result<Self, String> {
        if n > 0 && JOB_SHARDS.is_multiple_of(n) {
            Ok(Self(n))
        } else {
            Err(format!(
                "planning segments must divide the {JOB_SHARDS} job shards (1, 2, 4, 8, 16 or 32), got {n}"
            ))
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// The segment that plans job shard `shard`.
    pub fn segment_of(self, shard: u8) -> u8 {
        shard % self.0
    }

    /// The segments, `0..n`.
    pub fn segments(self) -> std::ops::Range<u8> {
        0..self.0
    }

    /// The shard `segment` plans after `shard`, if any.
    pub fn next_shard(self, shard: u8) -> Option<u8> {
        shard.checked_add(self.0).filter(|s| *s < JOB_SHARDS)
    }
}

impl TryFrom<u8> for PlanSegments {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        Self::new(n)
    }
}

impl From<PlanSegments> for u8 {
    fn from(n: PlanSegments) -> u8 {
        n.0
    }
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
    fn planning_segments_divide_the_shards_and_each_shard_is_in_one() {
        for n in [1u8, 2, 4, 8, 16, 32] {
            let segments = PlanSegments::new(n).unwrap();
            let mut planned = Vec::new();
            for segment in segments.segments() {
                let mut shard = Some(segment);
                while let Some(s) = shard {
                    assert_eq!(segments.segment_of(s), segment);
                    planned.push(s);
                    shard = segments.next_shard(s);
                }
            }
            planned.sort_unstable();
            assert_eq!(planned, (0..JOB_SHARDS).collect::<Vec<_>>(), "{n} segments");
        }
        for bad in [0u8, 3, 5, 33, 64] {
            assert!(PlanSegments::new(bad).is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_string(&PlanSegments::ALL).unwrap(), "32");
        assert!(serde_json::from_str::<PlanSegments>("6").is_err());
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
