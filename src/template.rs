//! The Secret template language: a small, bounded subset of minijinja that a tenant cannot turn
//! against the operator.
//!
//! A template is written by whoever may create resources in a namespace, and runs inside the
//! operator next to every tenant's passwords. So before it runs it is parsed and checked against
//! an allowlist: text, `{{ … }}` output and `{% if %}` blocks over the credential's variables,
//! string literals, comparisons, `~` concatenation and a few filters. Everything that can grow a
//! value without bound (`set`, loops, macros, `*`, `**`, ranges, lists) or reach outside the
//! template (`include`, `import`, `extends`, function calls) is refused by name. Our own filters
//! refuse outputs over [`MAX_RENDERED_VALUE`]; the output is written through a writer that stops
//! at the same limit; an instruction budget stops anything else. Errors carry the kind and the
//! line only — never the engine's text, which can quote values.
//!
//! minijinja's parser is reached through its `unstable_machinery` feature (the AST is the only
//! reliable way to allowlist syntax); the version is pinned in Cargo.toml for that reason.

use std::collections::BTreeMap;
use std::io;

use base64::Engine;
use minijinja::machinery::ast::{self, BinOpKind, CallArg, Expr, Stmt, UnaryOpKind};
use minijinja::machinery::{WhitespaceConfig, parse};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::ValueKind;

/// Templated keys per resource.
pub(crate) const MAX_TEMPLATE_KEYS: usize = 32;
/// Bytes of template source per key.
pub(crate) const MAX_TEMPLATE_SOURCE: usize = 8 * 1024;
/// Bytes one key may render to (and any value a filter may produce on the way).
pub const MAX_RENDERED_VALUE: usize = 64 * 1024;
/// Bytes all templated keys together may render to; a Secret must stay under 1 MiB.
pub(crate) const MAX_RENDERED_TOTAL: usize = 512 * 1024;
/// Instruction budget of one key: a template is a few filters, not a program.
const FUEL: u64 = 20_000;

/// Filters a template may use. All are ours, so each can refuse an oversized result.
pub(crate) const FILTERS: [&str; 7] = [
    "base64",
    "urlencode",
    "lower",
    "upper",
    "trim",
    "replace",
    "length",
];

/// The variables holding the secret itself.
const SECRET_VARIABLES: [&str; 2] = ["password", "secret"];

/// Why a template cannot be used. The text never holds a value: only kinds, names written in
/// the template itself, and positions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TemplateError {
    #[error("not allowed in Secret templates: {what} (line {line})")]
    NotAllowed { what: String, line: usize },
    #[error("unknown variable `{name}` (line {line}); known: {known}")]
    UnknownVariable {
        name: String,
        line: usize,
        known: String,
    },
    #[error("syntax error (line {line})")]
    Syntax { line: usize },
    #[error("{kind} while rendering (line {line})")]
    Render { kind: String, line: usize },
    #[error("the template is longer than {MAX_TEMPLATE_SOURCE} bytes")]
    SourceTooLong,
    #[error("renders to more than {limit} bytes")]
    TooLarge { limit: usize },
}

/// The values a template sees, by name.
pub(crate) type Variables<'a> = BTreeMap<&'static str, &'a str>;

/// Checks a template against the allowlist without running it. `known` are the variable names.
pub(crate) fn check(source: &str, known: &[&str]) -> Result<(), TemplateError> {
    if source.len() > MAX_TEMPLATE_SOURCE {
        return Err(TemplateError::SourceTooLong);
    }
    let tree = parse(
        source,
        "<template>",
        SyntaxConfig,
        WhitespaceConfig::default(),
    )
    .map_err(|e| TemplateError::Syntax {
        line: e.line().unwrap_or(0),
    })?;
    Checker { known }.stmt(&tree)
}

/// Renders a checked template with `vars`, within the limits. `budget` is what the Secret's other
/// templated keys have left of [`MAX_RENDERED_TOTAL`].
pub(crate) fn render(
    source: &str,
    vars: &Variables<'_>,
    budget: usize,
) -> Result<String, TemplateError> {
    let known: Vec<&str> = vars.keys().copied().collect();
    check(source, &known)?;
    let mut env = minijinja::Environment::empty();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.add_filter("base64", |v: String| {
        bounded(base64::engine::general_purpose::STANDARD.encode(v.as_bytes()))
    });
    // Jinja's urlencode keeps `/`, which breaks a password placed in a URL's userinfo
    // (`https://user:pa/ss@host`). Ours escapes everything but RFC 3986 unreserved characters.
    env.add_filter("urlencode", |v: String| {
        bounded(percent_encoding::utf8_percent_encode(&v, URL_COMPONENT).to_string())
    });
    env.add_filter("lower", |v: String| v.to_lowercase());
    env.add_filter("upper", |v: String| v.to_uppercase());
    env.add_filter("trim", |v: String| v.trim().to_string());
    env.add_filter("length", |v: String| v.chars().count());
    env.add_filter("replace", |v: String, from: String, to: String| {
        // An empty `from` matches between every character.
        let count = if from.is_empty() {
            v.chars().count() + 1
        } else {
            v.matches(from.as_str()).count()
        };
        let grown = to.len().saturating_sub(from.len()).saturating_mul(count);
        if v.len().saturating_add(grown) > MAX_RENDERED_VALUE {
            return Err(too_large());
        }
        Ok(v.replace(from.as_str(), &to))
    });
    let limit = budget.min(MAX_RENDERED_VALUE);
    let template = env
        .template_from_str(source)
        .map_err(|e| TemplateError::Syntax {
            line: e.line().unwrap_or(0),
        })?;
    let mut out = Limited {
        buf: Vec::new(),
        limit,
        overflowed: false,
    };
    match template.render_captured_to(vars, &mut out) {
        Ok(_) => String::from_utf8(out.buf).map_err(|_| TemplateError::Render {
            kind: "invalid UTF-8 output".into(),
            line: 0,
        }),
        Err(e) if out.overflowed || is_too_large(&e) => Err(TemplateError::TooLarge { limit }),
        Err(e) => Err(TemplateError::Render {
            kind: kind_text(e.kind()),
            line: e.line().unwrap_or(0),
        }),
    }
}

/// What `urlencode` escapes: all but RFC 3986 unreserved characters.
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const TOO_LARGE: &str = "value over the size limit";

fn too_large() -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, TOO_LARGE)
}

fn is_too_large(e: &minijinja::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if error
            .downcast_ref::<minijinja::Error>()
            .is_some_and(|e| e.detail().is_some_and(|d| d.contains(TOO_LARGE)))
        {
            return true;
        }
        source = error.source();
    }
    false
}

fn bounded(value: String) -> Result<String, minijinja::Error> {
    if value.len() > MAX_RENDERED_VALUE {
        Err(too_large())
    } else {
        Ok(value)
    }
}

/// The error kind's own fixed text (never the detail, which can quote values).
fn kind_text(kind: minijinja::ErrorKind) -> String {
    use minijinja::ErrorKind as K;
    match kind {
        K::UndefinedError => "undefined value",
        K::InvalidOperation => "invalid operation",
        K::OutOfFuel => "execution budget exhausted",
        K::UnknownFilter => "unknown filter",
        K::MissingArgument | K::TooManyArguments => "wrong number of arguments",
        K::SyntaxError => "syntax error",
        _ => "template error",
    }
    .to_string()
}

/// An output that refuses to grow past `limit`.
struct Limited {
    buf: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl io::Write for Limited {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.limit {
            self.overflowed = true;
            return Err(io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Checker<'k> {
    known: &'k [&'k str],
}

fn line(span: minijinja::machinery::Span) -> usize {
    usize::from(span.start_line)
}

fn refuse<T>(
    what: impl Into<String>,
    span: minijinja::machinery::Span,
) -> Result<T, TemplateError> {
    Err(TemplateError::NotAllowed {
        what: what.into(),
        line: line(span),
    })
}

impl Checker<'_> {
    fn stmts(&self, body: &[Stmt<'_>]) -> Result<(), TemplateError> {
        body.iter().try_for_each(|s| self.stmt(s))
    }

    fn stmt(&self, stmt: &Stmt<'_>) -> Result<(), TemplateError> {
        match stmt {
            Stmt::Template(t) => self.stmts(&t.children),
            Stmt::EmitRaw(_) => Ok(()),
            Stmt::EmitExpr(e) => self.expr(&e.expr, false),
            Stmt::IfCond(c) => {
                self.expr(&c.expr, true)?;
                self.stmts(&c.true_body)?;
                self.stmts(&c.false_body)
            }
            Stmt::ForLoop(s) => refuse("a `for` loop", s.span()),
            Stmt::WithBlock(s) => refuse("a `with` block", s.span()),
            Stmt::Set(s) => refuse("`set`", s.span()),
            Stmt::SetBlock(s) => refuse("`set`", s.span()),
            Stmt::AutoEscape(s) => refuse("`autoescape`", s.span()),
            Stmt::FilterBlock(s) => refuse("a `filter` block", s.span()),
            Stmt::Block(s) => refuse("`block`", s.span()),
            Stmt::Import(s) => refuse("`import`", s.span()),
            Stmt::FromImport(s) => refuse("`import`", s.span()),
            Stmt::Extends(s) => refuse("`extends`", s.span()),
            Stmt::Include(s) => refuse("`include`", s.span()),
            Stmt::Macro(s) => refuse("`macro`", s.span()),
            Stmt::CallBlock(s) => refuse("`call`", s.span()),
            Stmt::Do(s) => refuse("`do`", s.span()),
        }
    }

    /// `tested`: the value decides something (a condition, a comparison, a length) rather than
    /// being output. The secret may not be tested: a template that behaves differently for the
    /// real secret than for the dry run's placeholder would get past the pre-flight.
    fn expr(&self, expr: &Expr<'_>, tested: bool) -> Result<(), TemplateError> {
        match expr {
            Expr::Var(v) if tested && SECRET_VARIABLES.contains(&v.id) => refuse(
                format!("using `{}` in a condition, comparison or `length`", v.id),
                v.span(),
            ),
            Expr::Var(v) => {
                if self.known.contains(&v.id) {
                    Ok(())
                } else {
                    Err(TemplateError::UnknownVariable {
                        name: v.id.to_string(),
                        line: line(v.span()),
                        known: self.known.join(", "),
                    })
                }
            }
            Expr::Const(c) => match c.value.kind() {
                ValueKind::String | ValueKind::Number | ValueKind::Bool | ValueKind::None => Ok(()),
                _ => refuse("a non-scalar literal", c.span()),
            },
            Expr::UnaryOp(u) => match u.op {
                UnaryOpKind::Not => self.expr(&u.expr, true),
                UnaryOpKind::Neg => refuse("arithmetic", u.span()),
            },
            Expr::BinOp(b) => match b.op {
                BinOpKind::Eq
                | BinOpKind::Ne
                | BinOpKind::ScAnd
                | BinOpKind::ScOr
                | BinOpKind::In => {
                    self.expr(&b.left, true)?;
                    self.expr(&b.right, true)
                }
                BinOpKind::Concat => {
                    self.expr(&b.left, tested)?;
                    self.expr(&b.right, tested)
                }
                BinOpKind::Mul | BinOpKind::Pow => refuse("the `*` and `**` operators", b.span()),
                _ => refuse("arithmetic and ordering operators", b.span()),
            },
            Expr::Compare(c) => {
                self.expr(&c.expr, true)?;
                for op in &c.ops {
                    match op.op {
                        ast::CompareOpKind::Eq | ast::CompareOpKind::Ne => {
                            self.expr(&op.expr, true)?
                        }
                        _ => return refuse("ordering comparisons", c.span()),
                    }
                }
                Ok(())
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr, true)?;
                self.expr(&i.true_expr, tested)?;
                i.false_expr
                    .as_ref()
                    .map_or(Ok(()), |e| self.expr(e, tested))
            }
            Expr::Filter(f) => {
                if !FILTERS.contains(&f.name) {
                    return refuse(
                        format!("filter `{}` (allowed: {})", f.name, FILTERS.join(", ")),
                        f.span(),
                    );
                }
                if let Some(e) = &f.expr {
                    self.expr(e, tested || f.name == "length")?;
                }
                self.args(&f.args, f.span())
            }
            Expr::Test(t) => refuse(format!("test `{}`", t.name), t.span()),
            Expr::GetAttr(g) => refuse("attribute access", g.span()),
            Expr::GetItem(g) => refuse("item access", g.span()),
            Expr::Slice(s) => refuse("slicing", s.span()),
            Expr::Call(c) => refuse("function calls", c.span()),
            Expr::List(l) => refuse("list literals", l.span()),
            Expr::Map(m) => refuse("map literals", m.span()),
        }
    }

    fn args(
        &self,
        args: &[CallArg<'_>],
        span: minijinja::machinery::Span,
    ) -> Result<(), TemplateError> {
        for arg in args {
            match arg {
                CallArg::Pos(e) => self.expr(e, true)?,
                _ => return refuse("keyword and splat arguments", span),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
