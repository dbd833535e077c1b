//! The five service-specific-credential calls through aws-sdk-iam, and what IAM's
//! answers become.

use super::*;

/// The Marker of the next page of a List answer, if there is one.
pub(super) fn next_marker(
    page: &aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsOutput,
) -> Option<String> {
    page.marker()
        .filter(|next| page.is_truncated() && !next.is_empty())
        .map(str::to_string)
}

pub(super) fn timestamp(dt: &aws_smithy_types::DateTime) -> Timestamp {
    Timestamp::new(dt.secs(), dt.subsec_nanos() as i32).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(super) fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

pub(super) fn issued(c: &aws_sdk_iam::types::ServiceSpecificCredential) -> IssuedCredential {
    let secret = c
        .service_credential_secret()
        .map(str::to_string)
        .or_else(|| non_empty(c.service_password()))
        .unwrap_or_default();
    IssuedCredential {
        metadata: CredentialMetadata {
            id: c.service_specific_credential_id().to_string(),
            user_name: c.user_name().to_string(),
            service_name: c.service_name().to_string(),
            service_user_name: non_empty(c.service_user_name()),
            alias: c.service_credential_alias().and_then(non_empty),
            status: CredentialStatus::from_sdk(c.status()),
            create_date: timestamp(c.create_date()),
            expiration_date: c.expiration_date().map(timestamp),
        },
        secret: SecretValue::new(secret),
    }
}

pub(super) fn metadata(
    c: &aws_sdk_iam::types::ServiceSpecificCredentialMetadata,
) -> CredentialMetadata {
    CredentialMetadata {
        id: c.service_specific_credential_id().to_string(),
        user_name: c.user_name().to_string(),
        service_name: c.service_name().to_string(),
        service_user_name: non_empty(c.service_user_name()),
        alias: c.service_credential_alias().and_then(non_empty),
        status: CredentialStatus::from_sdk(c.status()),
        create_date: timestamp(c.create_date()),
        expiration_date: c.expiration_date().map(timestamp),
    }
}

#[async_trait]
impl Iam for AwsIam {
    async fn create(
        &self,
        user: &str,
        service: &str,
        credential_age_days: Option<i32>,
    ) -> Result<IssuedCredential, IamError> {
        let waited = self.admit().await;
        // Never retried by the SDK: a retry after a lost answer could make a second credential
        // nobody knows of. A failed attempt is resolved by the reconcile loop instead, which finds
        // the credential the attempt may have made (see `plan::adoption_candidates`) — within the
        // adoption window, which the operation timeout keeps this call inside.
        let once = aws_sdk_iam::config::Builder::default()
            .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_iam::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(CREATE_TIMEOUT)
                    .operation_timeout(CREATE_TIMEOUT)
                    .build(),
            );
        let result = self
            .client
            .create_service_specific_credential()
            .user_name(user)
            .service_name(service)
            .set_credential_age_days(credential_age_days)
            .customize()
            .config_override(once)
            .send()
            .await
            .map_err(|e| classify_sdk(e, user, Some(service), None))
            .and_then(|out| {
                out.service_specific_credential()
                    .map(issued)
                    .ok_or_else(|| IamError::Unavailable {
                        message: "IAM answered Create without a credential".into(),
                    })
            });
        self.record("CreateServiceSpecificCredential", &result, waited);
        self.after_write(user, Some(service), &result, |list, issued| {
            // A snapshot fetched meanwhile may already hold it.
            list.retain(|c| c.id != issued.metadata.id);
            list.push(issued.metadata.clone())
        });
        result
    }

    async fn list(&self, user: &str, service: &str) -> Result<Vec<CredentialMetadata>, IamError> {
        let key = Self::key(user, service);
        if let Some((at, cached)) = self
            .caches
            .list_cache
            .lock()
            .expect("list cache lock")
            .get(&key)
            && at.elapsed() < self.list_cache_ttl
        {
            return Ok(cached.clone());
        }
        tracing::debug!(user, service, "listing the user's credentials");
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let waited = self.admit().await;
            let result = self
                .client
                .list_service_specific_credentials()
                .user_name(user)
                .service_name(service)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| classify_sdk(e, user, Some(service), None));
            self.record("ListServiceSpecificCredentials", &result, waited);
            let page = result?;
            all.extend(page.service_specific_credentials().iter().map(metadata));
            marker = next_marker(&page);
            if marker.is_none() {
                break;
            }
        }
        self.snapshots().listed(service, user, &all);
        self.caches
            .list_cache
            .lock()
            .expect("list cache lock")
            .insert(key, (Instant::now(), all.clone()));
        Ok(all)
    }

    async fn list_recent(
        &self,
        user: &str,
        service: &str,
        max_age: Duration,
        priority: Priority,
    ) -> Result<Listing, IamError> {
        if let snapshot::Answer::Listed(credentials) = self
            .snapshot_answer(user, service, max_age, priority)
            .await?
        {
            return Ok(Listing {
                credentials,
                from_snapshot: true,
            });
        }
        self.list(user, service).await.map(Listing::exact)
    }

    async fn reset(&self, user: &str, id: &str) -> Result<IssuedCredential, IamError> {
        let waited = self.admit().await;
        let result = self
            .client
            .reset_service_specific_credential()
            .user_name(user)
            .service_specific_credential_id(id)
            .send()
            .await
            .map_err(|e| classify_sdk(e, user, None, Some(id)))
            .and_then(|out| {
                out.service_specific_credential()
                    .map(issued)
                    .ok_or_else(|| IamError::Unavailable {
                        message: "IAM answered Reset without a credential".into(),
                    })
            });
        self.record("ResetServiceSpecificCredential", &result, waited);
        self.after_write(user, None, &result, |list, issued| {
            for c in list.iter_mut().filter(|c| c.id == issued.metadata.id) {
                *c = issued.metadata.clone();
            }
        });
        result
    }

    async fn update_status(&self, user: &str, id: &str, active: bool) -> Result<(), IamError> {
        let waited = self.admit().await;
        let status = if active {
            StatusType::Active
        } else {
            StatusType::Inactive
        };
        let result = self
            .client
            .update_service_specific_credential()
            .user_name(user)
            .service_specific_credential_id(id)
            .status(status)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_sdk(e, user, None, Some(id)));
        self.record("UpdateServiceSpecificCredential", &result, waited);
        self.after_write(user, None, &result, |list, _| {
            for c in list.iter_mut().filter(|c| c.id == id) {
                c.status = if active {
                    CredentialStatus::Active
                } else {
                    CredentialStatus::Inactive
                };
            }
        });
        result
    }

    async fn delete(&self, user: &str, id: &str) -> Result<(), IamError> {
        let waited = self.admit().await;
        let result = self
            .client
            .delete_service_specific_credential()
            .user_name(user)
            .service_specific_credential_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_sdk(e, user, None, Some(id)));
        self.record("DeleteServiceSpecificCredential", &result, waited);
        self.after_write(user, None, &result, |list, _| list.retain(|c| c.id != id));
        result
    }
}
