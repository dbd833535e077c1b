//! Which AWS identity a pass acts through: the one the resource resolves to, or the one its
//! record's credentials were minted through.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;

use crate::api::ServiceSpecificCredential;
use crate::iam::Iam;
use crate::identity::api::{IAMIdentity, IAMIdentitySpec, IDENTITY_ANNOTATION};
use crate::identity::binding::Unreachable;
use crate::identity::{IdentityBinding, resolve};
use crate::reconcile::{Context, Error};
use crate::record::CredentialRecord;
use crate::tenancy::NotPermitted;

/// The identity a pass acts through.
pub(super) struct Acting {
    pub iam: Arc<dyn Iam>,
    /// As the record and status name it (`None`: no identity may be used).
    pub acting: Option<IdentityBinding>,
    /// The record holds credentials of another identity than the resource names now.
    pub moving: bool,
    /// The identity the resource resolves to now (`None`: refused).
    pub current: Option<IdentityBinding>,
}

/// The identity the resource names (or its namespace, or the ambient one), read now.
pub(super) async fn resolve_for(
    ctx: &Context,
    resource: &ServiceSpecificCredential,
    namespace: &str,
    ns: Option<&Namespace>,
) -> Result<Result<resolve::Resolved, NotPermitted>, Error> {
    let facts = resolve::NamespaceFacts {
        name: namespace,
        labels: ns.and_then(|n| n.metadata.labels.as_ref()),
        annotations: ns.and_then(|n| n.metadata.annotations.as_ref()),
    };
    let requested = resource
        .spec
        .identity_ref
        .as_ref()
        .map(|r| r.name.clone())
        .or_else(|| {
            facts
                .annotations
                .and_then(|a| a.get(IDENTITY_ANNOTATION))
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
        });
    let known = match &requested {
        Some(name) => read_identities(ctx, name).await?,
        None => HashMap::new(),
    };
    let lookup = |name: &str| known.get(name).cloned().flatten();
    Ok(resolve::resolve(
        requested.as_deref(),
        &facts,
        &resource.spec.user_name,
        &ctx.config.ambient,
        &lookup,
    ))
}

/// The identity this pass acts through: the record's while it holds anything minted through
/// another (retired, revoked or deleted through it), else the resolved one. `may_move`: the
/// resource may mint through its new identity (a move starts only then).
pub(super) async fn acting(
    ctx: &Context,
    record: Option<&CredentialRecord>,
    resolved: &Result<resolve::Resolved, NotPermitted>,
    may_move: bool,
    migrating: bool,
    namespace: &str,
) -> Result<Acting, Error> {
    let current = resolved
        .as_ref()
        .ok()
        .map(|r| IdentityBinding::of(r, ctx.directory.account(r)));
    let recorded = record
        .filter(|r| !r.spec.holding.is_empty() || !r.spec.unknown_creates.is_empty())
        .map(|r| r.spec.identity.clone());
    let (iam, acting, moving) = match (&recorded, resolved) {
        (Some(recorded), Ok(resolved))
            if current.as_ref().is_some_and(|c| c.same_identity(recorded)) =>
        {
            (
                ctx.directory.iam(resolved, namespace),
                current.clone(),
                false,
            )
        }
        // Held through another identity (or the resource may use none now): what is held is
        // retired, revoked or deleted through the identity that minted it.
        // A move starts only for a resource that may mint through its new identity: one the
        // namespace lost the right to is revoked (through the old one) instead.
        (Some(recorded), _) => (
            iam_of_binding(ctx, recorded, namespace).await?,
            Some(recorded.clone()),
            current.is_some() && may_move,
        ),
        // Older than the records: what its status says it holds was minted before identities,
        // through the operator's own. It is taken into the record as such (and moved from there
        // if the resource names another identity now).
        (None, _) if migrating => {
            let ambient = resolve::Resolved::Ambient;
            (
                ctx.directory.iam(&ambient, namespace),
                Some(IdentityBinding::of(
                    &ambient,
                    ctx.directory.account(&ambient),
                )),
                false,
            )
        }
        (None, Ok(resolved)) => (
            ctx.directory.iam(resolved, namespace),
            current.clone(),
            false,
        ),
        (None, Err(refused)) => (Unreachable::shared(refused.to_string()), None, false),
    };
    Ok(Acting {
        iam,
        acting,
        moving,
        current,
    })
}

/// The IAMIdentity `name` and the sources its chain names (`None`: not found).
async fn read_identities(
    ctx: &Context,
    name: &str,
) -> Result<HashMap<String, Option<IAMIdentitySpec>>, Error> {
    let api = Api::<IAMIdentity>::all(ctx.client.clone());
    crate::identity::read::chain_specs(&api, Some(name.to_string()))
        .await
        .map_err(|source| Error::ReadIdentities { source })
}

/// The IAM client of the identity a record names, for the resource's namespace: its namespace
/// rights are not asked again (the record proves the operator minted through it for this
/// resource). An identity that is gone or names another role gets a client that refuses every
/// call, so that nothing held is taken for done.
pub(crate) async fn iam_of_binding(
    ctx: &Context,
    binding: &IdentityBinding,
    namespace: &str,
) -> Result<Arc<dyn Iam>, Error> {
    let Some(name) = &binding.name else {
        return Ok(ctx.directory.iam(&resolve::Resolved::Ambient, namespace));
    };
    let known = read_identities(ctx, name).await?;
    let unreachable = |why: String| {
        Ok(Unreachable::shared(format!(
            "the credentials were minted through {}, which {why}: restore it to retire them",
            binding.describe()
        )))
    };
    let Some(spec) = known.get(name).cloned().flatten() else {
        return unreachable("no longer exists".into());
    };
    if binding.role_arn.as_deref() != Some(spec.role_arn.as_str()) {
        return unreachable(format!("now names role {}", spec.role_arn));
    }
    let lookup = |n: &str| known.get(n).cloned().flatten();
    match resolve::chain(name, spec, &lookup) {
        Ok(chain) => Ok(ctx
            .directory
            .iam(&resolve::Resolved::Role(chain), namespace)),
        Err(why) => unreachable(format!("cannot be used ({why})")),
    }
}
