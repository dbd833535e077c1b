//! Checks a label selector's syntax as kube-apiserver parses it (`k8s.io/apimachinery/pkg/labels`),
//! so that a bad `--shard-selector` fails the start with a message instead of every watch.
//! (kube-core builds selectors but does not parse them.)

/// `Ok` when `selector` is a valid, non-empty label selector.
pub(crate) fn check(selector: &str) -> Result<(), String> {
    if selector.trim().is_empty() {
        return Err("empty (it would select every resource)".into());
    }
    for requirement in split_requirements(selector)? {
        check_requirement(requirement.trim())?;
    }
    Ok(())
}

/// The label keys a selector that passed [`check`] reads, once each.
pub(crate) fn keys(selector: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for requirement in split_requirements(selector).unwrap_or_default() {
        let key = requirement_key(requirement.trim()).to_string();
        if !key.is_empty() && !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// Parses a selector that [`check`] accepts into kube's [`Selector`], which matches labels.
pub(crate) fn parse(selector: &str) -> Result<kube::core::Selector, String> {
    use kube::core::Expression;
    check(selector)?;
    let mut expressions = Vec::new();
    for requirement in split_requirements(selector)? {
        let requirement = requirement.trim();
        let set = |values: &str| -> std::collections::BTreeSet<String> {
            values
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(|v| v.trim().to_string())
                .collect()
        };
        let expression = if let Some(key) = requirement.strip_prefix('!') {
            Expression::DoesNotExist(key.trim().into())
        } else if let Some((key, value)) = requirement.split_once("!=") {
            Expression::NotEqual(key.trim().into(), value.trim().into())
        } else if let Some((key, value)) = requirement
            .split_once("==")
            .or_else(|| requirement.split_once('='))
        {
            Expression::Equal(key.trim().into(), value.trim().into())
        } else if let Some((key, values)) = set_requirement(requirement, "notin") {
            Expression::NotIn(key.into(), set(values))
        } else if let Some((key, values)) = set_requirement(requirement, "in") {
            Expression::In(key.into(), set(values))
        } else {
            Expression::Exists(requirement.into())
        };
        expressions.push(expression);
    }
    Ok(expressions.into_iter().collect())
}

/// The key of one requirement, read as [`check_requirement`] reads it.
fn requirement_key(requirement: &str) -> &str {
    if let Some(key) = requirement.strip_prefix('!') {
        return key.trim();
    }
    for operator in ["!=", "==", "="] {
        if let Some((key, _)) = requirement.split_once(operator) {
            return key.trim();
        }
    }
    for operator in ["notin", "in"] {
        if let Some((key, _)) = set_requirement(requirement, operator) {
            return key;
        }
    }
    requirement
}

/// Splits on the commas that are not inside a `( … )` value set.
fn split_requirements(selector: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in selector.char_indices() {
        match c {
            '(' if depth == 0 => depth = 1,
            '(' => return Err("nested parentheses".into()),
            ')' if depth == 1 => depth = 0,
            ')' => return Err("unbalanced ')'".into()),
            ',' if depth == 0 => {
                parts.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".into());
    }
    parts.push(&selector[start..]);
    Ok(parts)
}

fn check_requirement(requirement: &str) -> Result<(), String> {
    if requirement.is_empty() {
        return Err("an empty requirement (two commas?)".into());
    }
    if let Some(key) = requirement.strip_prefix('!') {
        return check_key(key.trim());
    }
    for operator in ["!=", "==", "="] {
        if let Some((key, value)) = requirement.split_once(operator) {
            check_key(key.trim())?;
            return check_value(value.trim());
        }
    }
    for operator in ["notin", "in"] {
        if let Some((key, values)) = set_requirement(requirement, operator) {
            check_key(key)?;
            let values = values
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(|| format!("{requirement:?}: the values of {operator} go in ( … )"))?;
            if values.trim().is_empty() {
                return Err(format!(
                    "{requirement:?}: {operator} needs at least one value"
                ));
            }
            for value in values.split(',') {
                check_value(value.trim())?;
            }
            return Ok(());
        }
    }
    check_key(requirement)
}

/// `key <operator> (…)`, the key and the rest from `(` on, when `requirement` has that shape
/// (whitespace before the operator, optional after it).
fn set_requirement<'a>(requirement: &'a str, operator: &str) -> Option<(&'a str, &'a str)> {
    let mut from = 0;
    while let Some(found) = requirement[from..].find(operator) {
        let at = from + found;
        let before = &requirement[..at];
        let after = requirement[at + operator.len()..].trim_start();
        if before.ends_with(char::is_whitespace) && after.starts_with('(') {
            return Some((before.trim(), after.trim_end()));
        }
        from = at + operator.len();
    }
    None
}

/// `[prefix/]name`: prefix a DNS subdomain of at most 253, name at most 63 of `[A-Za-z0-9_.-]`
/// starting and ending alphanumeric.
fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let valid = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !valid {
            return Err(format!("{key:?}: the prefix must be a DNS subdomain"));
        }
    }
    if name.is_empty() || !is_label_token(name) {
        return Err(format!(
            "{key:?}: a key is at most 63 of letters, digits, '-', '_', '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_token(value) {
        Ok(())
    } else {
        Err(format!(
            "{value:?}: a value is at most 63 of letters, digits, '-', '_', '.', starting and ending with a letter or digit"
        ))
    }
}

fn is_label_token(token: &str) -> bool {
    let bytes = token.as_bytes();
    token.len() <= 63
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::{check, keys, parse};

    #[test]
    fn parsed_selectors_match_labels_as_kube_apiserver_does() {
        use kube::core::SelectorExt;
        let labels: std::collections::BTreeMap<String, String> = [
            ("team".to_string(), "a".to_string()),
            ("tier".to_string(), "prod".to_string()),
        ]
        .into();
        let matches = |s: &str| parse(s).unwrap().matches(&labels);
        assert!(matches("team=a"));
        assert!(matches("team==a,tier"));
        assert!(matches("team in (a, b),!missing"));
        assert!(matches("tier notin (dev)"));
        assert!(!matches("team!=a"));
        assert!(!matches("team=b"));
        assert!(!matches("missing"));
        assert!(!matches("team notin (a)"));
        assert!(parse("").is_err());
        assert!(parse("a in ()").is_err());
    }

    #[test]
    fn keys_are_read_from_every_kind_of_requirement() {
        for (selector, expected) in [
            ("ssc-operator.dev/shard=a", vec!["ssc-operator.dev/shard"]),
            ("shard==a", vec!["shard"]),
            ("shard != b", vec!["shard"]),
            ("shard", vec!["shard"]),
            ("!shard", vec!["shard"]),
            ("shard in (a, b)", vec!["shard"]),
            ("shard notin (c),tier=gold", vec!["shard", "tier"]),
            ("shard in(a,b),shard!=c", vec!["shard"]),
            ("shard\tin (a)", vec!["shard"]),
            ("team=", vec!["team"]),
        ] {
            assert_eq!(keys(selector), expected, "{selector}");
        }
    }

    #[test]
    fn selectors_kube_apiserver_accepts_pass() {
        for ok in [
            "ssc-operator.dev/shard=a",
            "shard==a",
            "shard!=b",
            "shard",
            "!shard",
            "shard in (a, b)",
            "shard notin (c),tier=gold",
            "shard in(a,b)",
            "shard\tin (a)",
            "team=",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn malformed_selectors_are_refused_with_a_reason() {
        for bad in [
            "",
            "shard=a,",
            "shard in (a",
            "shard in a,b",
            "-shard=a",
            "shard=a b",
            "Bad_Prefix/x=y",
            "shard=(a)",
            "shard in ()",
            "shard notin ( )",
        ] {
            assert!(check(bad).is_err(), "{bad:?} passed");
        }
    }
}
