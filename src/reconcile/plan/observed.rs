//! Everything a decision reads: one type, which `observe` builds from Kubernetes and IAM and
//! tests build with [`Observed::test`] and its builder methods.

use super::*;
use crate::api::{ROTATE_ANNOTATION, ServiceSpecificCredential};

/// Everything the decision needs, owned: the pass's `Snapshot` holds it beside the handles only
/// `act` uses (the Secret objects, the record, the IAM client).
#[derive(Clone, Debug)]
pub(crate) struct Observed {
    /// The resource as read (spec, generation, the rotate annotation), its status as read left
    /// aside: what status says is [`Observed::status`].
    pub resource: ServiceSpecificCredential,
    /// Its status, with the ownership fields the operator's record says.
    pub status: ServiceSpecificCredentialStatus,
    /// `Err(message)` when the spec is invalid beyond what the schema checks.
    pub validity: Result<(), InvalidSpec>,
    /// `Err(message)` when tenancy forbids this user here.
    pub permission: Result<(), NotPermitted>,
    pub secret: SecretObservation,
    /// Present when the Secret lives under another name than status says (spec.secret.name
    /// changed) and the old one is ours and intact: the credential id it holds, which can be moved
    /// without a Reset when it is the one status records.
    pub old_secret_credential: Option<String>,
    /// Why the template cannot render, if it cannot.
    pub template: Result<(), RenderError>,
    /// The user's credentials for this service; `None` when IAM was not asked (a gate failed).
    pub credentials: Option<Result<Vec<CredentialMetadata>, IamError>>,
    /// Credential ids held by other resources, with the namespace of the holder.
    pub claimed_elsewhere: HashMap<String, String>,
    /// Whether every watched cache had synced when the claims were read: until then an id
    /// missing from `claimed_elsewhere` may still be held by a resource not yet seen.
    pub claims_complete: bool,
    /// This resource's namespace.
    pub namespace: String,
    /// The `issued-at` annotation of our intact Secret, when it has one.
    pub secret_issued_at: Option<String>,
    /// A rotate request this process answered with a Reset, that status did not show when
    /// observed (see [`super::answered_unrecorded`]).
    pub answered: Option<Answered>,
    /// Whether this installation may restart workloads (`--rollout-restart`).
    pub rollout_restart_enabled: bool,
    /// The name of the Secret the resource writes.
    pub secret_name: String,
    /// Whether our Secret under the name status records (spec.secret.name moved away from it)
    /// is there, to be deleted once the new one is written.
    pub old_secret: bool,
    /// The Secret under the name is immutable: the API server refuses any write to it.
    pub secret_immutable: bool,
    /// Whether `credentials` came from a service snapshot rather than a List of the user now.
    pub listed_from_snapshot: bool,
    /// Whether replicas split the resources into shards (`--shard-selector`).
    pub sharded: bool,
    /// What losing the right to the user does to the credentials held (`--revocation`).
    pub revocation: Revocation,
    pub now: Timestamp,
}

/// A rotate request answered by a Reset of `credential_id` at `at`, its password written to the
/// Secret as issued at `issued_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answered {
    pub request: String,
    pub credential_id: String,
    pub issued_at: String,
    pub at: Timestamp,
}

impl Answered {
    /// Whether status does not show it yet: the resource still asks for its request, status
    /// has not recorded it as handled and names its credential.
    pub(crate) fn unrecorded_in(
        &self,
        status: &ServiceSpecificCredentialStatus,
        requested: Option<&str>,
    ) -> bool {
        let request = Some(self.request.as_str());
        requested == request
            && status.handled_rotate_request.as_deref() != request
            && status.credential_id.as_deref() == Some(self.credential_id.as_str())
    }
}

impl Observed {
    pub(crate) fn spec(&self) -> &ServiceSpecificCredentialSpec {
        &self.resource.spec
    }

    /// `metadata.generation`: which spec this is.
    pub(crate) fn generation(&self) -> Option<i64> {
        self.resource.metadata.generation
    }

    /// Value of the rotate annotation, if any.
    pub(crate) fn rotate_request(&self) -> Option<&str> {
        self.resource
            .metadata
            .annotations
            .as_ref()?
            .get(ROTATE_ANNOTATION)
            .map(String::as_str)
    }
}

/// The fixture: the real type, built as a test needs it.
#[cfg(test)]
impl Observed {
    /// A resource of user sofia for CodeCommit at generation 1, in team-a, writing Secret `git`:
    /// valid, permitted, no Secret yet, IAM listing no credentials, at `tests::NOW`.
    pub(crate) fn test() -> Self {
        let mut resource = ServiceSpecificCredential::new("git", super::tests::spec());
        resource.metadata.namespace = Some("team-a".into());
        resource.metadata.generation = Some(1);
        Observed {
            resource,
            status: ServiceSpecificCredentialStatus::default(),
            validity: Ok(()),
            permission: Ok(()),
            secret: SecretObservation::Missing,
            old_secret_credential: None,
            template: Ok(()),
            credentials: Some(Ok(vec![])),
            claimed_elsewhere: HashMap::new(),
            claims_complete: true,
            namespace: "team-a".into(),
            secret_issued_at: None,
            answered: None,
            rollout_restart_enabled: false,
            secret_name: "git".into(),
            old_secret: false,
            secret_immutable: false,
            listed_from_snapshot: false,
            sharded: false,
            revocation: Revocation::default(),
            now: super::tests::at(super::tests::NOW),
        }
    }

    /// Holding `id`: status and the Secret name it, and IAM lists it (made 100 s ago).
    pub(crate) fn holding(mut self, id: &str) -> Self {
        self.status.credential_id = Some(id.into());
        self.secret = SecretObservation::Owned {
            credential_id: Some(id.into()),
            intact: true,
            up_to_date: true,
        };
        self.credentials = Some(Ok(vec![super::tests::cred(id, super::tests::NOW - 100)]));
        self
    }

    /// With the rotate annotation set to `request`.
    pub(crate) fn rotate(mut self, request: &str) -> Self {
        self.resource
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(ROTATE_ANNOTATION.into(), request.into());
        self
    }

    /// At generation `generation` of the spec.
    pub(crate) fn generation_at(mut self, generation: i64) -> Self {
        self.resource.metadata.generation = Some(generation);
        self
    }

    /// Our Secret under the name status records, holding `id`, is there too.
    pub(crate) fn old_secret_holding(mut self, id: &str) -> Self {
        self.old_secret_credential = Some(id.into());
        self.old_secret = true;
        self
    }

    /// What the decision is.
    pub(crate) fn decide(&self) -> Decision {
        super::decide(self)
    }
}
