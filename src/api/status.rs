//! What the operator reports on a resource: its status and conditions.

use super::*;

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
