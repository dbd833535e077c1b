//! ssc-operator: a Kubernetes operator for AWS IAM service-specific credentials, and an IAM emulator.
//!
//! Data flows one way: watch event → observe (Kubernetes + IAM) → plan (pure: the decision and its steps)
//! → act (IAM, Secret, status, Events, carrying the steps out) → metrics.

mod api;
mod cli;
mod clock;
#[cfg(feature = "demo")]
mod demo;
mod demo_accounts;
mod fair;
mod fence;
mod iam;
mod identity;
mod leader;
mod metrics;
mod operator;
mod reconcile;
mod record;
mod secret;
mod selector;
mod telemetry;
mod template;
mod tenancy;
mod uid;

// What other crates use — the binary, the test harness, the tests and benches — and nothing
// else: every other item is `pub(crate)`, so the compiler finds what is unused.

// The custom resources and what is written on them.
pub use api::{
    ALLOWED_USERS_ANNOTATION, CredentialKind, FINALIZER, ROTATE_ANNOTATION, RotationSpec,
    SecretTemplate, ServiceName, ServiceSpecificCredential, ServiceSpecificCredentialSpec,
    ServiceSpecificCredentialStatus, all_crds, all_crds_yaml,
};
pub use identity::api::{IAMIdentity, IAMIdentitySpec};
pub use identity::resolve::{
    AmbientPolicy, NamespaceFacts, Resolved, chain as identity_chain, resolve as resolve_identity,
};
pub use identity::sessions::{AwsDirectory, Directory};
pub use record::{CredentialRecord, record_name};
pub use secret::{
    MANAGED_BY_LABEL, MANAGED_BY_VALUE, Material as SecretMaterial, render as render_secret,
    render_placeholder,
};
pub use template::MAX_RENDERED_VALUE;
pub use tenancy::PolicyMode;

// IAM, as the operator calls it.
pub use iam::{
    AwsIam, CredentialStatus, Iam, IamError, IamLimits, IamObserver, OPERATION_TIMEOUT, SecretValue,
};

// Running it: the process, leadership, the write fence, metrics and logs.
pub use fence::{WriteFence, fence_iam};
pub use leader::LeaseConfig;
pub use metrics::Metrics;
pub use operator::{Election, kube_client, run_as_leader, serve_http};
pub use telemetry::quieted;

/// The binary's commands.
pub mod commands {
    pub use crate::cli::{RotateArgs, Target, rotate, status};
    #[cfg(feature = "demo")]
    pub use crate::demo::{DemoArgs, run as demo};
    pub use crate::operator::{RunArgs, RunError, run};
}

/// The reconcile loop, as `run` starts it and the tests drive it.
pub mod controller {
    pub use crate::reconcile::conditions::{Reason, reason_for};
    pub use crate::reconcile::{
        CachedCredential, Config, Error, ReconcileObserver, Revocation, SweepConfig, run,
    };
}
