//! `ssc-operator status NAME` and `ssc-operator rotate NAME`, also run as the kubectl plugin
//! `kubectl ssc …` (the binary installed as `kubectl-ssc`). They use the kubeconfig's current
//! context and namespace, as kubectl does, and the caller's own rights: reading the Secret is
//! needed only to tell whether it still matches its digest. Nothing they print holds secret
//! material: the Secret check compares digests and reports only the credential id.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};

use crate::api::{ROTATE_ANNOTATION, ServiceSpecificCredential, ServiceSpecificCredentialStatus};
use crate::reconcile::CachedCredential;
use crate::secret;

/// Which resource a command is about.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// The ServiceSpecificCredential's name.
    pub name: String,
    /// Its namespace (default: the kubeconfig context's).
    #[arg(short, long)]
    pub namespace: Option<String>,
}

/// `rotate` options.
#[derive(clap::Args, Debug)]
pub struct RotateArgs {
    #[command(flatten)]
    pub target: Target,
    /// How long to wait for the operator to handle the request (Go duration).
    #[arg(long, default_value = "2m", value_parser = crate::api::parse_duration)]
    pub timeout: Duration,
    /// Set the annotation and return without waiting.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot reach Kubernetes: {0}")]
    Connect(String),
    #[error("servicespecificcredential {namespace}/{name} not found")]
    NotFound { namespace: String, name: String },
    #[error(
        "the spec of servicespecificcredential {namespace}/{name} does not read as this version reads it"
    )]
    UnreadableSpec { namespace: String, name: String },
    #[error("{0}")]
    Kube(#[from] kube::Error),
    #[error(
        "the operator did not handle rotate request {request:?} within {timeout:?}; Ready is {ready}"
    )]
    NotHandled {
        request: String,
        timeout: Duration,
        ready: String,
    },
}

/// What the Secret holds compared with the resource's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretState {
    /// Ours, its keys match their digest and it holds the credential status names.
    Matches {
        issued_at: Option<String>,
    },
    /// Ours and intact, but holding another credential than status names.
    HoldsOther {
        credential_id: String,
    },
    /// Ours, but its keys were edited (they no longer match the digest).
    Edited,
    /// A Secret of that name exists and is not controlled by this resource.
    Foreign,
    Missing,
    /// The caller may not read it.
    Unreadable(String),
}

/// Compares `secret` with what `resource`'s status says it should hold.
pub(crate) fn secret_state(
    resource: &ServiceSpecificCredential,
    secret: Option<&Secret>,
) -> SecretState {
    let Some(secret) = secret else {
        return SecretState::Missing;
    };
    if !secret::is_owned_by(secret, &resource.uid().unwrap_or_default()) {
        return SecretState::Foreign;
    }
    let kind = resource.spec.service_name.kind();
    match secret::read_back(secret, kind) {
        None => SecretState::Edited,
        Some((id, _, _))
            if Some(id.as_str())
                == resource
                    .status
                    .as_ref()
                    .and_then(|s| s.credential_id.as_deref()) =>
        {
            SecretState::Matches {
                issued_at: secret::issued_at(secret)
                    .filter(|at| secret::is_issued_at(at))
                    .map(str::to_string),
            }
        }
        Some((id, _, _)) => SecretState::HoldsOther { credential_id: id },
    }
}

/// The report `status` prints.
pub(crate) fn render_status(
    resource: &ServiceSpecificCredential,
    secret: &SecretState,
    events: &[Event],
    now: jiff::Timestamp,
) -> String {
    let status = resource.status.clone().unwrap_or_default();
    let mut report = Report {
        out: String::new(),
        now,
    };
    report.line(
        "Name:",
        format!(
            "{}/{}",
            resource.namespace().unwrap_or_default(),
            resource.name_any()
        ),
    );
    report.line("User:", resource.spec.user_name.clone());
    report.line("Service:", resource.spec.service_name.to_string());
    report.line("Identity:", identity_line(resource, &status));
    report.ready(resource, &status);
    report.credential(&status);
    report.line("Secret:", secret_line(&resource.secret_name(), secret));
    report.events(events);
    report.out
}

/// The text of `status`, line by line, with times shown absolute and relative to `now`.
struct Report {
    out: String,
    now: jiff::Timestamp,
}

impl Report {
    fn line(&mut self, label: &str, value: String) {
        self.out.push_str(&format!("{label:<16}{value}\n"));
    }

    fn time(&self, t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> String {
        match t {
            Some(t) => format!("{} ({})", t.0, relative(t.0, self.now)),
            None => "-".to_string(),
        }
    }

    /// Ready, and whether the operator has seen the latest spec.
    fn ready(
        &mut self,
        resource: &ServiceSpecificCredential,
        status: &ServiceSpecificCredentialStatus,
    ) {
        match resource.ready_condition() {
            Some(ready) => {
                let since = self.time(Some(&ready.last_transition_time));
                self.line(
                    "Ready:",
                    format!("{} ({}) since {since}", ready.status, ready.reason),
                );
                if !ready.message.is_empty() {
                    self.line("Message:", printable(&ready.message));
                }
            }
            None => self.line("Ready:", "not reported yet".into()),
        }
        if status.observed_generation != resource.metadata.generation {
            self.line(
                "Observed:",
                format!(
                    "generation {:?} of {:?}: the operator has not seen the latest spec",
                    status.observed_generation, resource.metadata.generation
                ),
            );
        }
    }

    /// The credential held, its schedule and the quota.
    fn credential(&mut self, status: &ServiceSpecificCredentialStatus) {
        let credential = match &status.credential_id {
            Some(id) => format!(
                "{id} ({}), created {}",
                status.credential_status.as_deref().unwrap_or("unknown"),
                self.time(status.create_date.as_ref())
            ),
            None => "-".into(),
        };
        self.line("Credential:", credential);
        if let Some(login) = status
            .service_user_name
            .as_ref()
            .or(status.service_credential_alias.as_ref())
        {
            self.line("Login:", login.clone());
        }
        let expires = self.time(status.expiration_date.as_ref());
        self.line("Expires:", expires);
        let last = self.time(status.last_rotation_time.as_ref());
        self.line("Last rotation:", last);
        let next = match &status.next_rotation_time {
            Some(t) => self.time(Some(t)),
            None => "no schedule".into(),
        };
        self.line("Next rotation:", next);
        if let Some(retiring) = &status.retiring_credential_id {
            let after = self.time(status.retire_after.as_ref());
            self.line("Retiring:", format!("{retiring}, deleted after {after}"));
        }
        let quota = match status.slots_used {
            Some(used) => format!(
                "{used} of {} credentials of this user and service",
                crate::api::CREDENTIALS_PER_USER_PER_SERVICE
            ),
            None => "-".into(),
        };
        self.line("Quota:", quota);
    }

    /// The operator's Events, oldest first, control characters stripped.
    fn events(&mut self, events: &[Event]) {
        self.out.push_str("Events:\n");
        if events.is_empty() {
            self.out.push_str("  <none>\n");
        }
        let mut events: Vec<&Event> = events.iter().collect();
        events.sort_by_key(|e| e.event_time.as_ref().map(|t| t.0));
        for event in events {
            let at = event.event_time.as_ref().map(|t| t.0);
            self.out.push_str(&format!(
                "  {:<8} {:<26} {:>8}  {}\n",
                printable(event.type_.as_deref().unwrap_or("")),
                printable(event.reason.as_deref().unwrap_or("")),
                at.map_or("-".into(), |at| relative(at, self.now)),
                printable(event.note.as_deref().unwrap_or(""))
            ));
        }
    }
}

/// What the Secret holds, never its contents.
/// The AWS identity the credential is minted through, as status reports it (what the spec asks
/// for when nothing is reported yet).
fn identity_line(
    resource: &ServiceSpecificCredential,
    status: &ServiceSpecificCredentialStatus,
) -> String {
    match &status.identity {
        Some(identity) => {
            let account = identity.account_id.as_deref().unwrap_or("unknown");
            format!("{}, account {account}", identity.describe())
        }
        None => match &resource.spec.identity_ref {
            Some(r) => format!("IAMIdentity {} (not used yet)", r.name),
            None => "not reported yet".into(),
        },
    }
}

fn secret_line(secret_name: &str, secret: &SecretState) -> String {
    match secret {
        SecretState::Matches { issued_at } => format!(
            "{secret_name}: matches its digest, holds the credential above (issued {})",
            issued_at
                .as_deref()
                .unwrap_or("before issued-at was recorded")
        ),
        SecretState::HoldsOther { credential_id } => {
            format!("{secret_name}: intact, but holds {credential_id}, not the credential above")
        }
        SecretState::Edited => format!(
            "{secret_name}: EDITED: its keys no longer match their digest (the operator resets it)"
        ),
        SecretState::Foreign => format!("{secret_name}: exists but is not owned by this resource"),
        SecretState::Missing => format!("{secret_name}: missing"),
        SecretState::Unreadable(why) => format!("{secret_name}: cannot be read: {why}"),
    }
}

/// `text` without control characters (a terminal would act on them), each shown as `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `3m ago`, `in 2d`: the rough distance from `now`, as kubectl prints ages.
fn relative(at: jiff::Timestamp, now: jiff::Timestamp) -> String {
    let seconds = now.as_second() - at.as_second();
    let (past, n) = (seconds >= 0, seconds.unsigned_abs());
    let amount = match n {
        0..120 => format!("{n}s"),
        120..7200 => format!("{}m", n / 60),
        7200..172_800 => format!("{}h", n / 3600),
        _ => format!("{}d", n / 86_400),
    };
    if past {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// A client for the kubeconfig's current context, and the namespace to use.
async fn connect(target: &Target) -> Result<(Client, String), CliError> {
    let config = kube::Config::infer()
        .await
        .map_err(|e| CliError::Connect(e.to_string()))?;
    let namespace = target
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).map_err(|e| CliError::Connect(e.to_string()))?;
    Ok((client, namespace))
}

async fn get_resource(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<ServiceSpecificCredential, CliError> {
    // Read as the operator's cache reads it: a status a tenant made unreadable is left out (the
    // operator writes it anew).
    let cached = Api::<CachedCredential>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await?
        .ok_or_else(|| CliError::NotFound {
            namespace: namespace.into(),
            name: name.into(),
        })?;
    cached.expand().map_err(|_| CliError::UnreadableSpec {
        namespace: namespace.into(),
        name: name.into(),
    })
}

/// `ssc-operator status NAME`: conditions, credential, schedule, quota, whether the Secret
/// matches its digest, and the resource's Events.
pub async fn status(target: Target) -> Result<String, CliError> {
    let (client, namespace) = connect(&target).await?;
    let resource = get_resource(&client, &namespace, &target.name).await?;
    let secret = match Api::<Secret>::namespaced(client.clone(), &namespace)
        .get_opt(&resource.secret_name())
        .await
    {
        Ok(secret) => secret_state(&resource, secret.as_ref()),
        Err(kube::Error::Api(status)) => SecretState::Unreadable(status.message),
        Err(error) => SecretState::Unreadable(error.to_string()),
    };
    let selector = format!(
        "regarding.kind=ServiceSpecificCredential,regarding.name={}",
        target.name
    );
    let uid = resource.uid();
    let events: Vec<Event> = Api::<Event>::namespaced(client, &namespace)
        .list(&ListParams::default().fields(&selector))
        .await
        .map(|list| list.items)
        .unwrap_or_default()
        .into_iter()
        // Events of an earlier resource of the same name are not this one's, and only the
        // operator's are shown (anyone allowed to create Events could write others).
        .filter(|e| e.regarding.as_ref().and_then(|r| r.uid.clone()) == uid)
        .filter(|e| e.reporting_controller.as_deref() == Some(crate::reconcile::FIELD_MANAGER))
        .collect();
    Ok(render_status(
        &resource,
        &secret,
        &events,
        jiff::Timestamp::now(),
    ))
}

/// `ssc-operator rotate NAME`: sets the rotate annotation to a new value and waits until the
/// operator reports it handled.
pub async fn rotate(args: RotateArgs) -> Result<String, CliError> {
    let (client, namespace) = connect(&args.target).await?;
    let name = &args.target.name;
    let resources = Api::<CachedCredential>::namespaced(client.clone(), &namespace);
    let before = get_resource(&client, &namespace, name).await?;
    let request = jiff::Timestamp::now().to_string();
    let patch = serde_json::json!({"metadata": {"annotations": {ROTATE_ANNOTATION: request}}});
    resources
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    if args.no_wait {
        return Ok(format!(
            "rotation of {namespace}/{name} requested ({ROTATE_ANNOTATION}={request})\n"
        ));
    }
    let deadline = tokio::time::Instant::now() + args.timeout;
    loop {
        let now = get_resource(&client, &namespace, name).await?;
        let status = now.status.clone().unwrap_or_default();
        if status.handled_rotate_request.as_deref() == Some(request.as_str()) {
            let previous = before.status.and_then(|s| s.credential_id);
            return Ok(format!(
                "rotated {namespace}/{name}: credential {} (was {}), at {}\n",
                status.credential_id.as_deref().unwrap_or("-"),
                previous.as_deref().unwrap_or("-"),
                status
                    .last_rotation_time
                    .map_or("-".into(), |t| t.0.to_string()),
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            let ready = now.ready_condition().map_or("not reported".into(), |c| {
                format!("{} ({}): {}", c.status, c.reason, c.message)
            });
            return Err(CliError::NotHandled {
                request,
                timeout: args.timeout,
                ready,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests;
