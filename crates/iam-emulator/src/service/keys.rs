//! Access keys of IAM users (`CreateAccessKey`, `ListAccessKeys`, `DeleteAccessKey`): the keys made here sign
//! requests as their user.

use super::{Output, Service, target_user, unique};
use crate::clock::iso8601;
use crate::error::ApiError;
use crate::ids::{access_key_id, secret_access_key};
use crate::protocol::{Node, Params};
use crate::store::{State, StoredAccessKey};
use crate::validate::identity as v;

/// IAM's quota of access keys per user.
pub const ACCESS_KEYS_PER_USER: usize = 2;

fn no_such_key(id: &str) -> ApiError {
    ApiError::new(
        404,
        "NoSuchEntity",
        format!("The Access Key with id {id} cannot be found."),
    )
}

impl Service {
    pub(super) fn create_access_key(
        &self,
        p: &Params,
        caller: Option<&str>,
    ) -> Result<Output, ApiError> {
        let name = target_user(v::optional_user(p)?, caller)?;
        let now = self.clock.now();
        self.store.mutate(|s| {
            let user = s
                .user(&name)
                .ok_or_else(|| ApiError::no_such_user(&name))?
                .clone();
            let key = State::user_key(&user.name);
            if s.access_keys.values().filter(|k| k.user_key == key).count() >= ACCESS_KEYS_PER_USER
            {
                return Err(ApiError::quota("AccessKeysPerUser", ACCESS_KEYS_PER_USER));
            }
            let stored = StoredAccessKey {
                id: unique(
                    || access_key_id("AKIA"),
                    |id| s.access_keys.contains_key(id),
                ),
                user_key: key,
                secret: secret_access_key(),
                create_date: now,
                active: true,
            };
            let node = Node::Branch(
                "AccessKey",
                vec![
                    Node::leaf("UserName", &user.name),
                    Node::leaf("AccessKeyId", &stored.id),
                    Node::leaf("Status", "Active"),
                    Node::Secret("SecretAccessKey", stored.secret.clone()),
                    Node::leaf("CreateDate", iso8601(now)),
                ],
            );
            s.access_keys.insert(stored.id.clone(), stored);
            Ok(Output::Tree(vec![node]))
        })
    }

    pub(super) fn list_access_keys(
        &self,
        p: &Params,
        caller: Option<&str>,
    ) -> Result<Output, ApiError> {
        let name = target_user(v::optional_user(p)?, caller)?;
        self.store.read(|s| {
            let user = s.user(&name).ok_or_else(|| ApiError::no_such_user(&name))?;
            let key = State::user_key(&user.name);
            let members = s
                .access_keys
                .values()
                .filter(|k| k.user_key == key)
                .map(|k| {
                    Node::Branch(
                        "member",
                        vec![
                            Node::leaf("UserName", &user.name),
                            Node::leaf("AccessKeyId", &k.id),
                            Node::leaf("Status", if k.active { "Active" } else { "Inactive" }),
                            Node::leaf("CreateDate", iso8601(k.create_date)),
                        ],
                    )
                })
                .collect();
            Ok(Output::Tree(vec![
                Node::Branch("AccessKeyMetadata", members),
                Node::leaf("IsTruncated", "false"),
            ]))
        })
    }

    pub(super) fn delete_access_key(
        &self,
        p: &Params,
        caller: Option<&str>,
    ) -> Result<Output, ApiError> {
        let input = v::access_key(p)?;
        let name = target_user(input.user_name, caller)?;
        self.store.mutate(|s| {
            let user = s.user(&name).ok_or_else(|| ApiError::no_such_user(&name))?;
            let key = State::user_key(&user.name);
            match s.access_keys.get(&input.access_key_id) {
                Some(k) if k.user_key == key => {
                    s.access_keys.remove(&input.access_key_id);
                    Ok(Output::Empty)
                }
                _ => Err(no_such_key(&input.access_key_id)),
            }
        })
    }
}
