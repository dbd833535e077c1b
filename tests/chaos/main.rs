//! The chaos suite: three replicas of the real `ssc-operator run` binary against the Kubernetes
//! API stand-in and the IAM emulator, while resources are created, rotated (Reset and Recreate)
//! and deleted, through a seeded schedule of SIGKILLs, SIGSTOP/SIGCONT of the leader, Lease
//! stalls, clock offsets, IAM latency/throttling/5xx bursts and API-server 409/5xx/dropped
//! watches. The schedule is printed; replay one with `SSC_CHAOS_SEED=N`, run longer with
//! `SSC_CHAOS_STEPS=N` (see README, Reliability). After the run it checks that every resource
//! converged, every Secret's login is accepted, no resource holds more than its credentials, no
//! credential is orphaned, and that every write any replica sent — to Kubernetes or to IAM — was
//! sent while that replica, and no other, held the Lease. Half the resources mint through an
//! IAMIdentity in a second account (a role the replicas assume), half through the replicas' own
//! identity.

use ssc_test_harness as harness;

mod audit;
mod replicas;
mod schedule;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use iam_emulator::{FaultConfig, FaultKind, InjectedFault};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;

use harness::{Harness, Options, status};
use kube_standin::RequestMatcher;
use replicas::Replicas;
use schedule::{Step, Workload};

pub const LEASE_NS: &str = "ssc-system";
/// Short enough that a run sees many handovers: renew deadline 2 s, retry 500 ms.
pub const LEASE_DURATION: Duration = Duration::from_secs(3);
pub const RENEW_DEADLINE: Duration = Duration::from_secs(2);
const STEP_GAP: Duration = Duration::from_millis(1200);
const CONVERGE: Duration = Duration::from_secs(90);
/// The second account and the IAMIdentity whose role is there.
pub const SECOND_ACCOUNT: &str = "210987654321";
pub const SECOND_IDENTITY: &str = "chaos-b";
const ROOT_B_KEY: (&str, &str) = ("AKIDCHAOSROOTB", "chaos-root-b");

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_survive_the_schedule_and_never_write_together() {
    let seed = env_number("SSC_CHAOS_SEED", 1);
    let steps = usize::try_from(env_number("SSC_CHAOS_STEPS", 24)).unwrap_or(24);
    let workload = Workload::new(12);
    let plan = schedule::generate(seed, steps, &workload);
    println!(
        "chaos: seed {seed}, {steps} steps (replay: SSC_CHAOS_SEED={seed} SSC_CHAOS_STEPS={steps} cargo test --test chaos -- --nocapture)"
    );
    for (i, step) in plan.iter().enumerate() {
        println!("chaos: step {i:>3}: {step}");
    }

    let mut users = workload.users();
    users.push("ssc-operator");
    let mut h = Harness::start_with(Options {
        users,
        extra_tokens: replicas::tokens(),
        iam_journal: true,
        // Signed requests, so that sessions act in their role's account; the replicas sign as
        // the user ssc-operator of the first account.
        emulator_accounts: vec![SECOND_ACCOUNT],
        access_keys: replicas::access_keys()
            .into_iter()
            .chain([iam_emulator::AccessKey {
                access_key_id: ROOT_B_KEY.0.into(),
                secret_access_key: ROOT_B_KEY.1.into(),
                user: Some("root".into()),
                account: Some(SECOND_ACCOUNT.into()),
            }])
            .collect(),
        ..Options::default()
    })
    .await;
    h.stop_operator().await;
    second_account(&h, &workload).await;
    h.kube.create_namespace(LEASE_NS, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut replicas = Replicas::start(&h, dir.path());

    let started = Instant::now();
    let mut live = workload.initial();
    for r in &live {
        h.apply(workload.manifest(*r)).await;
    }
    let mut rotations: BTreeMap<usize, String> = BTreeMap::new();
    let mut deleted = Vec::new();
    // Credential ids of resources deleted without their finalizer: the only ones the sweep may
    // delete as orphans (a rotation under way may add one more that status did not show yet,
    // of the same user: checked by user below).
    let mut orphaned: Vec<String> = Vec::new();
    let mut orphan_users: Vec<String> = Vec::new();
    let mut figures = audit::Figures::default();
    for (i, step) in plan.iter().enumerate() {
        // As a Deployment's pods do, a replica that exited (it lost the Lease) comes back.
        figures.restarts += replicas.restart_exited();
        let leader = leader(&h).await.and_then(|id| replicas.index_of(&id));
        match step {
            Step::KillLeader(restart_after) => {
                if let Some(l) = leader {
                    replicas.kill(l);
                    figures.kills += 1;
                    tokio::time::sleep(*restart_after).await;
                    replicas.spawn(l, None);
                }
            }
            Step::TermLeader => {
                if let Some(l) = leader {
                    replicas.terminate(l);
                    figures.terms += 1;
                    replicas.spawn(l, None);
                }
            }
            Step::KillStandby(n) => {
                let n = (0..replicas::COUNT)
                    .filter(|r| Some(*r) != leader)
                    .nth(*n % (replicas::COUNT - 1));
                if let Some(n) = n {
                    replicas.kill(n);
                    figures.kills += 1;
                    replicas.spawn(n, None);
                }
            }
            Step::PauseLeader(busy, pause) => {
                if let Some(l) = leader {
                    // Freeze it mid-work: rotations under way when it stops and resumes.
                    let token = format!("chaos-{i}");
                    for r in &live {
                        h.request_rotation(&workload.name(*r), &token).await;
                        rotations.insert(*r, token.clone());
                        figures.rotations += 1;
                    }
                    tokio::time::sleep(*busy).await;
                    replicas.stop(l);
                    tokio::time::sleep(*pause).await;
                    replicas.cont(l);
                    figures.pauses += 1;
                }
            }
            Step::Skew(n, offset) => {
                replicas.kill(*n);
                replicas.spawn(*n, Some(*offset));
                figures.skews += 1;
            }
            Step::StallLease(stall, times) => {
                if let Some(l) = leader {
                    let renewals = RequestMatcher::any()
                        .resource("leases")
                        .user(&replicas::identity(l));
                    h.kube.stall_next(renewals, *stall, *times);
                    figures.lease_stalls += 1;
                }
            }
            Step::IamFaults {
                throttle,
                server_error,
                latency,
                length,
            } => {
                h.emulator.set_faults(FaultConfig {
                    throttle_rate: *throttle,
                    server_error_rate: *server_error,
                    latency: *latency,
                    actions: None,
                });
                h.emulator.inject(InjectedFault {
                    action: None,
                    kind: FaultKind::ServerError(500),
                    count: 2,
                });
                tokio::time::sleep(*length).await;
                h.emulator.set_faults(FaultConfig::default());
                figures.iam_fault_windows += 1;
            }
            Step::ApiFaults(code, times) => {
                if let Some(l) = leader {
                    let of_leader = RequestMatcher::any().user(&replicas::identity(l));
                    let matcher = if *code == 409 {
                        of_leader.verb("patch")
                    } else {
                        of_leader
                    };
                    h.kube.fail_next(matcher, *code, *times);
                    figures.api_faults += *times;
                }
            }
            Step::DropWatches => {
                h.kube.drop_watches();
                figures.dropped_watches += 1;
            }
            Step::Rotate(r) => {
                let token = format!("chaos-{i}");
                h.request_rotation(&workload.name(*r), &token).await;
                rotations.insert(*r, token);
                figures.rotations += 1;
            }
            Step::Create(r) => {
                h.apply(workload.manifest(*r)).await;
                live.push(*r);
                figures.creates += 1;
            }
            Step::Orphan(r) => {
                let name = workload.name(*r);
                if let Some(resource) = h.get(&name).await {
                    let st = status(&resource);
                    orphaned.extend(st.credential_id.iter().cloned());
                    orphaned.extend(st.retiring_credential_id.iter().cloned());
                }
                // While no replica runs (frozen for a moment, as in a rollout or a crash loop):
                // no cleanup can run, the sweep must delete what it held.
                for n in 0..replicas::COUNT {
                    replicas.stop(n);
                }
                h.delete(&name).await;
                remove_finalizer(&h, &name).await;
                replicas.cont_all();
                live.retain(|x| x != r);
                rotations.remove(r);
                deleted.push(*r);
                orphan_users.push(workload.user(*r));
                figures.orphaned += 1;
            }
            Step::Delete(r) => {
                let name = workload.name(*r);
                h.delete(&name).await;
                live.retain(|x| x != r);
                rotations.remove(r);
                deleted.push(*r);
                figures.deletes += 1;
            }
        }
        tokio::time::sleep(STEP_GAP).await;
    }
    figures.resources = live.len() + deleted.len();

    // Heal: no more faults; paused replicas continue. Then everything must converge.
    h.kube.clear_faults();
    h.emulator.set_faults(FaultConfig::default());
    replicas.cont_all();
    figures.restarts += replicas.restart_exited();
    let converged = converge(&h, &workload, &live, &deleted, &rotations).await;
    // Stopped first, so that their shutdown writes and Lease releases are audited too.
    let logs = replicas.stop_all();
    let swept = swept_ids(&logs);
    figures.swept = swept.len();
    let stray: Vec<&(String, String)> = swept
        .iter()
        .filter(|(id, user)| !orphaned.contains(id) && !orphan_users.contains(user))
        .collect();
    let swept_only_orphans = if stray.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the sweep deleted credentials of no orphaned resource: {stray:?}"
        ))
    };
    let lease_requests = h.kube.requests();
    let journal = h.emulator.journal();
    let audit = audit::writes(&lease_requests, &journal, &replicas::identities());
    figures.kube_writes = audit.kube_writes;
    figures.iam_writes = audit.iam_writes;
    figures.session_writes = audit.session_writes;
    figures.handovers = audit.handovers;
    println!("chaos: seed {seed}: {figures} in {:.0?}", started.elapsed());
    let exercised = if figures.handovers == 0 {
        Err("the run had no Lease handover: it tested nothing about failover".to_string())
    } else if figures.session_writes == 0 {
        Err("no IAM write went through the second account's role".to_string())
    } else {
        Ok(())
    };
    let problems: Vec<String> = [converged, audit.result, exercised, swept_only_orphans]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if !problems.is_empty() {
        let problem = problems.join("\n");
        for (replica, log) in &logs {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            println!("--- {replica} (last lines) ---");
            for line in tail.into_iter().rev() {
                println!("{line}");
            }
        }
        panic!("chaos seed {seed}: {problem}");
    }
    println!("chaos: seed {seed}: converged; every write was sent inside its sender's tenure");
    h.assert_no_secret_leaks_in(&logs).await;
}

/// The second account: a role the replicas may assume, the IAMIdentity naming it (allowed in the
/// workload's namespace), and the users of the resources that mint there.
async fn second_account(h: &Harness, workload: &Workload) {
    let root_b = root_b(h).await;
    root_b
        .create_role()
        .role_name("ssc-chaos")
        .assume_role_policy_document(
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:user/ssc-operator"},
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    for r in (0..workload.count()).filter(|r| workload.in_second_account(*r)) {
        root_b
            .create_user()
            .user_name(workload.user(r))
            .send()
            .await
            .unwrap();
    }
    h.create_identity(
        SECOND_IDENTITY,
        serde_json::json!({"roleArn": format!("arn:aws:iam::{SECOND_ACCOUNT}:role/ssc-chaos"),
                           "allowedNamespaces": {"names": [harness::NS]}}),
    )
    .await;
}

async fn root_b(h: &Harness) -> aws_sdk_iam::Client {
    h.iam_client_as(ROOT_B_KEY).await
}

/// The credentials IAM holds for resource `r`'s user and service, in the account it mints in.
async fn held_in_iam(h: &Harness, workload: &Workload, r: usize) -> Vec<String> {
    let listed = if workload.in_second_account(r) {
        root_b(h)
            .await
            .list_service_specific_credentials()
            .user_name(workload.user(r))
            .service_name(workload.service(r))
            .send()
            .await
            .expect("list credentials in the second account")
            .service_specific_credentials()
            .to_vec()
    } else {
        h.iam_credentials(&workload.user(r), workload.service(r))
            .await
    };
    listed
        .iter()
        .map(|c| c.service_specific_credential_id().to_string())
        .collect()
}

/// What a tenant whose Role allows patching the resource can do: drop the finalizer.
async fn remove_finalizer(h: &Harness, name: &str) {
    let _ = h
        .resources()
        .patch(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await;
}

/// (credential id, user) of every credential the replicas' sweeps deleted, from their logs.
fn swept_ids(logs: &[(String, String)]) -> Vec<(String, String)> {
    let mut swept = Vec::new();
    for (_, log) in logs {
        for line in log.lines().filter(|l| {
            l.contains("swept a credential") || l.contains("removed a credential made by a Create")
        }) {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let field = |k: &str| {
                entry
                    .get(k)
                    .or_else(|| entry.get("fields").and_then(|f| f.get(k)))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            swept.push((field("credential_id"), field("user")));
        }
    }
    swept
}

async fn leader(h: &Harness) -> Option<String> {
    Api::<Lease>::namespaced(h.client(), LEASE_NS)
        .get_opt("ssc-operator")
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

/// Waits until every live resource is Ready with a working Secret, has handled its last rotate
/// request, and IAM holds exactly its credentials; and every deleted one is gone with its
/// credentials.
async fn converge(
    h: &Harness,
    workload: &Workload,
    live: &[usize],
    deleted: &[usize],
    rotations: &BTreeMap<usize, String>,
) -> Result<(), String> {
    let started = Instant::now();
    let deadline = started + CONVERGE;
    let mut next_report = started;
    loop {
        let problem = convergence_problem(h, workload, live, deleted, rotations).await;
        if let Some(p) = &problem
            && Instant::now() >= next_report
        {
            println!("chaos: converging ({:.0?}): {p}", started.elapsed());
            next_report += Duration::from_secs(10);
        }
        match problem {
            None => {
                println!(
                    "chaos: converged {:.1?} after the last step",
                    started.elapsed()
                );
                return Ok(());
            }
            Some(p) if Instant::now() > deadline => {
                return Err(format!("did not converge within {CONVERGE:?}: {p}"));
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

async fn convergence_problem(
    h: &Harness,
    workload: &Workload,
    live: &[usize],
    deleted: &[usize],
    rotations: &BTreeMap<usize, String>,
) -> Option<String> {
    for r in live {
        let name = workload.name(*r);
        let Some(resource) = h.get(&name).await else {
            return Some(format!("{name} is missing"));
        };
        let st = status(&resource);
        let ready = st
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if !ready {
            let reason = st.conditions.first().map(|c| c.reason.clone());
            return Some(format!("{name} is not Ready ({reason:?})"));
        }
        if let Some(token) = rotations.get(r)
            && st.handled_rotate_request.as_deref() != Some(token)
        {
            return Some(format!("{name} has not handled rotate request {token}"));
        }
        let Some(secret) = h.secret(&name).await else {
            return Some(format!("{name} has no Secret"));
        };
        if !h.secret_works(&secret, workload.service(*r)).await {
            return Some(format!("the login in {name}'s Secret is refused"));
        }
        let held = held_in_iam(h, workload, *r).await;
        let mut owned: Vec<String> = st.credential_id.iter().cloned().collect();
        owned.extend(st.retiring_credential_id.iter().cloned());
        let mut sorted = held.clone();
        sorted.sort();
        owned.sort();
        if sorted != owned {
            return Some(format!(
                "{name}: IAM holds {held:?}, the resource owns {owned:?}"
            ));
        }
    }
    for r in deleted {
        let name = workload.name(*r);
        if h.get(&name).await.is_some() {
            return Some(format!("deleted {name} is still there"));
        }
        let held = held_in_iam(h, workload, *r).await;
        if !held.is_empty() {
            return Some(format!(
                "deleted {name} left {} credential(s) in IAM",
                held.len()
            ));
        }
    }
    None
}
