//! `--shard-selector` and `--ambient-identity` selectors, read by the workspace's one
//! label-selector parser (`label-selector`: kube-apiserver's lexer, rules and messages), so that
//! a bad selector fails the start with the API server's own reason instead of every watch.

pub(crate) use label_selector::Selector;

/// `Ok` when `selector` is a valid, non-empty label selector.
pub(crate) fn check(selector: &str) -> Result<(), String> {
    parse(selector).map(|_| ())
}

/// The label keys a selector that passed [`check`] reads, once each.
pub(crate) fn keys(selector: &str) -> Vec<String> {
    label_selector::parse(selector)
        .map(|s| s.keys())
        .unwrap_or_default()
}

/// A valid, non-empty label selector.
pub(crate) fn parse(selector: &str) -> Result<Selector, String> {
    let parsed = label_selector::parse(selector)?;
    if parsed.is_empty() {
        return Err("empty (it would select every resource)".into());
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests;
