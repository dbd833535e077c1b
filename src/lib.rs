//! ssc-operator: a Kubernetes operator for AWS IAM service-specific credentials, and an IAM emulator.
//!
//! Data flows one way: watch event → observe (Kubernetes + IAM) → decide (pure, [`reconcile::plan`])
//! → act (IAM, Secret, status) → Events and metrics.

pub mod api;
pub mod cli;
pub mod clock;
pub mod demo;
pub mod fence;
pub mod iam;
pub mod leader;
pub mod metrics;
pub mod operator;
pub mod reconcile;
pub mod secret;
pub mod selector;
pub mod telemetry;
pub mod template;
pub mod tenancy;
