//! The `IAMIdentity` kind: an AWS role the platform team lets some namespaces mint credentials
//! through. Cluster-scoped, so that no tenant can write one.

// kube's derive re-emits types in a way `unreachable_pub` misreads.
#![allow(unreachable_pub)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::api::Condition;

/// The annotation on a Namespace naming the identity its resources use when they name none.
pub(crate) const IDENTITY_ANNOTATION: &str = "iam.ssc-operator.dev/identity";

/// An AWS IAM role that ServiceSpecificCredentials of the allowed namespaces mint through.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "iam.ssc-operator.dev",
    version = "v1alpha1",
    kind = "IAMIdentity",
    plural = "iamidentities",
    singular = "iamidentity",
    shortname = "sscid",
    category = "iam",
    status = "IAMIdentityStatus",
    derive = "PartialEq",
    doc = "An AWS IAM role that the ServiceSpecificCredentials of the allowed namespaces mint credentials through (assumed by ssc-operator with SourceIdentity ssc-operator and the session tags ssc-namespace and ssc-name). Written by the platform team; cluster-scoped.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Account","type":"string","jsonPath":".status.accountId"}"#,
    printcolumn = r#"{"name":"Role","type":"string","jsonPath":".spec.roleArn"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Source","type":"string","priority":1,"jsonPath":".spec.sourceIdentityRef.name"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[x_kube(
    validation = Rule::new("self.roleArn == oldSelf.roleArn")
        .message("roleArn is immutable: make a new IAMIdentity and point the resources at it (their credentials are retired through this one)"),
)]
#[serde(rename_all = "camelCase")]
pub struct IAMIdentitySpec {
    /// The IAM role to assume, `arn:aws:iam::ACCOUNT:role/NAME`. Immutable.
    #[schemars(
        length(min = 20, max = 2048),
        regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$")
    )]
    pub role_arn: String,
    /// Sent as `sts:ExternalId` when assuming the role (the role's trust policy should require
    /// it). An identifier, not a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224), regex(pattern = r"^[\w+=,.@:/-]+$"))]
    pub external_id: Option<String>,
    /// Assume this other identity first and this role from its session (a role chain, e.g. a
    /// hub role in a central account). The chained session lasts at most one hour, as AWS allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity_ref: Option<IdentityRef>,
    /// How long each session lasts (Go duration, 15m to 12h; the role's MaxSessionDuration must
    /// allow it). Sessions are renewed before they expire. Default 1h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"))]
    pub session_duration: Option<String>,
    /// The namespaces whose resources may use this identity: listed by name or selected by
    /// their labels. Unset or empty: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_namespaces: Option<AllowedNamespaces>,
    /// IAM user-name globs (`team-a-*`) this identity may mint for, on top of each namespace's
    /// `iam.ssc-operator.dev/allowed-users`. Empty: whatever the namespace allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub allowed_users: Vec<String>,
}

/// A reference to an `IAMIdentity` by name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct IdentityRef {
    /// The IAMIdentity's name.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
}

/// Which namespaces may use an identity: a namespace listed by name or matched by the selector.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
pub struct AllowedNamespaces {
    /// Namespace names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub names: Vec<String>,
    /// Namespaces whose labels match. An empty selector (`{}`) matches every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// What the operator last learned by assuming the role. Never holds session credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IAMIdentityStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`: whether the role could be assumed (reason `Assumed`), and if not why (the STS
    /// error code, or `InvalidSpec`, `SourceNotFound`, `ChainTooLong`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The AWS account of the role, as GetCallerIdentity reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The assumed-role ARN of the operator's session, as GetCallerIdentity reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed_role_arn: Option<String>,
}

impl IAMIdentitySpec {
    /// The account of `roleArn` (its fifth field), when the ARN has that shape.
    pub fn account(&self) -> Option<&str> {
        account_of(&self.role_arn)
    }
}

/// The account of an IAM ARN: `arn:PARTITION:iam::ACCOUNT:...`.
pub(crate) fn account_of(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// The CRD as YAML, exactly what `crds/iamidentities.iam.ssc-operator.dev.yaml` holds.
pub(crate) fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    serde_yaml::to_string(&IAMIdentity::crd()).expect("a CRD always serializes to YAML")
}
