//! What the schema cannot check: the spec read whole, with its limits, durations and
//! the messages of `InvalidSpec`.

use super::*;

/// The most workloads one resource may restart.
pub(crate) const MAX_ROLLOUT_RESTARTS: usize = 16;

/// The shortest rotation interval (and renewal lead time) accepted: shorter ones only churn.
pub(crate) const MIN_ROTATION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);
/// The shortest grace period of a Recreate rotation.
pub(crate) const MIN_GRACE_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// How long the previous credential stays valid after a Recreate rotation, by default.
pub(crate) const DEFAULT_GRACE_PERIOD: std::time::Duration = std::time::Duration::from_secs(600);

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

    pub(super) fn is_api_key(&self) -> bool {
        self.service_name.kind() == CredentialKind::ApiKey
    }

    pub(super) fn validate_user_name(&self) -> Result<(), InvalidSpec> {
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

    pub(super) fn validate_age(&self) -> Result<(), InvalidSpec> {
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
    pub(super) fn validate_rotation(&self) -> Result<(), InvalidSpec> {
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

    pub(super) fn validate_rollout_restart(&self) -> Result<(), InvalidSpec> {
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

    pub(super) fn validate_template_keys(&self) -> Result<(), InvalidSpec> {
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
pub(crate) enum InvalidDuration {
    #[error("invalid duration {0:?}: too long")]
    TooLong(String),
    #[error("invalid duration {value:?}: {reason}")]
    Unparsable { value: String, reason: String },
    #[error("invalid duration {0:?}: must not be negative")]
    Negative(String),
}

/// Parses a Go-style duration (`720h`, `1h30m`, `10m`) as Kubernetes does.
pub(crate) fn parse_duration(value: &str) -> Result<std::time::Duration, InvalidDuration> {
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
