//! Settings of the reconcile loop.

use super::*;

/// Settings of the reconcile loop.
#[derive(Clone, Debug)]
pub struct Config {
    pub policy: PolicyMode,
    /// How often a Ready resource is checked against IAM for drift.
    pub resync: Duration,
    /// Only these namespaces; empty: all.
    pub watch_namespaces: Vec<String>,
    /// Only resources whose labels match this selector: this replica set's shard. Other shards'
    /// resources are never reconciled here; their claims are still read whenever a decision
    /// depends on who holds a credential.
    pub shard_selector: Option<String>,
    /// Reconciles running at once.
    pub concurrency: u16,
    /// The Event reporting instance (pod name).
    pub instance: Option<String>,
    /// Whether this replica leads (leader election); `None`: always. When it turns false,
    /// reconciles under way are dropped at once — before their next IAM or Kubernetes write —
    /// rather than finished: another replica may already be acting on the same resources. What
    /// an interrupted pass leaves behind is what a crash would, and is recovered the same way.
    pub leading: Option<tokio::sync::watch::Receiver<bool>>,
    /// After shutdown is asked for, how long reconciles under way may take to finish before
    /// they are dropped (a hung request must not hold the process past its termination grace).
    pub shutdown_grace: Duration,
    /// Restart the `rolloutRestart` workloads of a resource after a new credential
    /// (`--rollout-restart`; needs patch on apps workloads).
    pub rollout_restart: bool,
    /// The sweep of the operator's records: credentials whose resource is gone, Creates whose
    /// answer never came.
    pub sweep: SweepConfig,
    /// What a namespace losing the right to a user does to the credentials its resources hold.
    pub revocation: Revocation,
    /// Which namespaces may use the operator's own AWS identity (`--ambient-identity`).
    pub ambient: crate::identity::AmbientPolicy,
}

/// When the sweep runs and what it waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepConfig {
    /// How often the records are swept.
    pub interval: Duration,
    /// How long a record's resource must have been gone before its credentials are deleted
    /// (`--orphan-grace`): a resource is matched by uid, so this is for a slow cleanup to finish
    /// first, not for a restore (a restored resource is a new object).
    pub orphan_grace: Duration,
    /// How old a credential nobody holds must be before the sweep decides about it: a Create
    /// answered a moment ago is recorded within this (it covers the IAM call's own timeout).
    pub settle: Duration,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            interval: Duration::from_secs(60),
            orphan_grace: Duration::from_secs(300),
            settle: Duration::from_secs(60),
        }
    }
}

/// `--revocation`: what happens to a credential whose namespace lost the right to its user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Revocation {
    /// Set it Inactive in IAM; a restored right makes it Active again, same password.
    #[default]
    Deactivate,
    /// Delete it; a restored right gets a new credential.
    Delete,
    /// Leave it as it is (the resource still reports NotPermitted).
    Keep,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            policy: PolicyMode::Enforcing,
            resync: Duration::from_secs(600),
            watch_namespaces: Vec::new(),
            shard_selector: None,
            concurrency: 4,
            instance: None,
            rollout_restart: false,
            leading: None,
            shutdown_grace: Duration::from_secs(20),
            sweep: SweepConfig::default(),
            revocation: Revocation::default(),
            ambient: crate::identity::AmbientPolicy::default(),
        }
    }
}
