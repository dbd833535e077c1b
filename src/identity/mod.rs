//! Least privilege: the AWS identity each resource mints its credentials through.
//!
//! The platform team defines `IAMIdentity` objects ([`api`]); [`resolve`] decides which one a
//! resource uses (or the operator's own), [`sessions`] assumes their roles and hands out IAM
//! clients signed with those sessions, and [`status`] reports on each identity.

pub mod api;
pub mod binding;
pub mod read;
pub mod resolve;
pub mod sessions;
pub mod status;

pub use api::{IAMIdentity, IAMIdentitySpec, IDENTITY_ANNOTATION};
pub use binding::IdentityBinding;
pub use resolve::{AmbientPolicy, Chain, Resolved};
pub use sessions::{AwsDirectory, Directory, Fixed, SessionError};
