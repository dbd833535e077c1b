//! Least privilege: the AWS identity each resource mints its credentials through.
//!
//! The platform team defines `IAMIdentity` objects ([`api`]); [`resolve`] decides which one a
//! resource uses (or the operator's own), [`sessions`] assumes their roles and hands out IAM
//! clients signed with those sessions, and [`status`] reports on each identity.

pub(crate) mod api;
pub(crate) mod binding;
pub(crate) mod read;
pub(crate) mod resolve;
pub(crate) mod sessions;
pub(crate) mod status;

pub(crate) use api::{IAMIdentity, IDENTITY_ANNOTATION};
pub(crate) use binding::IdentityBinding;
pub(crate) use resolve::{AmbientPolicy, Resolved};
pub(crate) use sessions::{AwsDirectory, Directory, SessionError};
