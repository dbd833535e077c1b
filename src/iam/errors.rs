//! IAM's errors as the operator tells them apart: throttling, access, limits, a missing
//! user or credential, and what could not be classified.

use super::*;

/// IAM's answers, classified into what the reconcile loop acts on. Messages come from IAM's error
/// metadata or the transport and never hold secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
pub enum IamError {
    #[error("IAM user {user:?} does not exist")]
    UserNotFound { user: String },
    #[error("IAM does not support service-specific credentials for {service:?}")]
    ServiceNotSupported { service: String },
    #[error(
        "IAM refused a new credential: the user holds the maximum number for this service ({message})"
    )]
    LimitExceeded { message: String },
    #[error("credential {id} does not exist in IAM")]
    CredentialNotFound { id: String },
    #[error("IAM throttled the request ({message})")]
    Throttled { message: String },
    #[error("IAM denied the operator's request: {message}")]
    AccessDenied { message: String },
    #[error("IAM rejected the request: {code}: {message}")]
    Rejected { code: String, message: String },
    #[error("IAM is unavailable: {message}")]
    Unavailable { message: String },
}

impl IamError {
    /// Whether IAM certainly did not carry the request out: it answered with a refusal. Transport
    /// errors, timeouts and 5xx may hide a request that took effect.
    pub fn is_definite(&self) -> bool {
        !matches!(self, IamError::Unavailable { .. })
    }

    /// Short machine-readable code for metrics labels: the variant's name.
    pub fn code(&self) -> &'static str {
        self.into()
    }
}

/// Classifies an IAM error from its wire code, HTTP status and message.
///
/// IAM answers several different conditions with `NoSuchEntity`; the message tells them apart
/// (recorded AWS answers: "The user with name X cannot be found.", "No such service X is supported
/// for Service Specific Credentials", "No such credential X exists").
pub(crate) fn classify(
    code: Option<&str>,
    message: Option<&str>,
    http_status: Option<u16>,
    user: &str,
    service: Option<&str>,
    id: Option<&str>,
) -> IamError {
    let message = message.unwrap_or_default().to_string();
    match code {
        Some("NoSuchEntity") if message.starts_with("No such service") => {
            IamError::ServiceNotSupported {
                service: service.unwrap_or_default().to_string(),
            }
        }
        Some("NoSuchEntity") if message.starts_with("No such credential") => {
            IamError::CredentialNotFound {
                id: id.unwrap_or_default().to_string(),
            }
        }
        Some("NoSuchEntity") => IamError::UserNotFound {
            user: user.to_string(),
        },
        Some("NotSupportedService") => IamError::ServiceNotSupported {
            service: service.unwrap_or_default().to_string(),
        },
        Some("LimitExceeded") => IamError::LimitExceeded { message },
        Some(
            "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException",
        ) => IamError::Throttled { message },
        Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") => {
            IamError::AccessDenied { message }
        }
        Some(code) if http_status.is_some_and(|s| s >= 500) => IamError::Unavailable {
            message: format!("{code}: {message}"),
        },
        Some("ServiceFailure" | "ServiceUnavailable" | "InternalFailure" | "InternalError") => {
            IamError::Unavailable { message }
        }
        Some(code) => IamError::Rejected {
            code: code.to_string(),
            message,
        },
        None if http_status.is_some_and(|s| s == 429) => IamError::Throttled { message },
        None => IamError::Unavailable {
            message: if message.is_empty() {
                format!("HTTP status {}", http_status.unwrap_or_default())
            } else {
                message
            },
        },
    }
}

pub(crate) fn classify_sdk<E>(
    error: SdkError<E, HttpResponse>,
    user: &str,
    service: Option<&str>,
    id: Option<&str>,
) -> IamError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(session) = find_in_chain::<crate::identity::SessionError>(&error) {
        return session.as_iam_error();
    }
    if lacks_credentials(&error) {
        return IamError::AccessDenied {
            message: "the operator has no AWS credentials (none in its environment, profile, web identity token, container or instance metadata): give its ServiceAccount an IAM role (IRSA or EKS Pod Identity) or set AWS credentials".into(),
        };
    }
    if caused_by::<crate::fence::NotLeading>(&error) {
        return IamError::Unavailable {
            message: crate::fence::NotLeading.to_string(),
        };
    }
    match &error {
        SdkError::ServiceError(service_error) => {
            let status = Some(service_error.raw().status().as_u16());
            let err = service_error.err();
            classify(err.code(), err.message(), status, user, service, id)
        }
        SdkError::TimeoutError(_) => IamError::Unavailable {
            message: "request timed out".into(),
        },
        SdkError::DispatchFailure(failure) => IamError::Unavailable {
            message: if failure.is_timeout() {
                "request timed out".into()
            } else {
                "could not connect to the IAM endpoint".into()
            },
        },
        SdkError::ResponseError(_) => IamError::Unavailable {
            message: "unreadable response from IAM".into(),
        },
        SdkError::ConstructionFailure(_) => IamError::Rejected {
            code: "ConstructionFailure".into(),
            message: "the request could not be built (check region and credentials)".into(),
        },
        _ => IamError::Unavailable {
            message: "unexpected error talking to IAM".into(),
        },
    }
}

/// Whether the SDK failed because its credentials chain found nothing to sign with.
pub(super) fn lacks_credentials(error: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<aws_credential_types::provider::error::CredentialsError>(error)
}

/// Whether an `E` is in the error's source chain.
pub(super) fn caused_by<E: std::error::Error + 'static>(
    error: &(dyn std::error::Error + 'static),
) -> bool {
    find_in_chain::<E>(error).is_some()
}

/// The first `E` in the error's source chain.
pub(super) fn find_in_chain<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        source = e.source();
    }
    None
}
