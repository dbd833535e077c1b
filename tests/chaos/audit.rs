//! Who wrote when: from the stand-in's request log (user, arrival, answer, Lease bodies) and the
//! emulator's journal (access key, arrival, answer), the Lease tenures of the replicas and
//! whether every write fell inside its sender's tenure.

use std::fmt;
use std::time::{Duration, Instant};

use iam_emulator::JournalEntry;

use crate::{LEASE_DURATION, RENEW_DEADLINE};

/// How late after its fence closed a write may still arrive: the time between the fence check
/// and the server reading the request, on a loaded two-core machine.
const ARRIVAL_SLACK: Duration = Duration::from_millis(300);
use crate::replicas::access_key;
use kube_standin::RecordedRequest;

/// What a run went through, printed at its end.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    pub resources: usize,
    pub kills: usize,
    pub pauses: usize,
    pub skews: usize,
    pub lease_stalls: usize,
    pub iam_fault_windows: usize,
    pub api_faults: usize,
    pub dropped_watches: usize,
    pub rotations: usize,
    pub creates: usize,
    pub deletes: usize,
    pub handovers: usize,
    pub terms: usize,
    pub restarts: usize,
    pub kube_writes: usize,
    pub iam_writes: usize,
    /// Of them, sent through a session of the second account's role.
    pub session_writes: usize,
    /// Resources deleted without their finalizer, and credentials the sweep then deleted.
    pub orphaned: usize,
    pub swept: usize,
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resources ({} created, {} deleted, {} rotations during the run); survived {} SIGKILLs, {} SIGTERMs, {} restarts after losing the Lease, {} SIGSTOPs of the leader, {} clock skews, {} Lease stalls, {} IAM fault bursts, {} failed API requests, {} dropped watch rounds; {} Lease handovers; {} Kubernetes and {} IAM writes by the replicas audited ({} of them through the second account's role); {} resources deleted without their finalizer, {} credentials swept",
            self.resources,
            self.creates,
            self.deletes,
            self.rotations,
            self.kills,
            self.terms,
            self.restarts,
            self.pauses,
            self.skews,
            self.lease_stalls,
            self.iam_fault_windows,
            self.api_faults,
            self.dropped_watches,
            self.handovers,
            self.kube_writes,
            self.iam_writes,
            self.session_writes,
            self.orphaned,
            self.swept
        )
    }
}

/// A span during which one replica held the Lease.
#[derive(Debug)]
struct Tenure {
    holder: String,
    /// When the acquiring write was answered.
    from: Instant,
    /// When the next holder's takeover (or this holder's release) arrived.
    until: Option<Instant>,
}

pub(crate) struct Audit {
    pub kube_writes: usize,
    pub iam_writes: usize,
    pub session_writes: usize,
    pub handovers: usize,
    pub result: Result<(), String>,
}

fn is_write(verb: &str) -> bool {
    matches!(
        verb,
        "create" | "update" | "patch" | "delete" | "deletecollection"
    )
}

struct LeaseWrite<'a> {
    by: &'a str,
    holder: Option<String>,
    received: Instant,
    answered: Instant,
}

fn lease_writes<'a>(requests: &'a [RecordedRequest], replicas: &[String]) -> Vec<LeaseWrite<'a>> {
    let mut writes: Vec<LeaseWrite<'a>> = requests
        .iter()
        .filter(|r| r.resource == "leases" && is_write(&r.verb))
        .filter(|r| (200..300).contains(&r.status) && replicas.contains(&r.user))
        .map(|r| {
            let body: serde_json::Value = r
                .lease_body
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or_default();
            LeaseWrite {
                by: &r.user,
                holder: body["spec"]["holderIdentity"]
                    .as_str()
                    .filter(|h| !h.is_empty())
                    .map(str::to_string),
                received: r.received,
                answered: r.answered,
            }
        })
        .collect();
    writes.sort_by_key(|w| w.answered);
    writes
}

/// The tenures, checking that no replica took the Lease from a holder that renewed it less than
/// a lease duration before (what a standby with a clock ahead did on the old election).
fn tenures(writes: &[LeaseWrite<'_>]) -> (Vec<Tenure>, usize, Vec<String>) {
    let mut problems = Vec::new();
    let mut tenures: Vec<Tenure> = Vec::new();
    // The current holder and when its last renewal arrived.
    let mut current: Option<(String, Instant)> = None;
    let mut handovers = 0;
    for w in writes {
        match &w.holder {
            Some(holder) if holder != w.by => {
                problems.push(format!("{} wrote {holder} as the Lease holder", w.by));
            }
            Some(_) => match &current {
                Some((holder, _)) if holder == w.by => current = Some((holder.clone(), w.received)),
                previous => {
                    if let Some((holder, renewed)) = previous {
                        let after = w.received.saturating_duration_since(*renewed);
                        if after < LEASE_DURATION {
                            problems.push(format!(
                                "{} took the Lease from {holder} {after:?} after {holder} renewed it (the lease lasts {LEASE_DURATION:?})",
                                w.by
                            ));
                        }
                        handovers += 1;
                    }
                    if let Some(t) = tenures.last_mut().filter(|t| t.until.is_none()) {
                        t.until = Some(w.received);
                    }
                    tenures.push(Tenure {
                        holder: w.by.to_string(),
                        from: w.answered,
                        until: None,
                    });
                    current = Some((w.by.to_string(), w.received));
                }
            },
            None => {
                if current.as_ref().is_some_and(|(h, _)| h == w.by) {
                    if let Some(t) = tenures.last_mut() {
                        t.until = Some(w.received);
                    }
                    current = None;
                }
            }
        }
    }
    (tenures, handovers, problems)
}

/// When each replica's successful acquisitions and renewals arrived, in order.
fn renewals<'a>(writes: &[LeaseWrite<'a>]) -> Vec<(&'a str, Instant, Instant)> {
    writes
        .iter()
        .filter(|w| w.holder.as_deref() == Some(w.by))
        .map(|w| (w.by, w.received, w.answered))
        .collect()
}

/// Whether a write of `who` arriving at `received` came before its fence closed: within the renew
/// deadline of the last renewal it could have been sent under (the fence counts from when the
/// renewal was sent, which is before the server received it).
fn before_deadline(renewals: &[(&str, Instant, Instant)], who: &str, received: Instant) -> bool {
    renewals
        .iter()
        .rfind(|(by, _, answered)| *by == who && *answered <= received)
        .is_some_and(|(_, renewal, _)| received <= *renewal + RENEW_DEADLINE + ARRIVAL_SLACK)
}

fn inside(tenures: &[Tenure], who: &str, received: Instant, answered: Instant) -> bool {
    tenures.iter().any(|t| {
        t.holder == who && t.from <= received && t.until.is_none_or(|until| answered <= until)
    })
}

fn describe(tenures: &[Tenure], origin: Instant) -> String {
    let at = |i: Instant| i.saturating_duration_since(origin);
    tenures
        .iter()
        .map(|t| {
            format!(
                "{} {:?}..{:?}",
                t.holder,
                at(t.from),
                t.until.map(at).unwrap_or(Duration::MAX)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Audits every write of the replicas named `replicas` (stand-in user names; replica n signs
/// IAM requests with `access_key(n)`).
pub(crate) fn writes(
    requests: &[RecordedRequest],
    journal: &[JournalEntry],
    replicas: &[String],
) -> Audit {
    let leases = lease_writes(requests, replicas);
    let (tenures, handovers, mut problems) = tenures(&leases);
    let renewals = renewals(&leases);
    let origin = requests.first().map_or_else(Instant::now, |r| r.received);
    let kube: Vec<&RecordedRequest> = requests
        .iter()
        .filter(|r| r.resource != "leases" && is_write(&r.verb) && replicas.contains(&r.user))
        .collect();
    for r in &kube {
        if !before_deadline(&renewals, &r.user, r.received) {
            problems.push(format!(
                "{} sent {} {} {} at {:?}, after its renew deadline",
                r.user,
                r.verb,
                r.resource,
                r.name.as_deref().unwrap_or(""),
                r.received.saturating_duration_since(origin)
            ));
        }
        if !inside(&tenures, &r.user, r.received, r.answered) {
            problems.push(format!(
                "{} sent {} {} {} at {:?}..{:?} outside its tenure",
                r.user,
                r.verb,
                r.resource,
                r.name.as_deref().unwrap_or(""),
                r.received.saturating_duration_since(origin),
                r.answered.saturating_duration_since(origin)
            ));
        }
    }
    // A session's calls are its assumer's: each AssumeRole names the key it issued.
    let assumer: std::collections::HashMap<&str, &str> = journal
        .iter()
        .filter(|e| e.action == "AssumeRole" && !e.issued_key_id.is_empty())
        .map(|e| (e.issued_key_id.as_str(), e.access_key_id.as_str()))
        .collect();
    // AssumeRole changes nothing IAM holds: it is a read of credentials, like the Lists.
    let iam: Vec<(&str, &JournalEntry)> = journal
        .iter()
        .filter(|e| !e.action.starts_with("List") && !e.action.starts_with("Get"))
        .filter(|e| e.action != "AssumeRole")
        .filter_map(|e| {
            let signer = assumer
                .get(e.access_key_id.as_str())
                .copied()
                .unwrap_or(&e.access_key_id);
            let n = (0..replicas.len()).find(|n| access_key(*n) == signer)?;
            Some((replicas[n].as_str(), e))
        })
        .collect();
    for (who, e) in &iam {
        if !before_deadline(&renewals, who, e.received) {
            problems.push(format!(
                "{who} sent IAM {} at {:?}, after its renew deadline",
                e.action,
                e.received.saturating_duration_since(origin)
            ));
        }
        if !inside(&tenures, who, e.received, e.answered) {
            problems.push(format!(
                "{who} sent IAM {} at {:?}..{:?} outside its tenure",
                e.action,
                e.received.saturating_duration_since(origin),
                e.answered.saturating_duration_since(origin)
            ));
        }
    }
    let result = if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} problem(s) with who wrote when: {}; tenures: {}",
            problems.len(),
            problems
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("; "),
            describe(&tenures, origin)
        ))
    };
    Audit {
        kube_writes: kube.len(),
        iam_writes: iam.len(),
        session_writes: iam
            .iter()
            .filter(|(_, e)| assumer.contains_key(e.access_key_id.as_str()))
            .count(),
        handovers,
        result,
    }
}
