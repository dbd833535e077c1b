//! AWS-shaped API errors: the wire code, HTTP status and message of every error the emulator answers with.
//!
//! Every failure on the IAM endpoint ends up as an [`ApiError`]; `protocol` renders it as
//! `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.

use std::borrow::Cow;

/// The one error type of the IAM surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// Wire `<Code>`.
    pub code: Cow<'static, str>,
    /// Wire `<Message>`; never contains secret material.
    pub message: String,
}

/// Which wire code an unsupported `ServiceName` gets (see `docs/emulator.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum UnsupportedServiceCode {
    /// `404 NoSuchEntity`, as AWS answered in the recorded 2025-03 tests.
    #[default]
    NoSuchEntity,
    /// `404 NotSupportedService`, the modeled `ServiceNotSupportedException`.
    NotSupportedService,
}

impl ApiError {
    pub fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// `Sender` for 4xx, `Receiver` for 5xx.
    pub fn fault_type(&self) -> &'static str {
        if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }

    pub fn no_such_user(name: &str) -> Self {
        Self::new(
            404,
            "NoSuchEntity",
            format!("The user with name {name} cannot be found."),
        )
    }

    /// `403 AccessDenied` in AWS's words for an identity-policy denial.
    pub fn access_denied(
        account: &str,
        caller: Option<&str>,
        action: &str,
        resource: &str,
    ) -> Self {
        let who = caller.map_or_else(
            || format!("arn:aws:sts::{account}:assumed-role/ssc-operator/session"),
            |user| format!("arn:aws:iam::{account}:user/{user}"),
        );
        Self::new(
            403,
            "AccessDenied",
            format!(
                "User: {who} is not authorized to perform: {action} on resource: arn:aws:iam::{account}:{resource} because no identity-based policy allows the {action} action"
            ),
        )
    }

    pub fn no_such_credential(id: &str) -> Self {
        Self::new(
            404,
            "NoSuchEntity",
            format!("No such credential {id} exists"),
        )
    }

    pub fn unsupported_service(name: &str, code: UnsupportedServiceCode) -> Self {
        let wire = match code {
            UnsupportedServiceCode::NoSuchEntity => "NoSuchEntity",
            UnsupportedServiceCode::NotSupportedService => "NotSupportedService",
        };
        Self::new(
            404,
            wire,
            format!("No such service {name} is supported for Service Specific Credentials"),
        )
    }

    pub fn user_exists(name: &str) -> Self {
        Self::new(
            409,
            "EntityAlreadyExists",
            format!("User with name {name} already exists."),
        )
    }

    pub fn quota(what: &str, limit: usize) -> Self {
        Self::new(
            409,
            "LimitExceeded",
            format!("Cannot exceed quota for {what}: {limit}"),
        )
    }

    pub fn delete_conflict() -> Self {
        Self::new(
            409,
            "DeleteConflict",
            "Cannot delete entity, must remove referenced objects first.",
        )
    }

    /// `409 DeleteConflict` for a user or role that still has `what` (`delete policies`, `detach all
    /// policies`, `delete access keys`).
    pub fn must_first(what: &str) -> Self {
        Self::new(
            409,
            "DeleteConflict",
            format!("Cannot delete entity, must {what} first."),
        )
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidInput", message)
    }

    /// `ValidationError` in AWS's `N validation error(s) detected: A; B` form.
    pub fn validation(violations: &[String]) -> Self {
        let n = violations.len();
        let noun = if n == 1 { "error" } else { "errors" };
        Self::new(
            400,
            "ValidationError",
            format!("{n} validation {noun} detected: {}", violations.join("; ")),
        )
    }

    /// A bare `ValidationError` with a free-form message.
    pub fn validation_message(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationError", message)
    }

    pub fn invalid_parameter_value(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameterValue", message)
    }

    pub fn malformed_query(message: impl Into<String>) -> Self {
        Self::new(400, "MalformedQueryString", message)
    }

    pub fn missing_action() -> Self {
        Self::new(400, "MissingAction", "Missing Action")
    }

    /// AWS's answer for an unknown action or an unknown/missing `Version`.
    pub fn invalid_action(action: &str, version: Option<&str>) -> Self {
        let version = version.unwrap_or("NO_VERSION_SPECIFIED");
        Self::new(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version {version}"),
        )
    }

    pub fn throttling() -> Self {
        Self::new(400, "Throttling", "Rate exceeded")
    }

    /// An injected or random server-side failure: 503 is `ServiceUnavailable`, any other 5xx `InternalFailure`.
    pub fn server_error(status: u16) -> Self {
        if status == 503 {
            Self::new(
                503,
                "ServiceUnavailable",
                "Service is unavailable. Please try again later.",
            )
        } else {
            Self::internal(status)
        }
    }

    pub fn internal(status: u16) -> Self {
        Self::new(
            status,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request body is larger than the limit of {limit} bytes."),
        )
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("The method {method} is not allowed; use GET or POST."),
        )
    }

    pub fn not_found(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("No resource at path {path}; the IAM Query API is served at /."),
        )
    }

    /// IAM's answer when an operation needs the caller's own user but the caller is no IAM user.
    pub fn no_caller_user() -> Self {
        Self::validation_message("Must specify userName when calling with non-User credentials")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_message_counts_errors() {
        let one = ApiError::validation(&["A".into()]);
        assert_eq!(one.message, "1 validation error detected: A");
        let two = ApiError::validation(&["A".into(), "B".into()]);
        assert_eq!(two.message, "2 validation errors detected: A; B");
        assert_eq!(two.status, 400);
    }

    #[test]
    fn fault_type_follows_status() {
        assert_eq!(ApiError::throttling().fault_type(), "Sender");
        assert_eq!(ApiError::server_error(503).fault_type(), "Receiver");
        assert_eq!(ApiError::server_error(503).code, "ServiceUnavailable");
        assert_eq!(ApiError::server_error(500).code, "InternalFailure");
    }

    #[test]
    fn unsupported_service_code_is_switchable() {
        let a = ApiError::unsupported_service("x", UnsupportedServiceCode::NoSuchEntity);
        let b = ApiError::unsupported_service("x", UnsupportedServiceCode::NotSupportedService);
        assert_eq!((a.status, a.code.as_ref()), (404, "NoSuchEntity"));
        assert_eq!((b.status, b.code.as_ref()), (404, "NotSupportedService"));
        assert_eq!(a.message, b.message);
    }
}
