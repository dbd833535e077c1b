//! One pass over a resource: its seat, the finalizer, apply or cleanup, and what a failure
//! makes it wait.

use kube::api::{Patch, PatchParams};

use super::*;

pub(super) async fn reconcile(
    cached: Arc<CachedCredential>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = cached.namespace().ok_or(Error::NoNamespace)?;
    if let Some(wait) = ctx.tracked.waiting(cached.as_ref()) {
        // Woken by something other than the user (our own status write, a resync): the backoff
        // holds.
        tracing::trace!(?wait, "backing off");
        return Ok(Action::requeue(wait));
    }
    let class = class::pass_class(cached.class_facts(), ctx.clock.now());
    let flow = ctx.flows.of(&namespace);
    let _seat = match ctx.seats.admit(&flow, class).await {
        crate::fair::Admission::Seated(seat) => seat,
        crate::fair::Admission::Later(after) => {
            tracing::trace!(
                ?after,
                "the namespace has enough passes waiting; coming back"
            );
            return Ok(Action::requeue(after));
        }
    };
    ctx.prune_departed();
    // Boxed: a pass waiting for its seat holds only the few bytes above and the cache's copy.
    Box::pin(async move {
        let (resource, cached) = match read_back(cached, &ctx, &namespace).await? {
            ReadBack::Whole(resource, cached) => (resource, cached),
            ReadBack::SpecUnreadable(current) => {
                return unreadable_spec(*current, &ctx, &namespace).await;
            }
        };
        crate::iam::tagged(
            CallTag { flow, class },
            run_pass(resource, cached, ctx, namespace),
        )
        .await
    })
    .await
}

/// What a pass reads the resource as.
pub(super) enum ReadBack {
    /// Whole, with the cache's copy of it.
    Whole(Arc<ServiceSpecificCredential>, Arc<CachedCredential>),
    /// The API server's copy, whose spec this version cannot read (see [`unreadable_spec`]).
    SpecUnreadable(Box<kube::api::DynamicObject>),
}

/// The cached copy whole; should it not read back, the resource as the API server has it (read
/// as the cache reads it: a status the types cannot read dropped), and a copy made of that.
pub(super) async fn read_back(
    cached: Arc<CachedCredential>,
    ctx: &Context,
    namespace: &str,
) -> Result<ReadBack, Error> {
    let error = match cached.expand() {
        Ok(resource) => return Ok(ReadBack::Whole(Arc::new(resource), cached)),
        Err(error) => error,
    };
    // Where, not what: the message could quote a tenant's text.
    warn!(
        category = ?error.classify(),
        column = error.column(),
        "the cached copy did not read back; reading the resource from the API server"
    );
    let kind = kube::api::ApiResource::erase::<ServiceSpecificCredential>(&());
    let untyped =
        Api::<kube::api::DynamicObject>::namespaced_with(ctx.client.clone(), namespace, &kind)
            .get(&cached.name_any())
            .await
            .map_err(|source| Error::ReadResource { source })?;
    match serde_json::to_value(&untyped)
        .ok()
        .and_then(|value| cache::read_resource(value).ok())
    {
        Some(resource) => {
            let copy = Arc::new(CachedCredential::from(resource.clone()));
            Ok(ReadBack::Whole(Arc::new(resource), copy))
        }
        None => Ok(ReadBack::SpecUnreadable(Box::new(untyped))),
    }
}

/// A spec this version cannot read: the CRD is newer than this replica (an upgrade rolling out,
/// e.g. a rotation strategy it does not know). Nothing is decided on it and IAM is not called.
/// Deleted, the finalizer is let go (the record's credentials are the sweep's once the resource
/// is gone) unless [`finalizer_may_go`] says otherwise. Otherwise the resource reports
/// InvalidSpec, once per generation.
async fn unreadable_spec(
    current: kube::api::DynamicObject,
    ctx: &Context,
    namespace: &str,
) -> Result<Action, Error> {
    // The server's copy, untyped: what of it this version can still read.
    let name = current.name_any();
    let api = Api::<CachedCredential>::namespaced(ctx.client.clone(), namespace);
    let generation = current.metadata.generation;
    if current.metadata.deletion_timestamp.is_some() {
        let finalizers = current.metadata.finalizers.clone().unwrap_or_default();
        if !finalizers.iter().any(|f| f == FINALIZER) {
            return Ok(Action::await_change());
        }
        let record = Api::<crate::record::CredentialRecord>::all(ctx.client.clone())
            .get_opt(&crate::record::record_name(
                &current.metadata.uid.clone().unwrap_or_default(),
            ))
            .await
            .map_err(|source| Error::ReadRecord { source })?;
        let status = &current.data["status"];
        let facts = UnreadableFacts {
            spec_retains: current.data["spec"]["deletionPolicy"] == "Retain",
            record: record.as_ref().map(|r| {
                (
                    r.spec.deletion_policy == crate::api::DeletionPolicy::Retain,
                    !r.spec.holding.is_empty(),
                )
            }),
            status_names_credentials: ["credentialId", "retiringCredentialId"]
                .iter()
                .any(|field| status[field].is_string()),
        };
        if !finalizer_may_go(&facts) {
            warn!(
                "the spec does not read as this version reads it, and what it holds is retained or recorded in status only: deletion waits for a replica that reads it"
            );
            return Ok(Action::await_change());
        }
        let rest: Vec<&String> = finalizers.iter().filter(|f| *f != FINALIZER).collect();
        let patch = serde_json::json!({"metadata": {
            "finalizers": rest,
            "resourceVersion": current.metadata.resource_version,
        }});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| Error::WriteResource { source })?;
        info!(
            "the spec does not read as this version reads it: the finalizer is let go, and the sweep removes the record's credentials once the resource is gone"
        );
        return Ok(Action::await_change());
    }
    // Said once per generation: this write wakes the resource again, and must not again.
    let previous = current.data["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| serde_json::from_value::<crate::api::Condition>(c.clone()).ok());
    if previous.as_ref().is_some_and(|c| {
        c.reason == Reason::InvalidSpec.as_str() && c.observed_generation == generation
    }) {
        return Ok(Action::await_change());
    }
    let message = "the spec does not read as this version of the operator reads it (is the CRD newer than the operator?); nothing is done until it does".to_string();
    let condition = conditions::ready_condition(
        previous.as_ref(),
        Reason::InvalidSpec,
        message,
        generation,
        ctx.clock.now(),
    );
    // The condition names the generation it is about; status.observedGeneration stays at the
    // last spec the operator decided on.
    let patch = serde_json::json!({"status": {"conditions": [condition]}});
    act::patch_status(&api, &name, &patch).await?;
    warn!("the spec does not read as this version reads it: reported as InvalidSpec");
    Ok(Action::await_change())
}

/// What a deleted resource with an unreadable spec is let go on.
#[derive(Debug, Clone, Copy)]
pub(super) struct UnreadableFacts {
    /// The spec (read untyped) asks for Retain.
    pub(super) spec_retains: bool,
    /// The record: (its policy is Retain, it holds something).
    pub(super) record: Option<(bool, bool)>,
    /// Status names a credential id (a resource older than the records has its ownership
    /// there until a replica that reads it takes it into a record).
    pub(super) status_names_credentials: bool,
}

/// Whether the finalizer may go, leaving what the record holds to the sweep. Not while
/// credentials are held and either the record or the spec says Retain (releasing their Secret
/// needs the spec), nor without a record while status names credentials (the sweep works from
/// records only).
pub(super) fn finalizer_may_go(facts: &UnreadableFacts) -> bool {
    match facts.record {
        Some((record_retains, holds)) => !(holds && (record_retains || facts.spec_retains)),
        None => !facts.status_names_credentials,
    }
}

/// One pass, once seated. The finalizer is kept through the cache's type, whose reading of the
/// API server's answers drops a status a tenant made unreadable.
pub(super) async fn run_pass(
    resource: Arc<ServiceSpecificCredential>,
    cached: Arc<CachedCredential>,
    ctx: Arc<Context>,
    namespace: String,
) -> Result<Action, Error> {
    let api = Api::<CachedCredential>::namespaced(ctx.client.clone(), &namespace);
    let started = std::time::Instant::now();
    let oref = ObjectRef::from_obj(resource.as_ref());
    let reported = Mutex::new(None);
    let (pass_resource, pass_ctx, pass_reported) = (&resource, &ctx, &reported);
    let result = finalizer(&api, FINALIZER, cached, |event| async move {
        let (action, reason) = match event {
            FinalizerEvent::Apply(_) => apply(pass_resource, pass_ctx).await?,
            FinalizerEvent::Cleanup(_) => cleanup(pass_resource, pass_ctx).await?,
        };
        *pass_reported.lock().expect("reason lock") = Some(reason);
        Ok(action)
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    let reason = reported.lock().expect("reason lock").take();
    match (&result, reason) {
        (Ok(_), Some(reason)) => ctx
            .observer
            .reconciled(&oref, Ok(reason), started.elapsed()),
        (Ok(_), None) => {}
        (Err(error), _) => ctx
            .observer
            .reconciled(&oref, Err(error), started.elapsed()),
    }
    result
}

/// Wrapper so the finalizer helper can carry the reason out.
pub(super) type Applied = (Action, Reason);

pub(super) async fn apply(
    resource: &ServiceSpecificCredential,
    ctx: &Context,
) -> Result<Applied, Error> {
    let uid = resource.uid().unwrap_or_default();
    if ctx
        .tracked
        .trails_own_write(&uid, resource.metadata.resource_version.as_deref())
    {
        // A cached copy from before our last status write: nothing decided on it would stand
        // (the write fence would refuse it), and it would cost requests to find out.
        tracing::debug!("the cached copy trails our own status write; looking again shortly");
        return Ok((Action::requeue(STALE_COPY_RETRY), current_reason(resource)));
    }
    let mut snapshot = observe::observe_kubernetes(ctx, resource).await?;
    if snapshot.moving {
        // The credentials were minted through another identity than the one named now: they are
        // retired through theirs before anything is minted through the new one.
        let _held = ctx.iam_pass(resource).await;
        return act::retire_for_move(ctx, &snapshot).await;
    }
    // List → decide → Create/adopt → status, one pass at a time per (user, service): no two
    // resources of this process decide on the same listing.
    let lists_iam = plan::gate(&snapshot.observed).is_none()
        || plan::revocation_needs_list(&snapshot.observed)
        || snapshot.migrating;
    let _held = if lists_iam {
        let held = ctx.iam_pass(resource).await;
        // What status says is taken into the record only on IAM's answer of now.
        let freshness = if snapshot.migrating {
            observe::Freshness::Exact
        } else {
            observe::Freshness::Recent
        };
        observe::observe_iam(ctx, &mut snapshot, freshness).await;
        Some(held)
    } else {
        None
    };
    if !snapshot.settle_ownership() {
        info!(
            retry_in = ?MIGRATION_RETRY,
            "waiting for an exact IAM listing and complete claims before taking the status of a resource older than the records into its record"
        );
        return Ok((Action::requeue(MIGRATION_RETRY), current_reason(resource)));
    }
    let plan = match plan::plan(&snapshot.observed) {
        Ok(plan) => plan,
        Err(plan::NeedsExactListing(decision)) => {
            tracing::debug!(
                ?decision,
                "decided from a service snapshot; listing the user to confirm"
            );
            observe::observe_iam(ctx, &mut snapshot, observe::Freshness::Exact).await;
            plan::plan_listed_exactly(&snapshot.observed)
        }
    };
    let script = match plan {
        plan::Plan::Act(script) => script,
        plan::Plan::Wait { after, why } => {
            // With shards, the claims of every shard were read (`observe_iam`).
            info!(retry_in = ?after, "waiting: {why}");
            return Ok((Action::requeue(after), current_reason(resource)));
        }
    };
    tracing::debug!(steps = ?script.steps, "planned");
    if script.repairs_secret {
        if let Some(wait) = ctx.tracked.repairs(&uid).wait_at(ctx.clock.now()) {
            defer_repair(ctx, resource, wait).await;
            return Ok((Action::requeue(wait), current_reason(resource)));
        }
        // Counted when tried, not when done: a Secret the API server keeps refusing backs off too.
        ctx.tracked.note_repair(&uid, ctx.clock.now());
    }
    let wake_at = script.wake_at;
    let class = script.class;
    let outcome = crate::iam::as_class(class, act::act(ctx, &snapshot, script)).await?;

    let attempt = ctx.attempt(&uid, outcome.reason);
    let mut after = outcome
        .reason
        .retry_after(attempt, ctx.config.resync, jitter());
    ctx.hold_off(
        resource,
        after.filter(|_| !outcome.reason.is_ready() && outcome.reason != Reason::Creating),
    );
    // Retirements, rotations and expiries happen on time, not at the next resync.
    if let Some(at) = wake_at {
        let until = at.duration_since(ctx.clock.now());
        let until =
            Duration::try_from(until).unwrap_or(Duration::ZERO) + Duration::from_millis(100);
        after = Some(after.map_or(until, |a| a.min(until)));
    }
    let action = after.map_or_else(Action::await_change, Action::requeue);
    Ok((action, outcome.reason))
}

/// A repair of the resource's Secret waits `wait` (see `repair`); the first pass that waits
/// for each repair says so in an Event.
pub(super) async fn defer_repair(
    ctx: &Context,
    resource: &ServiceSpecificCredential,
    wait: Duration,
) {
    let uid = resource.uid().unwrap_or_default();
    info!(retry_in = ?wait, "the Secret keeps being removed or edited; the next repair waits");
    if ctx.tracked.tell_repair_deferred(&uid) {
        let repairs = ctx.tracked.repairs(&uid).count;
        act::publish_warning(
            ctx,
            resource,
            "RepairBackoff",
            "ResetCredential",
            format!(
                "Secret {} keeps being removed or edited: repaired {repairs} times in a row, each with a new secret (an IAM write); the next repair waits {}s",
                resource.secret_name(),
                wait.as_secs().max(1)
            ),
        )
        .await;
    }
}

/// How soon a resource older than the records is looked at again when its status could not be
/// taken into its record yet (IAM or the claims could not be read).
pub(super) const MIGRATION_RETRY: Duration = Duration::from_secs(10);

/// How soon a pass that saw a copy trailing our own write looks again.
pub(super) const STALE_COPY_RETRY: Duration = Duration::from_millis(200);

/// The reason the resource reports now (for a pass that changes nothing).
pub(super) fn current_reason(resource: &ServiceSpecificCredential) -> Reason {
    resource
        .ready_condition()
        .and_then(|c| Reason::from_name(&c.reason))
        .unwrap_or(Reason::Creating)
}

pub(super) async fn cleanup(
    resource: &ServiceSpecificCredential,
    ctx: &Context,
) -> Result<Applied, Error> {
    let mut snapshot = observe::observe_kubernetes(ctx, resource).await?;
    // Held through the deletes: an orphan is only this resource's if no other pass is recording it.
    let _held = ctx.iam_pass(resource).await;
    if plan::cleanup_needs_list(&snapshot.observed) {
        observe::observe_iam(ctx, &mut snapshot, observe::Freshness::Exact).await;
    }
    let script = match plan::plan_cleanup(&snapshot.observed)? {
        plan::Plan::Act(script) => script,
        plan::Plan::Wait { after, why } => {
            info!(retry_in = ?after, "waiting: {why}");
            return Ok((Action::requeue(after), Reason::Deleting));
        }
    };
    act::act(ctx, &snapshot, script).await?;
    // Done: the credentials are deleted or released, and the record with them.
    act::forget_record(ctx, &snapshot).await?;
    if let Some(uid) = resource.uid() {
        ctx.tracked.forget(&uid);
    }
    ctx.observer.forget(&ObjectRef::from_obj(resource));
    Ok((Action::await_change(), Reason::Deleting))
}

pub(super) fn error_policy(
    resource: Arc<CachedCredential>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    let uid = resource.uid().unwrap_or_default();
    let category = error.category();
    let attempt = ctx.tracked.attempt(&uid, category);
    let after = category
        .retry_after(attempt, ctx.config.resync, jitter())
        .unwrap_or(Duration::from_secs(30));
    match category {
        failure::Category::Reported(Reason::SecretConflict) => {
            warn!(retry_in = ?after, "a Secret of that name was created by someone else while writing it");
            return Action::requeue(after);
        }
        failure::Category::Conflict => {
            tracing::info!(
                retry_in = ?after,
                "resource changed while reconciling; retrying with the newer version"
            );
            return Action::requeue(after);
        }
        _ => {}
    }
    warn!(error = %error, retry_in = ?after, "reconcile failed");
    ctx.hold_off(resource.as_ref(), Some(after));
    Action::requeue(after)
}

#[cfg(test)]
mod tests {
    use super::{UnreadableFacts, finalizer_may_go};

    #[test]
    fn an_unreadable_spec_lets_the_finalizer_go_only_where_the_sweep_can_finish_the_job() {
        let facts = |spec_retains, record, status_names_credentials| UnreadableFacts {
            spec_retains,
            record,
            status_names_credentials,
        };
        // Delete, held: the sweep deletes what the record holds.
        assert!(finalizer_may_go(&facts(false, Some((false, true)), true)));
        // Retain in the record or in the spec, held: the Secret's release needs the spec.
        assert!(!finalizer_may_go(&facts(false, Some((true, true)), true)));
        assert!(!finalizer_may_go(&facts(true, Some((false, true)), true)));
        // Nothing held: nothing to release.
        assert!(finalizer_may_go(&facts(true, Some((true, false)), false)));
        // No record: only what status names, which the sweep does not read.
        assert!(!finalizer_may_go(&facts(false, None, true)));
        assert!(finalizer_may_go(&facts(false, None, false)));
    }
}
