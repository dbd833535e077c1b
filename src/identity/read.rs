//! Reads IAMIdentities from the API server as they are now: one and the sources its chain names.

use std::collections::HashMap;

use kube::api::Api;

use super::api::{IAMIdentity, IAMIdentitySpec};
use super::resolve::MAX_CHAIN;

/// The IAMIdentity `first` and the sources its chain names, following `sourceIdentityRef` until
/// a loop, a missing one, or [`MAX_CHAIN`] read (all [`super::resolve::chain`] looks at).
/// `None`: not found.
pub(crate) async fn chain_specs(
    api: &Api<IAMIdentity>,
    first: Option<String>,
) -> Result<HashMap<String, Option<IAMIdentitySpec>>, kube::Error> {
    let mut known = HashMap::new();
    let mut next = first;
    while let Some(current) = next.take() {
        if known.contains_key(&current) || known.len() >= MAX_CHAIN {
            break;
        }
        let spec = api.get_opt(&current).await?.map(|i| i.spec);
        next = spec
            .as_ref()
            .and_then(|s| s.source_identity_ref.as_ref())
            .map(|r| r.name.clone());
        known.insert(current, spec);
    }
    Ok(known)
}
