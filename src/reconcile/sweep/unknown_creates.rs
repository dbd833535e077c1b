//! Creates whose answer never came: the credentials they may have made once IAM lists
//! them, matched, removed when late, or told about when they cannot be placed.

use super::*;

/// Settles the credentials the unanswered Creates of this shard's records may have made.
pub(super) async fn settle_unknown_creates(ctx: &Context, state: &mut SweepState, round: &Round) {
    let now = ctx.clock.now();
    let held: Vec<&str> = if round.unknown_creates.is_empty() {
        Vec::new()
    } else {
        round.held.iter().map(String::as_str).collect()
    };
    let mut seen_unexplained = Vec::new();
    for (key, records) in &round.unknown_creates {
        // A Create under way now may make exactly such a credential: look again next round.
        if round.creating.contains(key) {
            continue;
        }
        let (user, service, _account) = key;
        let records: Vec<&CredentialRecord> = records.iter().collect();
        let unknown: Vec<UnknownCreate> = records
            .iter()
            .flat_map(|r| record::unknown_creates_open(&r.spec.unknown_creates, now))
            .collect();
        let namespace = records[0]
            .spec
            .owner
            .as_ref()
            .map(|o| o.namespace.clone())
            .unwrap_or_default();
        let iam = match crate::reconcile::observe::iam_of_binding(
            ctx,
            &records[0].spec.identity,
            &namespace,
        )
        .await
        {
            Ok(iam) => iam,
            Err(error) => {
                warn!(%error, "could not read the identity unanswered Creates were sent through");
                continue;
            }
        };
        let listed = match iam.list(&records[0].spec.user_name, service).await {
            Ok(listed) => listed,
            Err(error) => {
                warn!(%error, user = %records[0].spec.user_name, %service,
                    "could not list the credentials unanswered Creates may have made");
                continue;
            }
        };
        let found = unexplained(&listed, &held, &unknown);
        for c in &found {
            seen_unexplained.push(c.id.clone());
            state
                .unexplained_since
                .entry(c.id.clone())
                .or_insert_with(Instant::now);
        }
        // Decided only on what stayed unexplained for a while: a Create answered a moment ago
        // is recorded within that.
        if found
            .iter()
            .any(|c| state.unexplained_since[&c.id].elapsed() < ctx.config.sweep.settle)
        {
            continue;
        }
        match settle(&found, unknown.len()) {
            Settlement::Nothing => {}
            Settlement::Remove(ids) if may_manage(ctx, &records, user).await.unwrap_or(false) => {
                if let Err(error) =
                    remove_late(ctx, iam.as_ref(), &records, service, &found, &unknown).await
                {
                    warn!(%error, credential_ids = %ids.join(", "),
                        "could not remove what unanswered Creates made; trying again at the next round");
                }
            }
            Settlement::Remove(ids) | Settlement::Unclaimed(ids) => {
                let new: Vec<String> = ids
                    .into_iter()
                    .filter(|id| state.told.insert(id.clone()))
                    .collect();
                if new.is_empty() {
                    continue;
                }
                ctx.observer.unclaimed(new.len());
                warn!(credential_ids = %new.join(", "), user = %records[0].spec.user_name, %service,
                    "credentials appeared while a Create's outcome was unknown and nobody holds them; they may be someone else's and are left alone");
                for record in &records {
                    tell_unclaimed(ctx, record, &new).await;
                }
            }
        }
    }
    state
        .unexplained_since
        .retain(|id, _| seen_unexplained.contains(id));
    state.told.retain(|id| seen_unexplained.contains(id));
}

/// Deletes `found` (credentials only unanswered Creates can have made) and drops from the
/// records the Creates that made them.
pub(super) async fn remove_late(
    ctx: &Context,
    iam: &dyn crate::iam::Iam,
    records: &[&CredentialRecord],
    service: &str,
    found: &[&CredentialMetadata],
    unknown: &[UnknownCreate],
) -> Result<(), Error> {
    let user = &records[0].spec.user_name;
    for credential in found {
        let id = &credential.id;
        match iam.delete(user, id).await {
            Ok(()) | Err(IamError::CredentialNotFound { .. }) => {
                info!(credential_id = %id, %user, %service,
                    "removed a credential made by a Create whose answer never came (nobody holds its password)");
                ctx.observer.swept("late_create");
            }
            Err(error) => return Err(error.into()),
        }
    }
    let settled = matched_creates(found, unknown);
    for record in records {
        close_unknown_creates(ctx, record, &settled).await?;
    }
    Ok(())
}

/// The unanswered Creates that made `found`: for each credential, oldest first, the latest
/// Create not yet matched that was announced before it was made.
pub(crate) fn matched_creates(
    found: &[&CredentialMetadata],
    unknown: &[UnknownCreate],
) -> Vec<UnknownCreate> {
    let skew = jiff::SignedDuration::try_from(ADOPTION_SKEW).unwrap_or_default();
    let mut credentials: Vec<&&CredentialMetadata> = found.iter().collect();
    credentials.sort_by_key(|c| c.create_date);
    let mut left: Vec<&UnknownCreate> = unknown.iter().collect();
    left.sort_by_key(|u| u.requested_at.0);
    let mut matched = Vec::new();
    for credential in credentials {
        let made_by = left.iter().rposition(|u| {
            u.requested_at
                .0
                .checked_sub(skew)
                .unwrap_or(u.requested_at.0)
                <= credential.create_date
                && !u.credentials_before.contains(&credential.id)
        });
        if let Some(i) = made_by {
            matched.push(left.remove(i).clone());
        }
    }
    matched
}

/// The user, service and AWS account of a record's credentials (`ambient`: the operator's own
/// account, where known): one IAM user is one user whichever identity reaches it.
pub(super) fn user_service(
    record: &CredentialRecord,
    ambient: Option<&str>,
) -> (String, String, String) {
    let identity = &record.spec.identity;
    let account = identity
        .account_id
        .as_deref()
        .or(identity.name.is_none().then_some(ambient).flatten())
        .unwrap_or_default();
    (
        record.spec.user_name.to_lowercase(),
        record.spec.service_name.clone(),
        account.to_string(),
    )
}

/// Whether every owning namespace may still use `user` (tenancy, read now).
pub(super) async fn may_manage(
    ctx: &Context,
    records: &[&CredentialRecord],
    user: &str,
) -> Result<bool, Error> {
    for record in records {
        let Some(owner) = &record.spec.owner else {
            return Ok(false);
        };
        let ns = Api::<Namespace>::all(ctx.client.clone())
            .get_opt(&owner.namespace)
            .await
            .map_err(|source| Error::ReadNamespace { source })?;
        let annotation = ns
            .as_ref()
            .and_then(|n| n.annotations().get(ALLOWED_USERS_ANNOTATION).cloned());
        if tenancy::check_user(
            ctx.config.policy,
            &owner.namespace,
            annotation.as_deref(),
            user,
        )
        .is_err()
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Drops the `settled` unanswered Creates from `record` (those it holds).
pub(super) async fn close_unknown_creates(
    ctx: &Context,
    record: &CredentialRecord,
    settled: &[UnknownCreate],
) -> Result<(), Error> {
    ctx.records.forget(&record.name_any());
    let mut next = record.clone();
    next.spec.unknown_creates.retain(|c| !settled.contains(c));
    if next.spec.unknown_creates.len() == record.spec.unknown_creates.len() {
        return Ok(());
    }
    let written = Api::<CredentialRecord>::all(ctx.client.clone())
        .replace(&record.name_any(), &PostParams::default(), &next)
        .await;
    // A pass may have read it meanwhile: what it remembered is old now.
    ctx.records.forget(&record.name_any());
    match written {
        Ok(_) => Ok(()),
        // Moved on meanwhile: the next round looks again, and finds nothing unexplained for
        // what was removed.
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(()),
        Err(e) => Err(Error::WriteRecord { source: e }),
    }
}
