//! ssc-operator: a Kubernetes operator for AWS IAM service-specific credentials, and an IAM emulator.
//!
//! Data flows one way: watch event → observe (Kubernetes + IAM) → plan (pure: the decision and its steps)
//! → act (IAM, Secret, status, Events, carrying the steps out) → metrics.

pub mod api;
pub mod cli;
mod clock;
#[cfg(feature = "demo")]
pub mod demo;
pub mod demo_accounts;
mod fair;
pub mod fence;
pub mod iam;
pub mod identity;
pub mod leader;
pub mod metrics;
pub mod operator;
pub mod reconcile;
pub mod record;
pub mod secret;
mod selector;
pub mod telemetry;
pub mod template;
pub mod tenancy;
