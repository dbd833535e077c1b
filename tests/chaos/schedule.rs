//! The seeded schedule (a pure function of the seed) and the resources it works on.

use std::fmt;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

use crate::harness::NS;
use crate::replicas::COUNT;

const CODECOMMIT: &str = "codecommit.amazonaws.com";
const CASSANDRA: &str = "cassandra.amazonaws.com";
const BEDROCK: &str = "bedrock.amazonaws.com";

/// One thing the schedule does.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Step {
    /// SIGKILL the Lease holder, restart it after this long (a quick restart keeps its identity and
    /// retakes its own Lease; a slow one leaves the Lease to a standby).
    KillLeader(Duration),
    /// SIGTERM the Lease holder (it releases the Lease), restart it once it exited.
    TermLeader,
    /// SIGKILL the n-th standby and restart it.
    KillStandby(usize),
    /// Ask every live resource to rotate, and this long after (while the leader is busy with
    /// them) SIGSTOP it for the second duration (past its Lease), then SIGCONT.
    PauseLeader(Duration, Duration),
    /// Restart replica n with its wall clock shifted by this many seconds.
    Skew(usize, i64),
    /// The next `times` Lease requests hang this long before they are served.
    StallLease(Duration, usize),
    /// IAM throttles, fails and slows down for a while (and two 500s at once).
    IamFaults {
        throttle: f64,
        server_error: f64,
        latency: Duration,
        length: Duration,
    },
    /// The API server fails the next writes (409) or requests (500, 503).
    ApiFaults(u16, usize),
    /// Every open watch ends.
    DropWatches,
    Rotate(usize),
    Create(usize),
    Delete(usize),
    /// Delete a resource without its finalizer, as a tenant can: no cleanup runs, and the
    /// sweep must delete what it held.
    Orphan(usize),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::KillLeader(d) => write!(f, "SIGKILL the leader, restart it after {d:?}"),
            Step::TermLeader => write!(f, "SIGTERM the leader, restart it"),
            Step::KillStandby(n) => write!(f, "SIGKILL standby #{n}, restart it"),
            Step::PauseLeader(busy, d) => write!(
                f,
                "rotate everything, {busy:?} later SIGSTOP the leader for {d:?}, then SIGCONT"
            ),
            Step::Skew(n, s) => write!(f, "restart replica-{n} with its clock {s:+} s off"),
            Step::StallLease(d, n) => write!(f, "stall the next {n} Lease requests by {d:?}"),
            Step::IamFaults {
                throttle,
                server_error,
                latency,
                length,
            } => write!(
                f,
                "IAM: {:.0}% throttled, {:.0}% 5xx, {latency:?} latency for {length:?}",
                throttle * 100.0,
                server_error * 100.0
            ),
            Step::ApiFaults(code, n) => write!(f, "API server: the next {n} requests get {code}"),
            Step::DropWatches => write!(f, "drop every watch"),
            Step::Rotate(r) => write!(f, "rotate resource {r}"),
            Step::Create(r) => write!(f, "create resource {r}"),
            Step::Delete(r) => write!(f, "delete resource {r}"),
            Step::Orphan(r) => write!(
                f,
                "delete resource {r} and drop its finalizer (no cleanup: swept)"
            ),
        }
    }
}

/// The run's resources: each has its own IAM user, so IAM's answer for that user is exactly
/// what the resource may hold.
pub(crate) struct Workload {
    count: usize,
}

impl Workload {
    pub(crate) fn new(count: usize) -> Self {
        Workload { count }
    }

    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Created before the schedule starts; the rest are created by it.
    pub(crate) fn initial(&self) -> Vec<usize> {
        (0..self.count / 2).collect()
    }

    pub(crate) fn users(&self) -> Vec<&'static str> {
        (0..self.count)
            .map(|r| &*Box::leak(self.user(r).into_boxed_str()))
            .collect()
    }

    pub(crate) fn name(&self, r: usize) -> String {
        format!("chaos-{r:02}")
    }

    pub(crate) fn user(&self, r: usize) -> String {
        format!("chaos-user-{r:02}")
    }

    /// Git credentials rotated by Reset, Keyspaces passwords by Recreate, Bedrock API keys.
    pub(crate) fn service(&self, r: usize) -> &'static str {
        [CODECOMMIT, CASSANDRA, BEDROCK][r % 3]
    }

    /// Odd resources mint through the IAMIdentity of the second account, even ones through the
    /// replicas' own identity.
    pub(crate) fn in_second_account(&self, r: usize) -> bool {
        r % 2 == 1
    }

    pub(crate) fn manifest(&self, r: usize) -> serde_json::Value {
        let rotation = match r % 3 {
            0 => json!({"strategy": "Reset"}),
            _ => json!({"strategy": "Recreate", "gracePeriod": "5s"}),
        };
        let mut spec =
            json!({"userName": self.user(r), "serviceName": self.service(r), "rotation": rotation});
        if self.in_second_account(r) {
            spec["identityRef"] = json!({"name": crate::SECOND_IDENTITY});
        }
        json!({"metadata": {"name": self.name(r), "namespace": NS}, "spec": spec})
    }
}

/// The schedule for `seed`: the same seed always gives the same steps. It follows which
/// resources exist, so that rotations and deletions hit live ones.
pub(crate) fn generate(seed: u64, steps: usize, workload: &Workload) -> Vec<Step> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut live = workload.initial();
    let mut unborn: Vec<usize> = (live.len()..workload.count).collect();
    let mut plan = Vec::with_capacity(steps);
    // Every run has the clock-skew case (a standby whose clock runs a minute ahead), a leader
    // killed for longer than its Lease, and one frozen mid-work.
    plan.push(Step::Skew(1 + rng.random_range(0..COUNT - 1), 60));
    plan.push(Step::KillLeader(Duration::from_secs(4)));
    plan.push(Step::PauseLeader(
        Duration::from_millis(rng.random_range(0..300)),
        Duration::from_millis(4_000),
    ));
    while plan.len() < steps {
        let step = match rng.random_range(0..17) {
            0 | 1 => Step::KillLeader(Duration::from_millis([300, 4_000][rng.random_range(0..2)])),
            2 => Step::KillStandby(rng.random_range(0..COUNT)),
            3 => Step::PauseLeader(
                Duration::from_millis(rng.random_range(0..300)),
                Duration::from_millis(rng.random_range(3_500..6_000)),
            ),
            4 => Step::Skew(
                rng.random_range(0..COUNT),
                [-90, -30, 45, 120][rng.random_range(0..4)],
            ),
            5 => Step::StallLease(Duration::from_millis(rng.random_range(500..2_500)), 3),
            6 => Step::IamFaults {
                throttle: rng.random_range(0.1..0.4),
                server_error: rng.random_range(0.05..0.3),
                latency: Duration::from_millis(rng.random_range(50..400)),
                length: Duration::from_millis(rng.random_range(1_000..3_000)),
            },
            7 => Step::ApiFaults([409, 500, 503][rng.random_range(0..3)], 3),
            8 => Step::DropWatches,
            9..=11 if !live.is_empty() => Step::Rotate(live[rng.random_range(0..live.len())]),
            12 | 13 if !unborn.is_empty() => {
                let r = unborn.remove(rng.random_range(0..unborn.len()));
                live.push(r);
                Step::Create(r)
            }
            14 if live.len() > 2 => Step::Delete(live.remove(rng.random_range(0..live.len()))),
            15 => Step::TermLeader,
            _ => continue,
        };
        plan.push(step);
    }
    // Every run ends by orphaning one resource, so that every seed exercises the sweep.
    if live.len() > 1 {
        plan.push(Step::Orphan(live[rng.random_range(0..live.len())]));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_schedule() {
        let w = Workload::new(12);
        assert_eq!(generate(7, 30, &w), generate(7, 30, &w));
        assert_ne!(generate(7, 30, &w), generate(8, 30, &w));
    }
}
