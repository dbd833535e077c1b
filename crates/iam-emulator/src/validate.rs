//! Request validation: turns decoded [`Params`] into typed inputs, or into the error AWS gives.
//!
//! Order, as AWS's frontend does it: type conversion (integers, booleans) first, then the model constraints of
//! every member (required, length, pattern, range, enum), all reported at once in one `ValidationError` with the
//! lower-camel member names. Business checks (user exists, quota, ...) come later, in `service`.

use super::error::ApiError;
use super::protocol::Params;

pub mod identity;
pub mod sts;

/// The model patterns the emulator enforces, hand-written (no regex engine needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// `[\w+=,.@-]+`
    UserName,
    /// `[\w]+`
    CredentialId,
    /// `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`
    Path,
    /// `\u002F[\u0021-\u007F]*`
    PathPrefix,
    /// `[\u0020-\u00FF]+`
    Marker,
    /// `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`
    TagKey,
    /// `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
    TagValue,
    /// `[\u0009\u000A\u000D\u0020-\u00FF]+`
    PolicyDocument,
}

impl Pattern {
    pub fn regex(self) -> &'static str {
        match self {
            Pattern::UserName => r"[\w+=,.@-]+",
            Pattern::CredentialId => r"[\w]+",
            Pattern::Path => r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
            Pattern::PathPrefix => r"\u002F[\u0021-\u007F]*",
            Pattern::Marker => r"[\u0020-\u00FF]+",
            Pattern::TagKey => r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+",
            Pattern::TagValue => r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
            Pattern::PolicyDocument => r"[\u0009\u000A\u000D\u0020-\u00FF]+",
        }
    }

    pub fn matches(self, s: &str) -> bool {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let tag = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
        match self {
            Pattern::UserName => {
                !s.is_empty() && s.chars().all(|c| word(c) || "+=,.@-".contains(c))
            }
            Pattern::CredentialId => !s.is_empty() && s.chars().all(word),
            Pattern::Path => {
                s == "/"
                    || (s.len() >= 3
                        && s.starts_with('/')
                        && s.ends_with('/')
                        && s.chars().all(|c| ('\u{21}'..='\u{7E}').contains(&c)))
            }
            Pattern::PathPrefix => {
                s.starts_with('/') && s.chars().all(|c| ('\u{21}'..='\u{7F}').contains(&c))
            }
            Pattern::Marker => {
                !s.is_empty() && s.chars().all(|c| ('\u{20}'..='\u{FF}').contains(&c))
            }
            Pattern::TagKey => !s.is_empty() && s.chars().all(tag),
            Pattern::TagValue => s.chars().all(tag),
            Pattern::PolicyDocument => {
                !s.is_empty()
                    && s.chars()
                        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FF}'))
            }
        }
    }
}

/// `Status` of `UpdateServiceSpecificCredential`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusInput {
    Active,
    Inactive,
    Expired,
}

/// Accumulates constraint violations over one request.
struct Checker<'a> {
    params: &'a Params,
    type_error: Option<ApiError>,
    violations: Vec<String>,
    /// STS names the offending value in its messages (`Value '899' at 'durationSeconds' …`); IAM does not.
    echo_values: bool,
}

/// Constraints on one string member.
struct Str {
    required: bool,
    min: usize,
    max: usize,
    pattern: Option<Pattern>,
}

const USER_NAME: Str = Str {
    required: true,
    min: 1,
    max: 64,
    pattern: Some(Pattern::UserName),
};
const EXISTING_USER_NAME: Str = Str {
    required: true,
    min: 1,
    max: 128,
    pattern: Some(Pattern::UserName),
};
const CREDENTIAL_ID: Str = Str {
    required: true,
    min: 20,
    max: 128,
    pattern: Some(Pattern::CredentialId),
};
const MARKER: Str = Str {
    required: false,
    min: 1,
    max: 320,
    pattern: Some(Pattern::Marker),
};

impl<'a> Checker<'a> {
    fn new(params: &'a Params) -> Self {
        Self {
            params,
            type_error: None,
            violations: Vec::new(),
            echo_values: false,
        }
    }

    /// A checker whose messages name the offending value, as STS's do.
    fn echoing(mut self) -> Self {
        self.echo_values = true;
        self
    }

    fn violation(&mut self, member: &str, constraint: impl std::fmt::Display) {
        self.violations.push(format!(
            "Value at '{member}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// A violation by `value`: named in the message when the API does so.
    fn violation_of(&mut self, member: &str, value: &str, constraint: impl std::fmt::Display) {
        if self.echo_values {
            self.violations.push(format!(
                "Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
            ));
        } else {
            self.violation(member, constraint);
        }
    }

    fn null(&mut self, member: &str) {
        self.violations.push(format!(
            "Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ));
    }

    fn check_str(&mut self, member: &str, value: &str, c: &Str) {
        let len = value.chars().count();
        if len < c.min {
            self.violation_of(
                member,
                value,
                format!("Member must have length greater than or equal to {}", c.min),
            );
        }
        if len > c.max {
            self.violation_of(
                member,
                value,
                format!("Member must have length less than or equal to {}", c.max),
            );
        }
        if let Some(p) = c.pattern
            && !p.matches(value)
        {
            self.violation_of(
                member,
                value,
                format!(
                    "Member must satisfy regular expression pattern: {}",
                    p.regex()
                ),
            );
        }
    }

    fn string(&mut self, param: &str, member: &str, c: &Str) -> Option<String> {
        match self.params.get(param) {
            None => {
                if c.required {
                    self.null(member);
                }
                None
            }
            Some(v) => {
                self.check_str(member, v, c);
                Some(v.to_string())
            }
        }
    }

    /// An optional user name (`UserName` of the credential operations, where the caller is the default).
    fn optional(&mut self, param: &str, member: &str, c: &Str) -> Option<String> {
        let relaxed = Str {
            required: false,
            ..*c
        };
        self.string(param, member, &relaxed)
    }

    fn int(&mut self, param: &str, member: &str, min: i64, max: i64) -> Option<i64> {
        let raw = self.params.get(param)?;
        match raw.trim().parse::<i32>() {
            Ok(n) => {
                let n = i64::from(n);
                if n < min {
                    self.violation_of(
                        member,
                        raw,
                        format!("Member must have value greater than or equal to {min}"),
                    );
                }
                if n > max {
                    self.violation_of(
                        member,
                        raw,
                        format!("Member must have value less than or equal to {max}"),
                    );
                }
                Some(n)
            }
            Err(_) => {
                self.type_error.get_or_insert_with(|| {
                    ApiError::invalid_parameter_value(format!(
                        "Value ({raw}) for parameter {param} is invalid. Expected an integer."
                    ))
                });
                None
            }
        }
    }

    fn boolean(&mut self, param: &str) -> Option<bool> {
        let raw = self.params.get(param)?;
        if raw.eq_ignore_ascii_case("true") {
            Some(true)
        } else if raw.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            self.type_error.get_or_insert_with(|| {
                ApiError::invalid_parameter_value(format!(
                    "Value ({raw}) for parameter {param} is invalid. Expected a boolean (true or false)."
                ))
            });
            None
        }
    }

    fn finish(self) -> Result<(), ApiError> {
        if let Some(e) = self.type_error {
            return Err(e);
        }
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(&self.violations))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateUserInput {
    pub user_name: String,
    pub path: String,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<(String, String)>,
}

pub fn create_user(p: &Params) -> Result<CreateUserInput, ApiError> {
    let mut c = Checker::new(p);
    let path = c.string(
        "Path",
        "path",
        &Str {
            required: false,
            min: 1,
            max: 512,
            pattern: Some(Pattern::Path),
        },
    );
    let user_name = c.string("UserName", "userName", &USER_NAME);
    let permissions_boundary = c.string(
        "PermissionsBoundary",
        "permissionsBoundary",
        &Str {
            required: false,
            min: 20,
            max: 2048,
            pattern: None,
        },
    );
    let tags = tag_list(&mut c, p, "Tags", "tags");
    c.finish()?;
    let user_name = user_name.unwrap_or_default();
    if let Some(b) = &permissions_boundary
        && !b.starts_with("arn:")
    {
        return Err(ApiError::invalid_input(format!("ARN {b} is not valid.")));
    }
    unique_tag_keys(&tags)?;
    Ok(CreateUserInput {
        user_name,
        path: path.unwrap_or_else(|| "/".into()),
        permissions_boundary,
        tags,
    })
}

/// A `Tags.member.N.Key/Value` list (at most 50; key 1-128, value 0-256 characters). Violations go to `c`.
fn tag_list(
    c: &mut Checker<'_>,
    p: &Params,
    param: &str,
    member_name: &str,
) -> Vec<(String, String)> {
    let entries = p.member_list(param);
    if entries.len() > 50 {
        c.violation(
            member_name,
            "Member must have length less than or equal to 50",
        );
    }
    let mut tags = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let field = |name: &str| {
            entry
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let member = |f: &str| format!("{member_name}.{}.member.{f}", i + 1);
        let key = field("Key");
        let value = field("Value");
        match &key {
            None => c.null(&member("key")),
            Some(k) => c.check_str(
                &member("key"),
                k,
                &Str {
                    required: true,
                    min: 1,
                    max: 128,
                    pattern: Some(Pattern::TagKey),
                },
            ),
        }
        match &value {
            None => c.null(&member("value")),
            Some(v) => c.check_str(
                &member("value"),
                v,
                &Str {
                    required: true,
                    min: 0,
                    max: 256,
                    pattern: Some(Pattern::TagValue),
                },
            ),
        }
        if let (Some(k), Some(v)) = (key, value) {
            tags.push((k, v));
        }
    }
    tags
}

/// IAM's error for a tag list that repeats a key (keys compare case-insensitively).
fn unique_tag_keys(tags: &[(String, String)]) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    if tags.iter().all(|(k, _)| seen.insert(k.to_lowercase())) {
        Ok(())
    } else {
        Err(ApiError::invalid_input(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        ))
    }
}

/// `GetUser`: the user name is optional (the caller is the default).
pub fn get_user(p: &Params) -> Result<Option<String>, ApiError> {
    let mut c = Checker::new(p);
    let name = c.optional("UserName", "userName", &EXISTING_USER_NAME);
    c.finish()?;
    Ok(name)
}

pub fn delete_user(p: &Params) -> Result<String, ApiError> {
    let mut c = Checker::new(p);
    let name = c.string("UserName", "userName", &EXISTING_USER_NAME);
    c.finish()?;
    Ok(name.unwrap_or_default())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub marker: Option<String>,
    pub max_items: Option<usize>,
}

fn page(c: &mut Checker<'_>) -> Page {
    let marker = c.string("Marker", "marker", &MARKER);
    let max_items = c
        .int("MaxItems", "maxItems", 1, 1000)
        .and_then(|n| usize::try_from(n).ok());
    Page { marker, max_items }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUsersInput {
    pub path_prefix: Option<String>,
    pub page: Page,
}

pub fn list_users(p: &Params) -> Result<ListUsersInput, ApiError> {
    let mut c = Checker::new(p);
    let path_prefix = c.string(
        "PathPrefix",
        "pathPrefix",
        &Str {
            required: false,
            min: 1,
            max: 512,
            pattern: Some(Pattern::PathPrefix),
        },
    );
    let page = page(&mut c);
    c.finish()?;
    Ok(ListUsersInput { path_prefix, page })
}

/// A `ServiceName` as IAM takes it: `[a-zA-Z0-9.-]*` or a ValidationError, then in the case IAM stores.
fn service_name_of(raw: &str) -> Result<String, ApiError> {
    if crate::catalog::well_formed(raw) {
        Ok(crate::catalog::canonical(raw))
    } else {
        Err(ApiError::validation_message(
            "ServiceName must match [a-zA-Z0-9.-]*",
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCredentialInput {
    pub user_name: String,
    pub service_name: String,
    pub credential_age_days: Option<i64>,
}

pub fn create_credential(p: &Params) -> Result<CreateCredentialInput, ApiError> {
    let mut c = Checker::new(p);
    let age = c.int("CredentialAgeDays", "credentialAgeDays", 1, 36600);
    let user_name = c.string("UserName", "userName", &USER_NAME);
    let service_name = c.string(
        "ServiceName",
        "serviceName",
        &Str {
            required: true,
            min: 0,
            max: usize::MAX,
            pattern: None,
        },
    );
    c.finish()?;
    Ok(CreateCredentialInput {
        user_name: user_name.unwrap_or_default(),
        service_name: service_name_of(service_name.as_deref().unwrap_or_default())?,
        credential_age_days: age,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCredentialsInput {
    pub user_name: Option<String>,
    pub service_name: Option<String>,
    pub all_users: bool,
    pub page: Page,
}

pub fn list_credentials(p: &Params) -> Result<ListCredentialsInput, ApiError> {
    let mut c = Checker::new(p);
    let all_users = c.boolean("AllUsers").unwrap_or(false);
    let user_name = c.optional("UserName", "userName", &USER_NAME);
    let page = page(&mut c);
    c.finish()?;
    let service_name = p.get("ServiceName").map(service_name_of).transpose()?;
    // Live IAM's answers (iam-api.md §14); AllUsers without ServiceName lists every service.
    if all_users && user_name.is_some() {
        return Err(ApiError::invalid_input(
            "Cannot list credentials for all users if a username is given",
        ));
    }
    Ok(ListCredentialsInput {
        user_name,
        service_name,
        all_users,
        page,
    })
}

/// Reset and Delete: a credential id and an optional user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRef {
    pub user_name: Option<String>,
    pub id: String,
}

fn credential_ref(c: &mut Checker<'_>) -> (Option<String>, Option<String>) {
    let user_name = c.optional("UserName", "userName", &USER_NAME);
    let id = c.string(
        "ServiceSpecificCredentialId",
        "serviceSpecificCredentialId",
        &CREDENTIAL_ID,
    );
    (user_name, id)
}

pub fn credential(p: &Params) -> Result<CredentialRef, ApiError> {
    let mut c = Checker::new(p);
    let (user_name, id) = credential_ref(&mut c);
    c.finish()?;
    Ok(CredentialRef {
        user_name,
        id: id.unwrap_or_default(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateCredentialInput {
    pub target: CredentialRef,
    pub status: StatusInput,
}

pub fn update_credential(p: &Params) -> Result<UpdateCredentialInput, ApiError> {
    let mut c = Checker::new(p);
    let (user_name, id) = credential_ref(&mut c);
    let status = match p.get("Status") {
        None => {
            c.null("status");
            None
        }
        Some("Active") => Some(StatusInput::Active),
        Some("Inactive") => Some(StatusInput::Inactive),
        Some("Expired") => Some(StatusInput::Expired),
        Some(_) => {
            c.violation("status", "Member must satisfy enum value set");
            None
        }
    };
    c.finish()?;
    let status = status.unwrap_or(StatusInput::Active);
    if status == StatusInput::Expired {
        return Err(ApiError::invalid_input(
            "Operation does not support status Expired",
        ));
    }
    Ok(UpdateCredentialInput {
        target: CredentialRef {
            user_name,
            id: id.unwrap_or_default(),
        },
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn patterns() {
        assert!(Pattern::UserName.matches("a+b=c,d.e@f-g_1"));
        assert!(!Pattern::UserName.matches("a b"));
        assert!(!Pattern::UserName.matches(""));
        assert!(!Pattern::UserName.matches("é"));
        assert!(Pattern::CredentialId.matches("ACCA12345ABCDEXAMPLE"));
        assert!(!Pattern::CredentialId.matches("totally-wrong-credential-id-with-hyphens"));
        assert!(Pattern::Path.matches("/"));
        assert!(Pattern::Path.matches("/division/abc/"));
        assert!(!Pattern::Path.matches("//"));
        assert!(!Pattern::Path.matches("/x"));
        assert!(Pattern::PathPrefix.matches("/"));
        assert!(!Pattern::PathPrefix.matches("x/"));
        assert!(Pattern::TagKey.matches("Team name"));
        assert!(!Pattern::TagKey.matches("a*b"));
        assert!(Pattern::TagValue.matches(""));
    }

    #[test]
    fn recorded_id_pattern_message() {
        let e = credential(&params(&[(
            "ServiceSpecificCredentialId",
            "totally-wrong-credential-id-with-hyphens",
        )]))
        .unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert_eq!(
            e.message,
            r"1 validation error detected: Value at 'serviceSpecificCredentialId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w]+"
        );
    }

    #[test]
    fn recorded_status_enum_message() {
        let e = update_credential(&params(&[
            ("ServiceSpecificCredentialId", "ACCA12345ABCDEXAMPLE"),
            ("Status", "Invalid"),
        ]))
        .unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value at 'status' failed to satisfy constraint: Member must satisfy enum value set"
        );
        let e = update_credential(&params(&[
            ("ServiceSpecificCredentialId", "ACCA12345ABCDEXAMPLE"),
            ("Status", "Expired"),
        ]))
        .unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (400, "InvalidInput"));
    }

    #[test]
    fn several_violations_are_joined() {
        let long = "x".repeat(65);
        let e = create_credential(&params(&[("UserName", &long), ("CredentialAgeDays", "0")]))
            .unwrap_err();
        assert!(
            e.message.starts_with("3 validation errors detected: "),
            "{}",
            e.message
        );
        assert!(e.message.contains("'credentialAgeDays' failed to satisfy constraint: Member must have value greater than or equal to 1"));
        assert!(
            e.message
                .contains("Member must have length less than or equal to 64")
        );
        assert!(e.message.contains("Value null at 'serviceName'"));
    }

    #[test]
    fn type_errors_come_first() {
        let e = list_credentials(&params(&[("MaxItems", "ten"), ("UserName", "a b")])).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        let e = list_credentials(&params(&[("AllUsers", "yes")])).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        let e = list_credentials(&params(&[("MaxItems", "99999999999")])).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
    }

    #[test]
    fn all_users_rules() {
        let e = list_credentials(&params(&[("AllUsers", "true"), ("UserName", "a")])).unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.message.as_str()),
            (
                "InvalidInput",
                "Cannot list credentials for all users if a username is given"
            )
        );
        // Every service, as live IAM answers (iam-api.md §14).
        let all = list_credentials(&params(&[("AllUsers", "true")])).unwrap();
        assert!(all.all_users && all.service_name.is_none());
        let ok = list_credentials(&params(&[("AllUsers", "false"), ("UserName", "a")])).unwrap();
        assert!(!ok.all_users);
        let e = list_credentials(&params(&[("MaxItems", "1001")])).unwrap_err();
        assert!(
            e.message
                .contains("Member must have value less than or equal to 1000")
        );
    }

    #[test]
    fn create_user_tags() {
        let ok = create_user(&params(&[
            ("UserName", "alice"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "a"),
        ]))
        .unwrap();
        assert_eq!(ok.tags, vec![("team".into(), "a".into())]);
        assert_eq!(ok.path, "/");
        let dup = create_user(&params(&[
            ("UserName", "alice"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "a"),
            ("Tags.member.2.Key", "Team"),
            ("Tags.member.2.Value", "b"),
        ]))
        .unwrap_err();
        assert_eq!(dup.code, "InvalidInput");
        let missing = create_user(&params(&[
            ("UserName", "alice"),
            ("Tags.member.1.Key", "team"),
        ]))
        .unwrap_err();
        assert!(
            missing
                .message
                .contains("Value null at 'tags.1.member.value'")
        );
        let bad_path =
            create_user(&params(&[("UserName", "alice"), ("Path", "nope")])).unwrap_err();
        assert!(bad_path.message.contains("'path'"));
    }

    #[test]
    fn missing_required_is_null() {
        let e = delete_user(&Params::default()).unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"
        );
    }
}
