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

/// The finalizer that makes deletion wait for the IAM credential to be deleted (or retained).
pub const FINALIZER: &str = "iam.ssc-operator.dev/cleanup";
/// Annotation on the resource: a new value asks for one on-demand rotation. A value longer than
/// 256 bytes is read (and recorded as handled) as `sha256:<hex>` of it.
pub const ROTATE_ANNOTATION: &str = "iam.ssc-operator.dev/rotate";
/// Annotation on a Namespace: comma-separated globs of IAM user names its resources may use.
pub const ALLOWED_USERS_ANNOTATION: &str = "iam.ssc-operator.dev/allowed-users";
/// The only quota IAM has for these credentials: per user, per service.
pub const CREDENTIALS_PER_USER_PER_SERVICE: usize = 2;

/// Secret keys the operator writes itself; templates cannot replace them.
pub const RESERVED_SECRET_KEYS: [&str; 4] = ["username", "password", "alias", "secret"];

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

/// Observed state, written only through the status subresource. Never holds secret material.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpecificCredentialStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The `Ready` condition: whether the Secret holds a working credential, and if not why
    /// (`reason`) and what to do (`message`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The IAM `ServiceSpecificCredentialId` this resource owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    /// Password services: the user name to log in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_user_name: Option<String>,
    /// API-key services: the public part of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_credential_alias: Option<String>,
    /// The status as IAM reports it: Active, Inactive or Expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_status: Option<String>,
    /// When IAM created the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_date: Option<Time>,
    /// API keys with an age limit: when IAM stops accepting the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<Time>,
    /// The Secret that holds the credential (written once that Secret exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// When the credential was last replaced (Reset or Recreate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotation_time: Option<Time>,
    /// When the next scheduled rotation is due: `rotation.interval` after the last one, or an API
    /// key's renewal `beforeExpiry` its expiry, whichever comes first. Unset without a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation_time: Option<Time>,
    /// The last value of the rotate annotation that was handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_rotate_request: Option<String>,
    /// Set just before asking IAM for a new credential. If the operator dies before the Secret is
    /// written, a credential of this user and service created after this time and owned by no other
    /// resource is ours: it is adopted (with a Reset) instead of creating a second one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<Time>,
    /// The user's credentials for this service listed just before that Create: none of them can be
    /// the one the Create made, so none is ever adopted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials_before_create: Vec<String>,
    /// Recreate rotation: the previous credential, still valid until `retireAfter`, then deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_credential_id: Option<String>,
    /// Recreate rotation: when the previous credential is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_after: Option<Time>,
    /// The Secret's `iam.ssc-operator.dev/issued-at` for which the `rolloutRestart` workloads
    /// were last restarted (or, for the first credential, recorded without a restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub workloads_restarted_for: Option<String>,
    /// The AWS identity the credential is minted through: an IAMIdentity (name, role, account)
    /// or, with no name, the operator's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<crate::identity::IdentityBinding>,
    /// How many of the user's credential slots for this service are used (IAM allows 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots_used: Option<i32>,
}

/// A condition in the Kubernetes convention (`metav1.Condition`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The condition's kind: `Ready`.
    #[serde(rename = "type")]
    #[schemars(length(max = 316))]
    pub type_: String,
    /// "True", "False" or "Unknown".
    #[schemars(extend("enum" = ["True", "False", "Unknown"]))]
    pub status: String,
    /// Why, as one CamelCase word (`Available`, `LimitExceeded`, …; listed in the README).
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    )]
    pub reason: String,
    /// What happened and what to do, for people. Never holds secret material.
    #[serde(default)]
    #[schemars(length(max = 32768))]
    pub message: String,
    /// When `status` last changed.
    pub last_transition_time: Time,
    /// The `metadata.generation` the condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The most workloads one resource may restart.
pub const MAX_ROLLOUT_RESTARTS: usize = 16;

/// The shortest rotation interval (and renewal lead time) accepted: shorter ones only churn.
pub const MIN_ROTATION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);
/// The shortest grace period of a Recreate rotation.
pub const MIN_GRACE_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// How long the previous credential stays valid after a Recreate rotation, by default.
pub const DEFAULT_GRACE_PERIOD: std::time::Duration = std::time::Duration::from_secs(600);

impl RotationSpec {
    /// The grace period of a Recreate rotation.
    pub fn grace(&self) -> std::time::Duration {
        self.grace_period
            .as_deref()
            .and_then(|g| parse_duration(g).ok())
            .unwrap_or(DEFAULT_GRACE_PERIOD)
    }
}

impl ServiceSpecificCredential {
    /// The name of the Secret this resource writes: `spec.secret.name`, else the resource name.
    pub fn secret_name(&self) -> String {
        self.spec
            .secret
            .name
            .clone()
            .unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }

    /// The Ready condition, if any.
    pub fn ready_condition(&self) -> Option<&Condition> {
        self.status
            .as_ref()
            .and_then(ServiceSpecificCredentialStatus::ready)
    }
}

impl ServiceSpecificCredentialStatus {
    /// The Ready condition, if any.
    pub fn ready(&self) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == "Ready")
    }
}

impl ServiceSpecificCredentialSpec {
    /// Checks what the CRD schema cannot express (or what an old CRD may have let through).
    /// Returns a message fit for `Ready=False, InvalidSpec`.
    pub fn validate(&self) -> Result<(), InvalidSpec> {
        self.validate_user_name()?;
        self.validate_age()?;
        self.validate_rotation()?;
        self.validate_rollout_restart()?;
        self.validate_template_keys()
    }

    fn is_api_key(&self) -> bool {
        self.service_name.kind() == CredentialKind::ApiKey
    }

    fn validate_user_name(&self) -> Result<(), InvalidSpec> {
        let name_ok = !self.user_name.is_empty()
            && self.user_name.chars().count() <= 64
            && self
                .user_name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || "+=,.@-".contains(c));
        if !name_ok {
            return Err(InvalidSpec(format!(
                "spec.userName {:?} must be 1-64 characters of letters, digits and _+=,.@-",
                self.user_name
            )));
        }
        Ok(())
    }

    fn validate_age(&self) -> Result<(), InvalidSpec> {
        let api_key = self.is_api_key();
        if let Some(days) = self.credential_age_days {
            if !api_key {
                return Err(InvalidSpec(
                    "spec.credentialAgeDays applies only to API-key services".into(),
                ));
            }
            if !(1..=36600).contains(&days) {
                return Err(InvalidSpec(
                    "spec.credentialAgeDays must be between 1 and 36600".into(),
                ));
            }
        }
        Ok(())
    }

    /// Each duration parses and is above its floor; `beforeExpiry` only for API keys, shorter
    /// than their age.
    fn validate_rotation(&self) -> Result<(), InvalidSpec> {
        let api_key = self.is_api_key();
        if let Some(rotation) = &self.rotation {
            for (field, value, floor) in [
                ("interval", &rotation.interval, MIN_ROTATION_INTERVAL),
                ("gracePeriod", &rotation.grace_period, MIN_GRACE_PERIOD),
                (
                    "beforeExpiry",
                    &rotation.before_expiry,
                    MIN_ROTATION_INTERVAL,
                ),
            ] {
                if let Some(v) = value {
                    let d = parse_duration(v)
                        .map_err(|e| InvalidSpec(format!("spec.rotation.{field}: {e}")))?;
                    if d < floor {
                        return Err(InvalidSpec(format!(
                            "spec.rotation.{field} ({v}) must be at least {}s",
                            floor.as_secs()
                        )));
                    }
                }
            }
            if rotation.before_expiry.is_some() && !api_key {
                return Err(InvalidSpec(
                    "spec.rotation.beforeExpiry applies only to API-key services".into(),
                ));
            }
            if let (Some(before), Some(days)) = (&rotation.before_expiry, self.credential_age_days)
                && parse_duration(before)
                    .map_err(|e| InvalidSpec(e.to_string()))?
                    .as_secs()
                    >= u64::try_from(days).unwrap_or(0) * 86_400
            {
                return Err(InvalidSpec(format!(
                    "spec.rotation.beforeExpiry ({before}) must be shorter than credentialAgeDays ({days}d), or every new key would be renewed at once"
                )));
            }
        }
        Ok(())
    }

    fn validate_rollout_restart(&self) -> Result<(), InvalidSpec> {
        if self.rollout_restart.len() > MAX_ROLLOUT_RESTARTS {
            return Err(InvalidSpec(format!(
                "spec.rolloutRestart has {} workloads; at most {MAX_ROLLOUT_RESTARTS} are allowed",
                self.rollout_restart.len()
            )));
        }
        for workload in &self.rollout_restart {
            let name_ok = !workload.name.is_empty()
                && workload.name.len() <= 253
                && workload.name.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                });
            if !name_ok {
                return Err(InvalidSpec(format!(
                    "spec.rolloutRestart: {:?} is not a valid {} name",
                    workload.name,
                    workload.kind.as_str()
                )));
            }
        }
        Ok(())
    }

    fn validate_template_keys(&self) -> Result<(), InvalidSpec> {
        if let Some(template) = &self.secret.template {
            if template.data.len() > crate::template::MAX_TEMPLATE_KEYS {
                return Err(InvalidSpec(format!(
                    "spec.secret.template.data has {} keys; at most {} are allowed",
                    template.data.len(),
                    crate::template::MAX_TEMPLATE_KEYS
                )));
            }
            for key in template.data.keys() {
                if RESERVED_SECRET_KEYS.contains(&key.as_str()) {
                    return Err(InvalidSpec(format!(
                        "spec.secret.template.data key {key:?} is written by the operator"
                    )));
                }
                let key_ok = !key.is_empty()
                    && key.len() <= 253
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
                if !key_ok {
                    return Err(InvalidSpec(format!(
                        "spec.secret.template.data key {key:?} is not a valid Secret key (alphanumerics, '-', '_' or '.')"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A spec the schema let through but the operator cannot act on (reported as `InvalidSpec`): what
/// is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSpec(pub String);

/// A duration that [`parse_duration`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDuration {
    #[error("invalid duration {0:?}: too long")]
    TooLong(String),
    #[error("invalid duration {value:?}: {reason}")]
    Unparsable { value: String, reason: String },
    #[error("invalid duration {0:?}: must not be negative")]
    Negative(String),
}

/// Parses a Go-style duration (`720h`, `1h30m`, `10m`) as Kubernetes does.
pub fn parse_duration(value: &str) -> Result<std::time::Duration, InvalidDuration> {
    // kube-core's parser panics on overflowing values ("99999999999999999999h"); none of ours
    // needs more than a few digits.
    if value.len() > 32
        || value
            .split(|c: char| !c.is_ascii_digit())
            .any(|d| d.len() > 9)
    {
        return Err(InvalidDuration::TooLong(value.to_string()));
    }
    let parsed: kube::core::Duration =
        value
            .parse()
            .map_err(
                |e: kube::core::duration::ParseError| InvalidDuration::Unparsable {
                    value: value.to_string(),
                    reason: e.to_string(),
                },
            )?;
    if parsed.is_negative() {
        return Err(InvalidDuration::Negative(value.to_string()));
    }
    Ok(parsed.into())
}

/// The CRD as YAML, exactly what `crds/servicespecificcredentials.iam.ssc-operator.dev.yaml` holds.
pub fn crd_yaml() -> String {
    let crd = ServiceSpecificCredential::crd();
    serde_yaml::to_string(&crd).expect("a CRD always serializes to YAML")
}

/// Every CRD the operator needs: the resource and the operator's own record of what it minted.
pub fn all_crds()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    vec![
        ServiceSpecificCredential::crd(),
        crate::record::CredentialRecord::crd(),
        crate::identity::IAMIdentity::crd(),
    ]
}

/// What `ssc-operator crd` prints: every CRD, as YAML documents (each file of `crds/` holds one).
pub fn all_crds_yaml() -> String {
    [
        crd_yaml(),
        crate::record::crd_yaml(),
        crate::identity::api::crd_yaml(),
    ]
    .join("---\n")
}

#[cfg(test)]
mod tests;
