//! `act` against an in-memory IAM and the Kubernetes API stand-in, which records every request:
//! each test states the script it runs and the exact calls that must come of it.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube_standin::ApiServer;

use super::{Outcome, act};
use crate::api::{ServiceSpecificCredential, ServiceSpecificCredentialStatus};
use crate::clock::Clock;
use crate::iam::{
    CredentialMetadata, CredentialStatus, Iam, IamError, IssuedCredential, SecretValue,
};
use crate::reconcile::conditions::Reason;
use crate::reconcile::observe::{Snapshot, observe_kubernetes};
use crate::reconcile::plan::{Decision, ResetCause};
use crate::reconcile::{Config, Context, Error, script};
use crate::tenancy::PolicyMode;

const NAMESPACE: &str = "team-a";
const USER: &str = "sofia";
const SERVICE: &str = "codecommit.amazonaws.com";
/// The password every Create and Reset of [`MemoryIam`] issues.
const PASSWORD: &str = "in-memory-password-Xq7";

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).expect("a valid time")
}

/// The clock of every test: passes read this time, never the machine's.
const NOW: i64 = 1_800_000_000;

/// IAM in memory: the credentials of one user and service, the calls made, and a failure to
/// answer the next write with.
#[derive(Default)]
struct MemoryIam {
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    credentials: Vec<CredentialMetadata>,
    calls: Vec<String>,
    fail_next_write: Option<IamError>,
}

impl MemoryIam {
    fn holding(ids: &[&str]) -> Arc<Self> {
        let iam = MemoryIam::default();
        iam.state.lock().unwrap().credentials = ids.iter().map(|id| credential(id)).collect();
        Arc::new(iam)
    }

    fn fail_next_write(&self, error: IamError) {
        self.state.lock().unwrap().fail_next_write = Some(error);
    }

    fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    fn credentials(&self) -> Vec<CredentialMetadata> {
        self.state.lock().unwrap().credentials.clone()
    }

    /// Records `call`; the failure set for the next write, if it is one.
    fn record(&self, call: String, write: bool) -> Result<(), IamError> {
        let mut state = self.state.lock().unwrap();
        state.calls.push(call);
        match state.fail_next_write.take() {
            Some(error) if write => Err(error),
            other => {
                state.fail_next_write = other;
                Ok(())
            }
        }
    }
}

fn credential(id: &str) -> CredentialMetadata {
    CredentialMetadata {
        id: id.into(),
        user_name: USER.into(),
        service_name: SERVICE.into(),
        service_user_name: Some(format!("{USER}-at-123456789012")),
        alias: None,
        status: CredentialStatus::Active,
        create_date: at(NOW - 3600),
        expiration_date: None,
    }
}

#[async_trait::async_trait]
impl Iam for MemoryIam {
    async fn create(
        &self,
        user: &str,
        service: &str,
        _: Option<i32>,
    ) -> Result<IssuedCredential, IamError> {
        self.record(format!("Create {user} {service}"), true)?;
        let mut state = self.state.lock().unwrap();
        let metadata = CredentialMetadata {
            create_date: at(NOW),
            ..credential(&format!("ACCANEW{}", state.credentials.len()))
        };
        state.credentials.push(metadata.clone());
        Ok(IssuedCredential {
            metadata,
            secret: SecretValue::new(PASSWORD),
        })
    }

    async fn list(&self, user: &str, _: &str) -> Result<Vec<CredentialMetadata>, IamError> {
        self.record(format!("List {user}"), false)?;
        Ok(self.credentials())
    }

    async fn reset(&self, user: &str, id: &str) -> Result<IssuedCredential, IamError> {
        self.record(format!("Reset {user} {id}"), true)?;
        let metadata = self
            .credentials()
            .into_iter()
            .find(|c| c.id == id)
            .ok_or(IamError::CredentialNotFound { id: id.into() })?;
        Ok(IssuedCredential {
            metadata,
            secret: SecretValue::new(PASSWORD),
        })
    }

    async fn update_status(&self, user: &str, id: &str, active: bool) -> Result<(), IamError> {
        self.record(format!("UpdateStatus {user} {id} {active}"), true)
    }

    async fn delete(&self, user: &str, id: &str) -> Result<(), IamError> {
        self.record(format!("Delete {user} {id}"), true)?;
        self.state
            .lock()
            .unwrap()
            .credentials
            .retain(|c| c.id != id);
        Ok(())
    }
}

struct Fixture {
    server: ApiServer,
    iam: Arc<MemoryIam>,
    ctx: Context,
    resources: Api<ServiceSpecificCredential>,
}

impl Fixture {
    async fn start(iam: Arc<MemoryIam>) -> Fixture {
        let server = ApiServer::start(crate::api::all_crds()).await;
        server.create_namespace(NAMESPACE, &[]).await;
        let config = Config {
            policy: PolicyMode::Permissive,
            ..Config::default()
        };
        let directory = Arc::new(crate::identity::sessions::Fixed(iam.clone()));
        let mut ctx = Context::new(server.client(), directory, config, Vec::new(), None);
        ctx.clock = Clock::from_fn(|| at(NOW));
        // Resources made from here on are the records' to say what they hold.
        ctx.epoch().await.expect("the epoch record");
        let resources = Api::namespaced(server.client(), NAMESPACE);
        Fixture {
            server,
            iam,
            ctx,
            resources,
        }
    }

    /// Creates resource `web` with `status`, and its record, as the operator would have
    /// written them.
    async fn resource(&self, status: ServiceSpecificCredentialStatus) -> ServiceSpecificCredential {
        let spec = crate::reconcile::plan::tests::spec();
        let created = self
            .resources
            .create(
                &PostParams::default(),
                &ServiceSpecificCredential::new("web", spec.clone()),
            )
            .await
            .expect("create the resource");
        let holding = crate::record::Holding::of(&status);
        if !holding.is_empty() {
            let uid = created.metadata.uid.clone().unwrap_or_default();
            let record = crate::record::CredentialRecord::new(
                &crate::record::record_name(&uid),
                crate::record::CredentialRecordSpec {
                    owner: Some(crate::record::Owner {
                        namespace: NAMESPACE.into(),
                        name: "web".into(),
                        uid,
                    }),
                    user_name: spec.user_name.clone(),
                    service_name: spec.service_name.as_str().into(),
                    holding,
                    ..Default::default()
                },
            );
            Api::<crate::record::CredentialRecord>::all(self.server.client())
                .create(&PostParams::default(), &record)
                .await
                .expect("create its record");
        }
        self.resources
            .patch_status(
                "web",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "status": status })),
            )
            .await
            .expect("write its status")
    }

    /// Observes `resource` as a pass would, with IAM's list as it is now.
    async fn observe(&self, resource: &ServiceSpecificCredential) -> Snapshot {
        let mut snapshot = observe_kubernetes(&self.ctx, resource)
            .await
            .expect("observe");
        snapshot.observed.credentials = Some(Ok(self.iam.credentials()));
        snapshot.observed.claims_complete = true;
        // Made in the epoch record's second, the resource would count as older than the records
        // (whole seconds); these tests are of resources the records always knew.
        snapshot.migrating = false;
        snapshot
    }

    /// Runs the steps of `decision` on `snapshot`, recording only what they send.
    async fn act(&self, snapshot: &Snapshot, decision: Decision) -> Result<Outcome, Error> {
        let script = script::for_decision(&snapshot.observed, decision);
        self.server.clear_requests();
        act(&self.ctx, snapshot, script).await
    }

    /// Runs the steps of a Create while the user holds `existing`.
    async fn create(&self, snapshot: &Snapshot, existing: &[&str]) -> Result<Outcome, Error> {
        let existing = existing.iter().map(|id| id.to_string()).collect();
        self.act(
            snapshot,
            Decision::Create {
                replaces: None,
                existing,
            },
        )
        .await
    }

    /// Asserts the calls made to IAM and to Kubernetes ([`Fixture::kube_calls`]), in order.
    #[track_caller]
    fn assert_calls(&self, iam: &[&str], kube: &[&str]) {
        assert_eq!(self.iam.calls(), iam, "IAM calls");
        assert_eq!(self.kube_calls(), kube, "Kubernetes requests");
    }

    /// The requests sent to Kubernetes, as "verb resource[/subresource][ (dry run)]".
    fn kube_calls(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .map(|r| {
                let mut call = format!("{} {}", r.verb, r.resource);
                if let Some(sub) = &r.subresource {
                    call.push('/');
                    call.push_str(sub);
                }
                if r.query.contains_key("dryRun") {
                    call.push_str(" (dry run)");
                }
                call
            })
            .collect()
    }

    async fn ready(&self) -> crate::api::Condition {
        let status = self.status().await;
        status.ready().cloned().expect("a Ready condition")
    }

    async fn status(&self) -> ServiceSpecificCredentialStatus {
        self.resources
            .get("web")
            .await
            .expect("read the resource")
            .status
            .unwrap_or_default()
    }

    /// The reasons and notes of the Events published, in order.
    async fn events(&self) -> Vec<(String, String)> {
        let mut events = Api::<Event>::namespaced(self.server.client(), NAMESPACE)
            .list(&ListParams::default())
            .await
            .expect("list Events")
            .items;
        events.sort_by_key(|e| e.event_time.clone().map(|t| t.0));
        events
            .into_iter()
            .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
            .collect()
    }

    fn ready_reason(status: &ServiceSpecificCredentialStatus) -> &str {
        status.ready().map_or("", |c| c.reason.as_str())
    }
}

fn holding(id: &str) -> ServiceSpecificCredentialStatus {
    ServiceSpecificCredentialStatus {
        credential_id: Some(id.into()),
        secret_name: Some("web".into()),
        ..ServiceSpecificCredentialStatus::default()
    }
}

#[tokio::test]
async fn a_create_records_its_intent_then_the_credential_then_writes_the_secret() {
    let f = Fixture::start(MemoryIam::holding(&["ACCAOLD"])).await;
    let resource = f.resource(ServiceSpecificCredentialStatus::default()).await;
    let snapshot = f.observe(&resource).await;
    let outcome = f
        .create(&snapshot, &["ACCAOLD"])
        .await
        .expect("the pass succeeds");

    assert_eq!(outcome.reason, Reason::Available);
    f.assert_calls(
        &["Create sofia codecommit.amazonaws.com"],
        &[
            "get servicespecificcredentials", // the freshness check: a read
            "create credentialrecords",       // the intent, recorded first
            "update credentialrecords",       // records ACCANEW1 first
            "create secrets",                 // no dry run: a plain Secret
            "patch servicespecificcredentials/status", // names ACCANEW1, Ready: Available
            "create events",                  // CredentialCreated
        ],
    );
    let status = f.status().await;
    assert_eq!(status.credential_id.as_deref(), Some("ACCANEW1"));
    assert_eq!(status.slots_used, Some(2));
    assert_eq!(status.create_requested_at, None);
    assert_eq!(Fixture::ready_reason(&status), "Available");
    let events = f.events().await;
    let reasons: Vec<&str> = events.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(reasons, ["CredentialCreated"]);
    assert!(events[0].1.contains("ACCANEW1"), "{events:?}");
    let secret = Api::<Secret>::namespaced(f.server.client(), NAMESPACE)
        .get("web")
        .await
        .expect("the Secret");
    let password = secret.data.expect("data")["password"].0.clone();
    assert_eq!(password, PASSWORD.as_bytes());
    // The one-time password went to the Secret only.
    let told = format!("{events:?} {}", serde_json::to_string(&status).unwrap());
    assert!(!told.contains(PASSWORD), "{told}");
}

#[tokio::test]
async fn a_create_that_may_have_happened_keeps_the_intent_stamped_by_the_injected_clock() {
    let f = Fixture::start(MemoryIam::holding(&[])).await;
    let resource = f.resource(ServiceSpecificCredentialStatus::default()).await;
    let snapshot = f.observe(&resource).await;
    f.iam.fail_next_write(IamError::Unavailable {
        message: "timed out".into(),
    });
    let outcome = f
        .create(&snapshot, &[])
        .await
        .expect("a reported failure is not an error of the pass");

    assert_eq!(outcome.reason, Reason::IamUnavailable);
    assert_eq!(
        f.kube_calls(),
        [
            "get servicespecificcredentials",
            "create credentialrecords",
            "patch servicespecificcredentials/status",
            "create events",
        ]
    );
    let status = f.status().await;
    assert_eq!(
        status.create_requested_at.as_ref().map(|t| t.0),
        Some(at(NOW)),
        "the time of the intent's write, from the context's clock"
    );
    assert_eq!(Fixture::ready_reason(&status), "IamUnavailable");
}

#[tokio::test]
async fn a_create_refused_for_the_quota_lists_again_and_drops_the_intent() {
    let f = Fixture::start(MemoryIam::holding(&["ACCA1", "ACCA2"])).await;
    let resource = f.resource(ServiceSpecificCredentialStatus::default()).await;
    let snapshot = f.observe(&resource).await;
    f.iam.fail_next_write(IamError::LimitExceeded {
        message: "two already".into(),
    });
    let outcome = f
        .create(&snapshot, &["ACCA1", "ACCA2"])
        .await
        .expect("reported");

    assert_eq!(outcome.reason, Reason::LimitExceeded);
    assert_eq!(
        f.iam.calls(),
        ["Create sofia codecommit.amazonaws.com", "List sofia"]
    );
    let status = f.status().await;
    assert_eq!(status.create_requested_at, None);
    assert!(status.credentials_before_create.is_empty());
    assert_eq!(status.slots_used, Some(2));
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.reason, "LimitExceeded");
    // Its claims were read for the listing planned on, not this one: no id is named.
    assert!(
        ready
            .message
            .contains("(2 held in other namespaces or not yet known)"),
        "{}",
        ready.message
    );
}

#[tokio::test]
async fn a_decision_on_a_stale_copy_is_refused_before_any_iam_write() {
    let f = Fixture::start(MemoryIam::holding(&["ACCA1"])).await;
    let resource = f.resource(holding("ACCA1")).await;
    let snapshot = f.observe(&resource).await;
    // The resource moves on after the observation.
    f.resources
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"moved": "on"}}})),
        )
        .await
        .expect("edit the resource");
    let result = f
        .act(
            &snapshot,
            Decision::Reset {
                credential: credential("ACCA1"),
                cause: ResetCause::SecretLost,
            },
        )
        .await;

    assert!(matches!(result, Err(Error::StaleCopy)), "{result:?}");
    f.assert_calls(&[], &["get servicespecificcredentials"]);
}

#[tokio::test]
async fn a_reset_of_a_vanished_credential_ends_the_pass_without_a_write() {
    let f = Fixture::start(MemoryIam::holding(&[])).await;
    let resource = f.resource(holding("ACCA1")).await;
    let snapshot = f.observe(&resource).await;
    let outcome = f
        .act(
            &snapshot,
            Decision::Reset {
                credential: credential("ACCA1"),
                cause: ResetCause::SecretLost,
            },
        )
        .await
        .expect("the pass ends quietly");

    assert_eq!(outcome.reason, Reason::Creating);
    f.assert_calls(
        &["Reset sofia ACCA1"],
        &["get servicespecificcredentials"], // the freshness check
    );
}

#[tokio::test]
async fn a_failed_delete_on_deletion_reports_deleting_and_fails_the_pass() {
    let f = Fixture::start(MemoryIam::holding(&["ACCA1"])).await;
    let resource = f.resource(holding("ACCA1")).await;
    let snapshot = f.observe(&resource).await;
    f.iam.fail_next_write(IamError::Throttled {
        message: "slow down".into(),
    });
    let script = script::for_cleanup(&snapshot.observed, None, vec!["ACCA1".into()]);
    f.server.clear_requests();
    let result = act(&f.ctx, &snapshot, script).await;

    assert!(
        matches!(result, Err(Error::Iam(IamError::Throttled { .. }))),
        "{result:?}"
    );
    f.assert_calls(
        &["Delete sofia ACCA1"],
        &[
            "get servicespecificcredentials",          // the freshness check
            "patch servicespecificcredentials/status", // Ready: Deleting
            "create events",
        ],
    );
    let ready = f.ready().await;
    assert_eq!(ready.reason, "Deleting");
    assert!(
        ready.message.starts_with("deleting IAM credential ACCA1: "),
        "{}",
        ready.message
    );
    assert_eq!(f.iam.credentials().len(), 1, "nothing deleted");
}

impl Fixture {
    /// Resource `web` after a Create carried out: it holds ACCANEW0 and Secret `web` has it.
    async fn created(&self) -> ServiceSpecificCredential {
        let resource = self
            .resource(ServiceSpecificCredentialStatus::default())
            .await;
        let snapshot = self.observe(&resource).await;
        self.create(&snapshot, &[]).await.expect("the Create");
        self.resources.get("web").await.expect("read the resource")
    }

    async fn secret(&self, name: &str) -> Option<Secret> {
        Api::<Secret>::namespaced(self.server.client(), NAMESPACE)
            .get_opt(name)
            .await
            .expect("read the Secret")
    }

    async fn edit(&self, patch: serde_json::Value) -> ServiceSpecificCredential {
        self.resources
            .patch("web", &PatchParams::default(), &Patch::Merge(patch))
            .await
            .expect("edit the resource")
    }
}

#[tokio::test]
async fn a_recreate_records_the_new_credential_and_the_retiring_one_before_the_secret() {
    let f = Fixture::start(MemoryIam::holding(&[])).await;
    f.created().await;
    let resource = f
        .edit(serde_json::json!({"metadata": {"annotations": {
            crate::api::ROTATE_ANNOTATION: "2026-12-01"
        }}}))
        .await;
    let snapshot = f.observe(&resource).await;
    let old = f.iam.credentials().remove(0);
    let outcome = f
        .act(
            &snapshot,
            Decision::Recreate {
                old: old.clone(),
                cause: ResetCause::Rotate(crate::reconcile::plan::RotationTrigger::Requested(
                    "2026-12-01".into(),
                )),
                existing: vec![old.id.clone()],
            },
        )
        .await
        .expect("the rotation");

    assert_eq!(outcome.reason, Reason::Available);
    f.assert_calls(
        &[
            "Create sofia codecommit.amazonaws.com",
            "Create sofia codecommit.amazonaws.com",
        ],
        &[
            "get servicespecificcredentials", // the freshness check: a read
            "update credentialrecords",       // the intent, recorded first
            "update credentialrecords",       // ACCANEW1, ACCANEW0 retiring
            "patch servicespecificcredentials/status", // both, and the request handled
            "update secrets",
            "patch servicespecificcredentials/status", // Ready: Available
            "create events",                           // CredentialRotated
        ],
    );
    let status = f.status().await;
    assert_eq!(status.credential_id.as_deref(), Some("ACCANEW1"));
    assert_eq!(status.retiring_credential_id.as_deref(), Some("ACCANEW0"));
    assert_eq!(status.retire_after.map(|t| t.0), Some(at(NOW + 600)));
    assert_eq!(status.last_rotation_time.map(|t| t.0), Some(at(NOW)));
    assert_eq!(status.handled_rotate_request.as_deref(), Some("2026-12-01"));
    assert_eq!(status.create_requested_at, None);
    let events = f.events().await;
    let (reason, note) = events.last().expect("Events");
    assert_eq!(reason, "CredentialRotated");
    assert_eq!(
        note,
        "created IAM credential ACCANEW1 to replace ACCANEW0 (Recreate); ACCANEW0 stays valid for 600s"
    );
}

#[tokio::test]
async fn a_renamed_secret_is_copied_from_the_old_one_without_an_iam_call() {
    let f = Fixture::start(MemoryIam::holding(&[])).await;
    f.created().await;
    let resource = f
        .edit(serde_json::json!({"spec": {"secret": {"name": "web-git"}}}))
        .await;
    let snapshot = f.observe(&resource).await;
    let held = f.iam.credentials().remove(0);
    let outcome = f
        .act(&snapshot, Decision::RewriteSecret { credential: held })
        .await
        .expect("the copy");

    assert_eq!(outcome.reason, Reason::Available);
    f.assert_calls(
        &["Create sofia codecommit.amazonaws.com"], // the earlier Create only
        &[
            "get servicespecificcredentials", // the freshness check
            "create secrets",
            "delete secrets",
            "patch servicespecificcredentials/status",
        ],
    );
    assert!(f.secret("web").await.is_none(), "the old name is gone");
    let copied = f.secret("web-git").await.expect("the new name");
    assert_eq!(
        copied.data.expect("data")["password"].0,
        PASSWORD.as_bytes()
    );
    assert_eq!(f.status().await.secret_name.as_deref(), Some("web-git"));
}

/// A status write replaces every field: what the operator does not set is nulled, whatever the
/// copy it read held (a status that did not read was dropped from it).
#[test]
fn the_status_patch_nulls_every_field_it_does_not_set() {
    let new = ServiceSpecificCredentialStatus {
        credential_id: Some("ACCA1".into()),
        identity: Some(crate::identity::IdentityBinding {
            account_id: Some("123456789012".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let patch = super::status::status_merge_patch(&new);
    let status = patch["status"].as_object().unwrap();
    assert_eq!(status["credentialId"], "ACCA1");
    assert_eq!(
        status["identity"],
        serde_json::json!({"accountId": "123456789012", "name": null, "roleArn": null})
    );
    for field in [
        "expirationDate",
        "lastRotationTime",
        "createDate",
        "slotsUsed",
        "conditions",
        "observedGeneration",
    ] {
        assert_eq!(status.get(field), Some(&serde_json::Value::Null), "{field}");
    }
}
