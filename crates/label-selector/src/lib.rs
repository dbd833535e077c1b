//! Label selectors (`team=a,tier in (gold, silver),!legacy`) parsed and matched as kube-apiserver
//! does (`k8s.io/apimachinery/pkg/labels`: its lexer, parser, `NewRequirement` checks and
//! messages). One parser for the workspace: the operator checks `--shard-selector` and matches
//! namespace selectors with it, and the API stand-in serves `labelSelector` with it.
//! (kube-core builds selectors but does not parse them.)

pub mod validation;

/// A requirement's operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `k=v`, `k==v`
    Equals,
    /// `k!=v`
    NotEquals,
    /// `k in (a, b)`
    In,
    /// `k notin (a, b)`
    NotIn,
    /// `k`
    Exists,
    /// `!k`
    DoesNotExist,
    /// `k>n`
    GreaterThan,
    /// `k<n`
    LessThan,
}

/// One requirement: a key, an operator and its values (none for `Exists` and `DoesNotExist`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// Requirements that must all hold; none selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// Whether it has no requirement (it selects everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether labels, read through `label`, satisfy every requirement.
    pub fn matches<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| r.matches(&label))
    }

    /// The keys its requirements read, once each, in order.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for r in &self.requirements {
            if !keys.contains(&r.key) {
                keys.push(r.key.clone());
            }
        }
        keys
    }
}

impl Requirement {
    fn matches<'a>(&self, label: &impl Fn(&str) -> Option<&'a str>) -> bool {
        let value = label(&self.key);
        let listed = || value.is_some_and(|v| self.values.iter().any(|x| x == v));
        let compare = |ordering: std::cmp::Ordering| {
            let bound = self.values.first().and_then(|v| v.parse::<i64>().ok());
            match (value.and_then(|v| v.parse::<i64>().ok()), bound) {
                (Some(have), Some(bound)) => have.cmp(&bound) == ordering,
                _ => false,
            }
        };
        match self.operator {
            Operator::Equals | Operator::In => listed(),
            Operator::NotEquals | Operator::NotIn => !listed(),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan => compare(std::cmp::Ordering::Greater),
            Operator::LessThan => compare(std::cmp::Ordering::Less),
        }
    }
}

/// Parses a selector as `labels.Parse` does; the error is kube-apiserver's message.
pub fn parse(selector: &str) -> Result<Selector, String> {
    Parser {
        tokens: lex(selector),
        at: 0,
    }
    .parse()
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Identifier(String),
    /// `!`
    Not,
    NotEquals,
    Equals,
    DoubleEquals,
    GreaterThan,
    LessThan,
    OpenPar,
    ClosedPar,
    Comma,
    End,
}

impl Token {
    /// The text the messages quote.
    fn literal(&self) -> &str {
        match self {
            Token::Identifier(s) => s,
            Token::Not => "!",
            Token::NotEquals => "!=",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::GreaterThan => ">",
            Token::LessThan => "<",
            Token::OpenPar => "(",
            Token::ClosedPar => ")",
            Token::Comma => ",",
            Token::End => "",
        }
    }
}

/// `labels.Lexer`: whitespace separates; `!=()<>,` are symbols; anything else runs into an
/// identifier.
fn lex(input: &str) -> Vec<Token> {
    let special = |c: char| matches!(c, '!' | '=' | '(' | ')' | ',' | '>' | '<');
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            '!' if chars.next_if_eq(&'=').is_some() => Token::NotEquals,
            '!' => Token::Not,
            '=' if chars.next_if_eq(&'=').is_some() => Token::DoubleEquals,
            '=' => Token::Equals,
            '>' => Token::GreaterThan,
            '<' => Token::LessThan,
            '(' => Token::OpenPar,
            ')' => Token::ClosedPar,
            ',' => Token::Comma,
            c => {
                let mut word = c.to_string();
                while let Some(next) = chars.next_if(|n| !n.is_whitespace() && !special(*n)) {
                    word.push(next);
                }
                Token::Identifier(word)
            }
        };
        tokens.push(token);
    }
    tokens.push(Token::End);
    tokens
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn lookahead(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn consume(&mut self) -> Token {
        let token = self.lookahead().clone();
        self.at += 1;
        token
    }

    fn parse(mut self) -> Result<Selector, String> {
        let mut requirements = Vec::new();
        loop {
            match self.lookahead() {
                Token::Identifier(_) | Token::Not => {
                    requirements.push(self.requirement()?);
                    match self.consume() {
                        Token::End => break,
                        Token::Comma => match self.lookahead() {
                            Token::Identifier(_) | Token::Not => {}
                            other => {
                                return Err(format!(
                                    "found '{}', expected: identifier after ','",
                                    other.literal()
                                ));
                            }
                        },
                        other => {
                            return Err(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                other.literal()
                            ));
                        }
                    }
                }
                Token::End => break,
                other => {
                    return Err(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        other.literal()
                    ));
                }
            }
        }
        Ok(Selector { requirements })
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let negated = self.lookahead() == &Token::Not;
        if negated {
            self.consume();
        }
        let key = match self.consume() {
            Token::Identifier(key) => key,
            other => {
                return Err(format!("found '{}', expected: identifier", other.literal()));
            }
        };
        check_key(&key)?;
        if negated || matches!(self.lookahead(), Token::End | Token::Comma) {
            let operator = if negated {
                Operator::DoesNotExist
            } else {
                Operator::Exists
            };
            return Ok(Requirement {
                key,
                operator,
                values: Vec::new(),
            });
        }
        let operator = match self.consume() {
            Token::Identifier(word) if word == "in" => Operator::In,
            Token::Identifier(word) if word == "notin" => Operator::NotIn,
            Token::Equals | Token::DoubleEquals => Operator::Equals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            other => {
                return Err(format!(
                    "found '{}', expected: [!= < = == > in notin]",
                    other.literal()
                ));
            }
        };
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => vec![self.exact_value()?],
        };
        requirement(key, operator, values)
    }

    /// `( a, b )`; `in` and `notin` are values here.
    fn value_set(&mut self) -> Result<Vec<String>, String> {
        match self.consume() {
            Token::OpenPar => {}
            other => return Err(format!("found '{}', expected: '('", other.literal())),
        }
        let mut values: Vec<String> = Vec::new();
        let add = |values: &mut Vec<String>, v: String| {
            if !values.contains(&v) {
                values.push(v);
            }
        };
        match self.lookahead() {
            Token::ClosedPar => {
                self.consume();
                return Ok(values);
            }
            Token::Identifier(_) | Token::Comma => {}
            other => {
                return Err(format!(
                    "found '{}', expected: ',', ')' or identifier",
                    other.literal()
                ));
            }
        }
        loop {
            match self.consume() {
                Token::Identifier(value) => {
                    add(&mut values, value);
                    match self.lookahead() {
                        Token::Comma => {
                            self.consume();
                            if self.lookahead() == &Token::ClosedPar {
                                add(&mut values, String::new());
                            }
                        }
                        Token::ClosedPar => {}
                        other => {
                            return Err(format!(
                                "found '{}', expected: ',' or ')'",
                                other.literal()
                            ));
                        }
                    }
                }
                Token::Comma => {
                    // `(,` and `,,` hold an empty value.
                    add(&mut values, String::new());
                    if self.lookahead() == &Token::ClosedPar {
                        add(&mut values, String::new());
                    }
                }
                Token::ClosedPar => return Ok(values),
                other => {
                    return Err(format!(
                        "found '{}', expected: ',', or identifier",
                        other.literal()
                    ));
                }
            }
        }
    }

    /// The one value of `=`, `==`, `!=`, `>`, `<`: empty at the end or before a comma.
    fn exact_value(&mut self) -> Result<String, String> {
        if matches!(self.lookahead(), Token::End | Token::Comma) {
            return Ok(String::new());
        }
        match self.consume() {
            Token::Identifier(value) => Ok(value),
            other => Err(format!("found '{}', expected: identifier", other.literal())),
        }
    }
}

fn check_key(key: &str) -> Result<(), String> {
    let errors = validation::is_qualified_name(key);
    if errors.is_empty() {
        return Ok(());
    }
    Err(format!(
        "unable to parse requirement: key: Invalid value: \"{key}\": {}",
        errors.join("; ")
    ))
}

/// `labels.NewRequirement`'s checks of the values.
fn requirement(
    key: String,
    operator: Operator,
    values: Vec<String>,
) -> Result<Requirement, String> {
    let invalid = |detail: &str| format!("unable to parse requirement: {detail}");
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            return Err(invalid(
                "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty",
            ));
        }
        Operator::GreaterThan | Operator::LessThan
            if values.first().is_none_or(|v| v.parse::<i64>().is_err()) =>
        {
            return Err(invalid(&format!(
                "values[0]: Invalid value: \"{}\": for 'Gt', 'Lt' operators, the value must be an integer",
                values.first().map_or("", String::as_str)
            )));
        }
        _ => {}
    }
    for (i, value) in values.iter().enumerate() {
        let errors = validation::is_valid_label_value(value);
        if !errors.is_empty() {
            return Err(invalid(&format!(
                "values[{i}][{key}]: Invalid value: \"{value}\": {}",
                errors.join("; ")
            )));
        }
    }
    Ok(Requirement {
        key,
        operator,
        values,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn labels() -> BTreeMap<&'static str, &'static str> {
        BTreeMap::from([("team", "a"), ("tier", "prod"), ("replicas", "3")])
    }

    fn matches(selector: &str) -> bool {
        let labels = labels();
        parse(selector)
            .unwrap_or_else(|e| panic!("{selector:?}: {e}"))
            .matches(|k| labels.get(k).copied())
    }

    #[test]
    fn selectors_match_labels_as_kube_apiserver_does() {
        for yes in [
            "",
            "team=a",
            "team==a,tier",
            "team in (a, b),!missing",
            "tier notin (dev)",
            "team\tin (a)",
            "team in(a,b)",
            "replicas>2",
            "replicas<4",
            "missing!=x",
            "missing notin (x)",
        ] {
            assert!(matches(yes), "{yes:?} should match");
        }
        for no in [
            "team!=a",
            "team=b",
            "missing",
            "team notin (a)",
            "!team",
            "replicas>3",
            "team>1",
            "missing<9",
        ] {
            assert!(!matches(no), "{no:?} should not match");
        }
    }

    #[test]
    fn requirements_are_read_with_their_operators_and_values() {
        let s = parse("a=1, b == 2,c!=3,d in (x,y,x),e notin (in),f,!g,h>1,i<2,j=").unwrap();
        let ops: Vec<(&str, Operator, Vec<&str>)> = s
            .requirements
            .iter()
            .map(|r| {
                (
                    r.key.as_str(),
                    r.operator,
                    r.values.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        use Operator::*;
        assert_eq!(
            ops,
            [
                ("a", Equals, vec!["1"]),
                ("b", Equals, vec!["2"]),
                ("c", NotEquals, vec!["3"]),
                ("d", In, vec!["x", "y"]),
                ("e", NotIn, vec!["in"]),
                ("f", Exists, vec![]),
                ("g", DoesNotExist, vec![]),
                ("h", GreaterThan, vec!["1"]),
                ("i", LessThan, vec!["2"]),
                ("j", Equals, vec![""]),
            ]
        );
        assert_eq!(
            parse("shard in (a, b),shard!=c,tier").unwrap().keys(),
            ["shard", "tier"]
        );
        // Empty values inside a set, as labels.Parse reads them.
        assert_eq!(
            parse("k in (,a)").unwrap().requirements[0].values,
            ["", "a"]
        );
        assert_eq!(
            parse("k in (a,)").unwrap().requirements[0].values,
            ["a", ""]
        );
    }

    #[test]
    fn malformed_selectors_are_refused_with_kube_apiserver_s_reason() {
        for (bad, reason) in [
            ("shard=a,", "found '', expected: identifier after ','"),
            ("shard in (a", "found '', expected: ',' or ')'"),
            ("shard in a,b", "found 'a', expected: '('"),
            ("-shard=a", "key: Invalid value: \"-shard\""),
            ("shard=a b", "found 'b', expected: ',' or 'end of string'"),
            ("Bad_Prefix/x=y", "prefix part"),
            ("shard=(a)", "found '(', expected: identifier"),
            ("shard in ()", "values set can't be empty"),
            ("shard notin ( )", "values set can't be empty"),
            (
                "==",
                "found '==', expected: !, identifier, or 'end of string'",
            ),
            ("a=b=c", "found '=', expected: ',' or 'end of string'"),
            ("a>b", "the value must be an integer"),
            ("a in (b c)", "found 'c', expected: ',' or ')'"),
            ("a==x y", "expected: ',' or 'end of string'"),
            ("!", "found '', expected: identifier"),
            ("a=((", "found '(', expected: identifier"),
            ("a=b,,c", "found ',', expected: identifier after ','"),
            ("a=-b", "values[0][a]: Invalid value: \"-b\""),
            ("a ~ b", "found '~', expected: [!= < = == > in notin]"),
        ] {
            match parse(bad) {
                Ok(s) => panic!("{bad:?} passed as {s:?}"),
                Err(e) => assert!(e.contains(reason), "{bad:?}: {e}"),
            }
        }
    }
}
