//! IAM's size quotas for policy documents. The caller checks them (the quota depends on where the
//! document is stored). IAM counts characters without white space; the emulator counts every
//! Unicode white-space character out, wherever it is (IAM does not say whether white space inside
//! JSON strings counts).

/// A customer managed policy (each version): 6,144 characters.
pub const MANAGED_POLICY_MAX: usize = 6_144;
/// All inline policies of one user together: 2,048 characters.
pub const USER_INLINE_MAX: usize = 2_048;
/// All inline policies of one group together: 5,120 characters.
pub const GROUP_INLINE_MAX: usize = 5_120;
/// All inline policies of one role together: 10,240 characters.
pub const ROLE_INLINE_MAX: usize = 10_240;
/// A role's trust (assume-role) policy: 2,048 characters (the default quota; AWS raises it to 4,096
/// on request).
pub const TRUST_POLICY_MAX: usize = 2_048;
