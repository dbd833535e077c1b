//! Wildcard patterns (`*`, `?`), policy variables (`${aws:username}`), and ARN matching part by part.

use super::context::{ContextKeys, single_value};

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// A character that must be present as is.
    Literal(char),
    /// A `:` written in the pattern itself (not produced by a variable): separates ARN parts.
    Colon,
    /// `*`: any run of characters, also empty.
    AnyRun,
    /// `?`: exactly one character.
    AnyOne,
}

impl Token {
    /// The character the token was written as (`*` and `?` are literal in `StringEquals`).
    pub(crate) fn as_literal(self) -> char {
        match self {
            Self::Literal(c) => c,
            Self::Colon => ':',
            Self::AnyRun => '*',
            Self::AnyOne => '?',
        }
    }
}

/// Compiles `pattern` into tokens. With `vars`, policy variables are replaced by their values,
/// which (like `${*}`, `${?}`, `${$}`) match literally; `None` when a variable has no value and
/// no default (the pattern then matches nothing). Without `vars` (a `2008-10-17` policy, or an
/// element without variables) `${…}` is plain text.
pub(crate) fn compile(pattern: &str, vars: Option<&ContextKeys>) -> Option<Vec<Token>> {
    let mut tokens = Vec::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if let (Some(keys), true) = (vars, rest.starts_with("${"))
            && let Some(end) = rest.find('}')
        {
            let value = resolve(&rest[2..end], keys)?;
            tokens.extend(value.chars().map(Token::Literal));
            rest = &rest[end + 1..];
            continue;
        }
        tokens.push(match c {
            '*' => Token::AnyRun,
            '?' => Token::AnyOne,
            ':' => Token::Colon,
            c => Token::Literal(c),
        });
        rest = &rest[c.len_utf8()..];
    }
    Some(tokens)
}

/// The value of the variable `${body}`: `*`, `?`, `$`, or a context key, optionally followed by
/// `, 'default'` (used when the key is absent).
fn resolve(body: &str, keys: &ContextKeys) -> Option<String> {
    match body.trim() {
        "*" => return Some("*".into()),
        "?" => return Some("?".into()),
        "$" => return Some("$".into()),
        _ => {}
    }
    let (name, default) = match body.split_once(',') {
        Some((name, default)) => {
            let default = default.trim();
            let default = default.strip_prefix('\'')?.strip_suffix('\'')?;
            (name.trim(), Some(default))
        }
        None => (body.trim(), None),
    };
    single_value(keys, name).or(default).map(str::to_owned)
}

/// Whether `text` matches the whole of `pattern` (a [`Token::Colon`] matches `:`). Iterative with
/// backtracking to the last `*`: O(len(text) × len(pattern)) at worst, no recursion.
pub(crate) fn glob(pattern: &[Token], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::AnyRun) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Token::AnyOne) => {
                t += 1;
                p += 1;
            }
            Some(Token::Literal(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Token::Colon) if text[t] == ':' => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|token| *token == Token::AnyRun)
}

/// Whether `text` matches the wildcard pattern `pattern` (no variables).
pub(crate) fn glob_str(pattern: &str, text: &str) -> bool {
    compile(pattern, None).is_some_and(|tokens| glob(&tokens, text))
}

/// Whether an action pattern (`iam:*ServiceSpecificCredential*`, `*`) matches `action`: case-insensitive.
pub(crate) fn action_matches(pattern: &str, action: &str) -> bool {
    glob_str(&pattern.to_lowercase(), &action.to_lowercase())
}

/// Whether the ARN pattern `pattern` matches `arn`: `*` matches everything; otherwise both have six
/// `:`-separated parts (the last may contain `:` and `/`) and each part matches on its own, so a
/// wildcard never reaches into the next part. Case-sensitive.
pub(crate) fn arn_matches(pattern: &str, arn: &str, vars: Option<&ContextKeys>) -> bool {
    if pattern == "*" {
        return true;
    }
    let Some(tokens) = compile(pattern, vars) else {
        return false;
    };
    let Some(text_parts) = split_arn(arn) else {
        return false;
    };
    let mut parts = tokens.splitn(6, |token| *token == Token::Colon);
    text_parts
        .iter()
        .all(|text| parts.next().is_some_and(|part| glob(part, text)))
        && parts.next().is_none()
}

/// The six parts of an ARN (`arn`, partition, service, region, account, resource), or `None` when
/// it has fewer.
pub(crate) fn split_arn(arn: &str) -> Option<[&str; 6]> {
    let mut parts = arn.splitn(6, ':');
    let mut out = [""; 6];
    for slot in &mut out {
        *slot = parts.next()?;
    }
    Some(out)
}
