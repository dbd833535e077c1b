//! The `ServiceSpecificCredential` custom resource (`iam.ssc-operator.dev/v1alpha1`).
//!
//! Everything the apiserver can check lives in the generated schema (patterns, enums, ranges, CEL
//! rules), so `kubectl apply` of a bad manifest fails before the operator sees it. What the schema
//! cannot express is checked again by [`ServiceSpecificCredentialSpec::validate`].

// Every item here is the crate's API; kube's KubeSchema derive re-emits the types it validates in
// a way `unreachable_pub` misreads as unreachable.
#![allow(unreachable_pub)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod crds;
mod status;
mod validation;
pub use crds::*;
pub use status::*;
pub(crate) use validation::*;

/// The finalizer that makes deletion wait for the IAM credential to be deleted (or retained).
pub const FINALIZER: &str = "iam.ssc-operator.dev/cleanup";
/// Annotation on the resource: a new value asks for one on-demand rotation. A value longer than
/// 256 bytes is read (and recorded as handled) as `sha256:<hex>` of it.
pub const ROTATE_ANNOTATION: &str = "iam.ssc-operator.dev/rotate";
/// Annotation on a Namespace: comma-separated globs of IAM user names its resources may use.
pub const ALLOWED_USERS_ANNOTATION: &str = "iam.ssc-operator.dev/allowed-users";
/// The only quota IAM has for these credentials: per user, per service.
pub(crate) const CREDENTIALS_PER_USER_PER_SERVICE: usize = 2;

/// Secret keys the operator writes itself; templates cannot replace them.
pub(crate) const RESERVED_SECRET_KEYS: [&str; 4] = ["username", "password", "alias", "secret"];

/// Services whose credentials are a user name and password.
const PASSWORD_SERVICES: [&str; 2] = ["codecommit.amazonaws.com", "cassandra.amazonaws.com"];
/// Services whose credentials are long-term API keys (alias + bearer secret).
const API_KEY_SERVICES: [&str; 4] = [
    "bedrock.amazonaws.com",
    "logs.amazonaws.com",
    "cloudwatch.amazonaws.com",
    "aws-external-anthropic.amazonaws.com",
];

/// A service-specific credential of one IAM user for one AWS service, delivered into a Secret.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "iam.ssc-operator.dev",
    version = "v1alpha1",
    kind = "ServiceSpecificCredential",
    plural = "servicespecificcredentials",
    singular = "servicespecificcredential",
    shortname = "ssc",
    category = "iam",
    namespaced,
    status = "ServiceSpecificCredentialStatus",
    derive = "PartialEq",
    doc = "An IAM service-specific credential (CodeCommit/Keyspaces password or Bedrock/CloudWatch API key) delivered into a Secret.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"User","type":"string","jsonPath":".spec.userName"}"#,
    printcolumn = r#"{"name":"Service","type":"string","jsonPath":".spec.serviceName"}"#,
    printcolumn = r#"{"name":"Secret","type":"string","jsonPath":".status.secretName"}"#,
    // Times ahead are strings: a `date` column prints a time in the future as "<invalid>".
    printcolumn = r#"{"name":"Expires","type":"string","jsonPath":".status.expirationDate"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Credential ID","type":"string","priority":1,"jsonPath":".status.credentialId"}"#,
    printcolumn = r#"{"name":"Next Rotation","type":"string","priority":1,"jsonPath":".status.nextRotationTime"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[x_kube(
    validation = Rule::new("self.userName == oldSelf.userName").message("userName is immutable"),
    validation = Rule::new("self.serviceName == oldSelf.serviceName").message("serviceName is immutable"),
    validation = Rule::new("!has(self.credentialAgeDays) || self.serviceName in ['bedrock.amazonaws.com', 'logs.amazonaws.com', 'cloudwatch.amazonaws.com', 'aws-external-anthropic.amazonaws.com']")
        .message("credentialAgeDays applies only to API-key services (bedrock, logs, cloudwatch, aws-external-anthropic)"),
    validation = Rule::new("!has(self.rotation) || !has(self.rotation.beforeExpiry) || self.serviceName in ['bedrock.amazonaws.com', 'logs.amazonaws.com', 'cloudwatch.amazonaws.com', 'aws-external-anthropic.amazonaws.com']")
        .message("rotation.beforeExpiry applies only to API-key services"),
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpecificCredentialSpec {
    /// The IAM user that owns the credential. Immutable.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[\w+=,.@-]+$"))]
    pub user_name: String,
    /// The AWS service the credential is for. Immutable.
    pub service_name: ServiceName,
    /// The IAM status the credential should have.
    #[serde(default)]
    pub status: DesiredStatus,
    /// API-key services only: the key expires this many days after creation. Without it, it never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 36600))]
    pub credential_age_days: Option<i32>,
    /// The Secret the credential is written to.
    #[serde(default)]
    pub secret: SecretSpec,
    /// Periodic rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationSpec>,
    /// The IAMIdentity (an AWS role the platform team defined) to mint the credential through.
    /// Default: the namespace's `iam.ssc-operator.dev/identity` annotation, else the operator's
    /// own identity where its `--ambient-identity` allows the namespace. Changing it retires the
    /// credential through the old identity and mints a new one through the new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_ref: Option<crate::identity::api::IdentityRef>,
    /// What happens to the IAM credential when this resource is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Take over an existing IAM credential of this user and service (one kept by `deletionPolicy:
    /// Retain`, or made by hand) instead of creating one. Its secret cannot be recovered, so it is
    /// reset. Refused when another resource holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt: Option<AdoptSpec>,
    /// Workloads in this namespace to restart (as `kubectl rollout restart` does) after a new
    /// credential is written to the Secret, so that consumers reading it at start pick it up. Not
    /// after the first one. Needs the operator's `--rollout-restart` (off by default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub rollout_restart: Vec<WorkloadRef>,
}

/// A workload in the resource's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRef {
    /// The workload's kind (group `apps`).
    pub kind: WorkloadKind,
    /// The workload's name.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
}

/// The kinds of workloads that can be restarted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

/// Which existing credential to take over.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdoptSpec {
    /// The IAM `ServiceSpecificCredentialId`.
    #[schemars(length(min = 20, max = 128), regex(pattern = r"^[\w]+$"))]
    pub credential_id: String,
}

/// The supported AWS services (IAM `ServiceName`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ServiceName {
    #[serde(rename = "codecommit.amazonaws.com")]
    CodeCommit,
    #[serde(rename = "cassandra.amazonaws.com")]
    Keyspaces,
    #[serde(rename = "bedrock.amazonaws.com")]
    Bedrock,
    #[serde(rename = "logs.amazonaws.com")]
    CloudWatchLogs,
    #[serde(rename = "cloudwatch.amazonaws.com")]
    CloudWatch,
    #[serde(rename = "aws-external-anthropic.amazonaws.com")]
    ClaudePlatform,
}

impl ServiceName {
    pub const ALL: [ServiceName; 6] = [
        ServiceName::CodeCommit,
        ServiceName::Keyspaces,
        ServiceName::Bedrock,
        ServiceName::CloudWatchLogs,
        ServiceName::CloudWatch,
        ServiceName::ClaudePlatform,
    ];

    /// The service principal string IAM expects.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::CodeCommit => PASSWORD_SERVICES[0],
            ServiceName::Keyspaces => PASSWORD_SERVICES[1],
            ServiceName::Bedrock => API_KEY_SERVICES[0],
            ServiceName::CloudWatchLogs => API_KEY_SERVICES[1],
            ServiceName::CloudWatch => API_KEY_SERVICES[2],
            ServiceName::ClaudePlatform => API_KEY_SERVICES[3],
        }
    }

    pub fn kind(self) -> CredentialKind {
        if PASSWORD_SERVICES.contains(&self.as_str()) {
            CredentialKind::Password
        } else {
            CredentialKind::ApiKey
        }
    }
}

impl std::fmt::Display for ServiceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two shapes of service-specific credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// `ServiceUserName` + `ServicePassword` (CodeCommit, Keyspaces).
    Password,
    /// `ServiceCredentialAlias` + `ServiceCredentialSecret` (Bedrock, CloudWatch Logs, ...).
    ApiKey,
}

/// The IAM status a user can ask for (`Expired` is IAM's to set, never ours).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DesiredStatus {
    #[default]
    Active,
    Inactive,
}

impl DesiredStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DesiredStatus::Active => "Active",
            DesiredStatus::Inactive => "Inactive",
        }
    }
}

/// What deletion of the resource does to the IAM credential.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the IAM credential (the Secret is garbage-collected with the resource).
    #[default]
    Delete,
    /// Keep the IAM credential in IAM.
    Retain,
}

/// Where and how the credential is written.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretSpec {
    /// Name of the Secret in the resource's namespace. Default: the resource's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: Option<String>,
    /// Extra shape of the Secret: type, labels, annotations and templated keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<SecretTemplate>,
}

/// The Secret template. Data values are minijinja templates over `username`, `password`, `alias`,
/// `secret`, `credentialId`, `userName`, `serviceName`, with filters such as `urlencode` and `base64`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplate {
    /// Secret type. Default: `kubernetes.io/basic-auth` for password services, `Opaque` for API keys.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub type_: Option<String>,
    /// Labels added to the Secret, besides the operator's own (at most 32).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 63}))]
    pub labels: BTreeMap<String, String>,
    /// Annotations added to the Secret (for example Reloader's), besides the operator's own (at
    /// most 32, each value at most 4 KiB).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 4096}))]
    pub annotations: BTreeMap<String, String>,
    /// Extra keys, each rendered from a template. Keys are Secret keys (`[-._a-zA-Z0-9]+`) other
    /// than the ones the operator writes. (Checked by the operator, not by CEL: a rule over every map
    /// key has an unbounded estimated cost and would make the apiserver refuse the CRD.) At most
    /// 32 keys, each template at most 8 KiB.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 8192}))]
    pub data: BTreeMap<String, String>,
}

/// Rotation settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(
    validation = Rule::new("!has(self.interval) || duration(self.interval) >= duration('60s')")
        .message("rotation.interval must be at least 1m: shorter intervals only churn credentials"),
    validation = Rule::new("!has(self.gracePeriod) || duration(self.gracePeriod) >= duration('1s')")
        .message("rotation.gracePeriod must be at least 1s"),
    validation = Rule::new("!has(self.beforeExpiry) || duration(self.beforeExpiry) >= duration('60s')")
        .message("rotation.beforeExpiry must be at least 1m"),
)]
#[serde(rename_all = "camelCase")]
pub struct RotationSpec {
    /// Rotate on this period (Go duration, e.g. `720h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"))]
    pub interval: Option<String>,
    /// `Reset` keeps the credential and replaces its password; `Recreate` creates a new one in the second slot, then swaps.
    #[serde(default)]
    pub strategy: RotationStrategy,
    /// Recreate: how long the old credential lives after the swap (default 10m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"))]
    pub grace_period: Option<String>,
    /// API keys with an expiry: create a new key (in the second slot, then swap, as Recreate) this
    /// long before the current one expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"))]
    pub before_expiry: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum RotationStrategy {
    #[default]
    Reset,
    Recreate,
}

#[cfg(test)]
mod tests;
