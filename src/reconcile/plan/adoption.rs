//! Taking over a credential nobody holds: which ones may be adopted, and the waits
//! that keep shards and an interrupted Create from taking the same one twice.

use super::*;

/// With shards: how old an orphan must be before it is adopted or deleted, so that a credential
/// another shard has just created is recorded in its resource's status (and so claimed) first.
pub(crate) const SHARD_ORPHAN_SETTLE: Duration = Duration::from_secs(15);

/// With shards: how long to wait before taking over `orphan`, created at `created`.
pub(crate) fn orphan_settling(created: Timestamp, now: Timestamp) -> Option<Duration> {
    let settled = created
        .checked_add(jiff::SignedDuration::try_from(SHARD_ORPHAN_SETTLE).unwrap_or_default())
        .unwrap_or(created);
    let wait = now.duration_until(settled);
    Duration::try_from(wait).ok().filter(|w| !w.is_zero())
}

/// With shards: how long `decision` must wait. Taking over an orphan waits until it is
/// [`SHARD_ORPHAN_SETTLE`] old (whoever made it has recorded it by then); a Create while this
/// resource's status still announces one ([`ADOPTION_WINDOW`]) waits for that window to pass,
/// since the shard that announced it may still be making it (a relabel moves a resource between
/// shards at any time).
pub(crate) fn shard_wait(observed: &Observed, decision: &Decision) -> Option<Duration> {
    match decision {
        Decision::Reset { credential, cause }
            if matches!(cause, ResetCause::Adopt | ResetCause::AdoptRotation { .. })
                && !recorded(observed, &credential.id) =>
        {
            orphan_settling(credential.create_date, observed.now)
        }
        Decision::Create { .. } | Decision::Recreate { .. } => {
            let announced = observed.status.create_requested_at.as_ref()?.0;
            let window = jiff::SignedDuration::try_from(ADOPTION_WINDOW + ADOPTION_SKEW).ok()?;
            let until = announced.checked_add(window).ok()?;
            Duration::try_from(observed.now.duration_until(until))
                .ok()
                .filter(|w| !w.is_zero())
        }
        _ => None,
    }
}

/// The credentials that can only be the work of this resource's interrupted Create: new since
/// the ids recorded with the intent, created inside the intent's window (`createRequestedAt`
/// minus the clock skew, plus [`ADOPTION_WINDOW`]), held by no other resource, and not in
/// `exclude`. None without the intent marker. Adopt only when there is exactly one.
pub(crate) fn adoption_candidates<'a>(
    observed: &'a Observed,
    credentials: &'a [CredentialMetadata],
    exclude: &[&str],
) -> Vec<&'a CredentialMetadata> {
    let Some(requested) = observed.status.create_requested_at.as_ref().map(|t| t.0) else {
        return Vec::new();
    };
    let skew = jiff::SignedDuration::try_from(ADOPTION_SKEW).unwrap_or_default();
    let window =
        jiff::SignedDuration::try_from(ADOPTION_WINDOW + ADOPTION_SKEW).unwrap_or_default();
    let from = requested.checked_sub(skew).unwrap_or(requested);
    let until = requested.checked_add(window).unwrap_or(requested);
    let before = &observed.status.credentials_before_create;
    credentials
        .iter()
        .filter(|c| {
            c.create_date >= from
                && c.create_date <= until
                && !before.contains(&c.id)
                && !observed.claimed_elsewhere.contains_key(&c.id)
                && !exclude.contains(&c.id.as_str())
        })
        .collect()
}

/// Whether the `createRequestedAt` marker has served its purpose while the resource holds `held`
/// (recovered from our Secret after a crash, or named in status): no other credential created
/// since the marker is waiting to be adopted. A marker left behind would later let the resource
/// adopt a credential someone else created.
pub(crate) fn intent_settled(observed: &Observed, held: &CredentialMetadata) -> bool {
    let Some(Ok(credentials)) = &observed.credentials else {
        return false;
    };
    let mut exclude = vec![held.id.as_str()];
    exclude.extend(observed.status.retiring_credential_id.as_deref());
    adoption_candidates(observed, credentials, &exclude).is_empty()
}

/// The LimitExceeded message. It names the ids holding the slots that a tenant of this
/// namespace may know about (held here, or by no resource at all), counts the ones held by
/// resources of other namespaces without naming them, and never holds a secret.
pub(crate) fn limit_message(observed: &Observed, credentials: &[CredentialMetadata]) -> String {
    let (elsewhere, visible): (Vec<&CredentialMetadata>, Vec<&CredentialMetadata>) =
        credentials.iter().partition(|c| {
            !observed.claims_complete
                || observed
                    .claimed_elsewhere
                    .get(&c.id)
                    .is_some_and(|ns| *ns != observed.namespace)
        });
    let mut held: Vec<String> = visible.iter().map(|c| c.id.clone()).collect();
    if !elsewhere.is_empty() {
        held.push(format!(
            "{} held in other namespaces or not yet known",
            elsewhere.len()
        ));
    }
    format!(
        "IAM user {} already holds {} credentials for {} ({}), the most IAM allows; delete one of them or use another IAM user",
        observed.spec().user_name,
        credentials.len(),
        observed.spec().service_name,
        held.join(", ")
    )
}
